#!/usr/bin/env python
"""Export a training checkpoint (``runs/…/last.pt``) as an ncodec weights file (safetensors).

    python scripts/export_image_model.py runs/hyper/last.pt image-hyperprior-v5.safetensors \\
        --card '{"summary": "mean-scale hyperprior, 6 qualities", "training": "..."}'

- ``hyperprior``: the weights, the float32 gain tables, the configuration and the optional card; load it
  with ``ncodec.load(PATH)`` or ``--model PATH``; copy it into ``src/ncodec/weights/`` to ship it.
- ``fsq`` / ``rvq`` / ``bsq``: the same plus one static prior per quality, fitted on ``--prior-crops``
  crops of the checkpoint's training images (integer tables stored in the file).
- ``bmshj2018-hyperprior`` (the compressai baseline): weights and configuration; a folder of these, one
  per lambda, is one curve for ``ncodec bench rd --codec FOLDER``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ncodec.codecs.cards import training_card
from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.models import ImageModelConfig, build_model
from ncodec.codecs.image.tokens import TokenImageCodec
from ncodec.codecs.image.train import CropPool, export_weights, refit_hyper_prior
from ncodec.rd.cards import rd_summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--name", help="model name (default: the output file's stem)")
    ap.add_argument("--card", help="JSON object stored as the model card")
    ap.add_argument("--card-file", help="JSON file stored as the model card")
    ap.add_argument(
        "--prior-crops", type=int, default=64, help="token models: 256x256 crops to fit the priors on"
    )
    ap.add_argument(
        "--refit-hyper-prior", type=int, default=0, metavar="CROPS",
        help="hyperprior: fit the hyper-latent density to CROPS 256x256 training crops first (smaller files, "
        "same tokens of y; see ncodec.codecs.image.train.refit_hyper_prior)",
    )  # fmt: skip
    ap.add_argument("--rd", help="ncodec bench rd JSON whose points and BD-rates go into the card")
    ap.add_argument("--rd-codec", help="the model's codec name in --rd (default: the model name)")
    args = ap.parse_args(argv)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    cfg = ImageModelConfig.from_dict(state["config"]["model"])
    model = build_model(cfg)
    model.load_state_dict(state["model"])
    model.eval()
    card = json.loads(Path(args.card_file).read_text()) if args.card_file else {}
    card.update(json.loads(args.card) if args.card else {})
    name = args.name or Path(args.output).stem
    if args.refit_hyper_prior and cfg.bottleneck == "hyperprior":
        pool = CropPool(state["config"]["images"], 256)
        crops = pool.batch(args.refit_hyper_prior, torch.Generator().manual_seed(2024))
        fit = refit_hyper_prior(model, crops)
        print(
            f"hyper-latent density refitted: {fit['z_bits_before']:.3f} -> {fit['z_bits_after']:.3f} bits"
        )
        card["hyper_prior_refit"] = {
            "crops": args.refit_hyper_prior,
            **{k: round(v, 4) for k, v in fit.items()},
        }
        model.eval()
    card = training_card(card, state, model, cfg.to_dict())
    if args.rd:
        card["rd_eval"] = rd_summary(json.loads(Path(args.rd).read_text()), args.rd_codec or name)
    if cfg.bottleneck == "hyperprior":
        ImageCodec(model, name).save(args.output, card=card)
    elif cfg.bottleneck in ("fsq", "rvq", "bsq"):
        codec = TokenImageCodec(model, name)
        pool = CropPool(state["config"]["images"], 256)
        crops = pool.batch(args.prior_crops, torch.Generator().manual_seed(2024))
        codec.fit_priors(list(crops))
        codec.save(args.output, card=card)
    else:
        export_weights(model, args.output, {"name": name, "card": json.dumps(card)})
    print(f"wrote {args.output} ({name}, {cfg.bottleneck}, step {state['step']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
