#!/usr/bin/env python
"""Train ncodec's P-frame (inter) model on synthetic camera moves over DATA.md's training photos
(resumable; CPU or GPU; torchrun-ready).

    python scripts/fetch_data.py --split train --category image     # once
    python scripts/train_video.py --out runs/video-p --steps 6000
    torchrun --nproc_per_node 8 scripts/train_video.py --out runs/video-p ...   # several GPUs

Running the same command again continues from ``OUT/last.pt``; ``scripts/export_video_model.py`` turns
a run into shipped weights.
"""

from __future__ import annotations

import argparse
import sys

from ncodec.codecs.video.train import VideoTrainConfig, train
from ncodec.datasets.manifest import manifest_paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--intra", default="image-hyperprior-v5", help="the intra (image) model")
    ap.add_argument("--out", default="runs/video")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--max-shift", type=float, default=24.0, help="largest camera move, pixels per frame")
    ap.add_argument("--init-from", default="", help="start from this checkpoint's weights (step 0)")
    ap.add_argument("--schedule", choices=("step", "cosine"), default="cosine")
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", nargs="*", help="training photos (default: the fetched train manifest)")
    args = ap.parse_args(argv)
    images = args.images or [str(p) for p in manifest_paths("train", media="image")]
    cfg = VideoTrainConfig(
        intra=args.intra, images=images, out_dir=args.out, steps=args.steps, batch=args.batch,
        crop=args.crop, lr=args.lr, max_shift=args.max_shift, init_from=args.init_from,
        schedule=args.schedule, ckpt_every=args.ckpt_every,
        log_every=args.log_every, seed=args.seed, threads=args.threads, device=args.device,
    )  # fmt: skip
    train(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
