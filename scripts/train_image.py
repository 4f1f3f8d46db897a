#!/usr/bin/env python
"""Train an ncodec image model on DATA.md's training photos (resumable; CPU or GPU; torchrun-ready).

    python scripts/fetch_data.py --split train                       # once
    python scripts/train_image.py --bottleneck hyperprior --out runs/hyper --steps 20000
    torchrun --nproc_per_node 8 scripts/train_image.py --out runs/hyper ...   # several GPUs

Running the same command again continues from ``OUT/last.pt``.  ``--export FILE.safetensors`` writes
the trained weights with their configuration.
"""

from __future__ import annotations

import argparse
import sys

from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.image.train import TrainConfig, export_weights, train
from ncodec.datasets.manifest import manifest_paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--bottleneck",
        default="hyperprior",
        choices=["hyperprior", "fsq", "rvq", "bsq", "bmshj2018-hyperprior"],
    )
    ap.add_argument(
        "--lmbda", type=float, nargs="+", help="rate-distortion lambdas (default: the MSE ladder)"
    )
    ap.add_argument("--n", type=int, default=96, help="transform channels")
    ap.add_argument("--m", type=int, default=128, help="latent channels")
    ap.add_argument("--nh", type=int, default=96, help="hyper-latent channels")
    ap.add_argument("--gain-init", type=float, default=1.0, help="initial gain of the top quality")
    ap.add_argument(
        "--context", choices=("none", "checkerboard"), default="none",
        help="hyperprior: two-pass checkerboard spatial context",
    )  # fmt: skip
    ap.add_argument(
        "--ste-decoder", action="store_true",
        help="hyperprior: the synthesis sees the rounded latent (straight-through) in training",
    )  # fmt: skip
    ap.add_argument(
        "--transform", choices=("gdn", "dct8"), default="gdn",
        help="gdn: 16x GDN transforms; dct8: a fixed 8x8 colour DCT, stride 8 (high rates)",
    )  # fmt: skip
    ap.add_argument("--init-from", default="", help="start from this checkpoint's weights (step 0)")
    ap.add_argument("--out", default="runs/image")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument(
        "--schedule", choices=("step", "cosine"), default="step",
        help="step: lr/10 after 90%% of the steps; cosine: lr to lr/100 from --lr-from to --steps",
    )  # fmt: skip
    ap.add_argument("--lr-from", type=int, default=0, help="first step of the cosine schedule")
    ap.add_argument("--ckpt-every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", nargs="*", help="training images (default: the fetched train manifest)")
    ap.add_argument("--export", help="write the final weights to this .safetensors file")
    args = ap.parse_args(argv)
    images = args.images or [str(p) for p in manifest_paths("train", media="image")]
    lambdas = {"lambdas": tuple(args.lmbda)} if args.lmbda else {}
    cfg = TrainConfig(
        model=ImageModelConfig(
            bottleneck=args.bottleneck, n=args.n, m=args.m, nh=args.nh, gain_init=args.gain_init,
            context=args.context, ste_decoder=args.ste_decoder, transform=args.transform,
            **lambdas,
        ),
        images=images, out_dir=args.out, steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
        schedule=args.schedule, lr_from=args.lr_from, init_from=args.init_from,
        ckpt_every=args.ckpt_every, seed=args.seed, threads=args.threads, device=args.device,
    )  # fmt: skip
    model = train(cfg)
    if args.export:
        export_weights(model, args.export)
        print(f"wrote {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
