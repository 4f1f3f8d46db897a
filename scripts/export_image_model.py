#!/usr/bin/env python
"""Export a training checkpoint (``runs/…/last.pt``) as an ncodec weights file (safetensors).

    python scripts/export_image_model.py runs/hyper/last.pt image-hyperprior-v1.safetensors \\
        --card '{"summary": "mean-scale hyperprior, 6 qualities", "training": "..."}'

The file holds the weights, the float32 gain tables, the model configuration and the optional card;
load it with ``ncodec.load(PATH)`` or ``--model PATH``; copy it into ``src/ncodec/weights/`` to ship it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ncodec.codecs.image import ImageCodec
from ncodec.codecs.image_models import ImageModelConfig, build_model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--name", help="model name (default: the output file's stem)")
    ap.add_argument("--card", help="JSON object stored as the model card")
    args = ap.parse_args(argv)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    model = build_model(ImageModelConfig.from_dict(state["config"]["model"]))
    model.load_state_dict(state["model"])
    card = json.loads(args.card) if args.card else {}
    card.setdefault("training_steps", int(state["step"]))
    name = args.name or Path(args.output).stem
    ImageCodec(model, name).save(args.output, card=card)
    print(f"wrote {args.output} ({name}, step {state['step']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
