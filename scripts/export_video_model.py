#!/usr/bin/env python
"""Export a P-frame training checkpoint as a shipped video model: weights, integer tables, card.

    python scripts/export_video_model.py runs/video-p/last.pt src/ncodec/weights/video-p-v1.safetensors \
        [--rd docs/results/video_rd.json]

The video model's file holds the P-frame model and names its intra model (a shipped image model) with
that model's weights digest; the card records the recipe, the parameters, the MACs per pixel and, with
``--rd JSON``, the RD points on the evaluation set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.registry import load
from ncodec.codecs.video.codec import DEFAULT_GOP, InterCodec, VideoCodec
from ncodec.codecs.video.models import ConditionalModel


def macs_per_pixel(model: ConditionalModel) -> dict[str, float]:
    """Multiply-accumulates per pixel of the P-frame encoder (analysis + hyper-analysis) and decoder
    (hyper-synthesis, context, synthesis, refinement), measured on a 256x256 frame."""
    counts = {"encoder": 0, "decoder": 0}
    parts = {"g_a": "encoder", "h_a": "encoder", "h_s": "decoder", "ctx": "decoder", "ep": "decoder",
             "g_s": "decoder", "refine": "decoder"}  # fmt: skip
    hooks = []
    for name, part in parts.items():
        for m in getattr(model, name).modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d):

                def hook(mod, inp, out, part=part):
                    if isinstance(mod, torch.nn.Conv2d):
                        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
                        counts[part] += out.numel() * k
                    else:
                        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.out_channels
                        counts[part] += inp[0].numel() * k

                hooks.append(m.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        x = torch.rand(1, 3, 256, 256)
        model(x, x, model.qualities - 1)
    for h in hooks:
        h.remove()
    return {k: round(v / (256 * 256), 1) for k, v in counts.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--name", help="model name (default: the file's stem)")
    ap.add_argument("--rd", help="an `ncodec bench rd` JSON with this model's curve, for the card")
    ap.add_argument("--note", help="free text for the card")
    a = ap.parse_args(argv)
    ckpt = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    cfg = ckpt["config"]
    intra = load(cfg["intra"])
    image_cfg = intra.model.cfg
    model = ConditionalModel(ImageModelConfig.from_dict({**image_cfg.to_dict(), "bottleneck": "conditional"}))
    model.load_state_dict({k: v for k, v in ckpt["model"].items() if not k.endswith(
        ("_quantized_cdf", "_offset", "_cdf_length"))}, strict=False)  # fmt: skip
    model.eval()
    name = a.name or Path(a.out).stem
    card = {
        "summary": (
            "Video codec: I-frames by " + intra.name + "; P-frames by conditional residual coding "
            "(encoder and decoder see the block-motion prediction: integer block matching with a "
            "global-motion candidate, vectors coded with an adaptive integer context prior), the image "
            "codec's integer hyperprior and checkerboard context, a decoder-side refinement net; "
            f"6 qualities through gain units; GOPs of {DEFAULT_GOP} frames by default, each an "
            "independent chunk"
        ),
        "intra": intra.name,
        "training_steps": int(ckpt["step"]),
        "recipe": {k: cfg[k] for k in ("steps", "batch", "crop", "lr", "schedule", "max_shift") if k in cfg},
        "init": f"from {intra.name} (residual channels of the first convolution; prediction channels and "
        "the refinement start at zero)",
        "data": "DATA.md training photos (manifest train split, minus the 1/8 held out by path hash), as "
        "synthetic camera moves: sub-pixel pans, zooms, rotations, brightness drift, sensor noise, pasted "
        "moving objects; the reference is the intra-decoded first frame, the prediction the codec's own "
        "block motion",
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "macs_per_pixel_p_frame": macs_per_pixel(model),
    }
    if a.note:
        card["note"] = a.note
    if a.rd:
        from ncodec.rd.cards import rd_summary

        card["rd_eval"] = rd_summary(json.loads(Path(a.rd).read_text()), name)
    codec = VideoCodec(intra, InterCodec(model, name + ":inter"), name)
    codec.save(a.out, card=card)
    print(f"{a.out}: {name}, {card['parameters']} parameters, {card['macs_per_pixel_p_frame']} MACs/pixel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
