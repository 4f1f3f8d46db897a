#!/usr/bin/env python
"""How far up the quality ladder an image model's transforms can go: PSNR at its top quality with the
quantization step divided by 1, 2, 4, 16 (no rate model involved: the transforms' own ceiling).

    python scripts/image_ceiling.py image-hyperprior-v5 --out ceiling.json
    python scripts/image_ceiling.py runs/image-v6/last.pt        # a training checkpoint

Measured on centre crops of DATA.md's training photos (1/2 to 1/4 downscales, as the trainer sees them),
never on the evaluation set.  If PSNR stops rising as the step shrinks, finer quantization (more bits)
cannot buy more quality: the analysis/synthesis pair is the limit and needs more channels or training.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
import torch
from PIL import Image

import ncodec
from ncodec.codecs.image.models import ImageModelConfig, build_model
from ncodec.datasets.manifest import manifest_paths


def load_model(name: str) -> torch.nn.Module:
    if name.endswith(".pt"):
        state = torch.load(name, map_location="cpu", weights_only=False)
        model = build_model(ImageModelConfig.from_dict(state["config"]["model"]))
        model.load_state_dict(state["model"], strict=False)
        return model.eval()
    return ncodec.load(name).model.eval()


def crops(n: int, size: tuple[int, int]) -> list[torch.Tensor]:
    paths = manifest_paths("train", media="image")
    out = []
    for p in paths[:: max(1, len(paths) // n)][:n]:
        im = Image.open(p).convert("RGB")
        w, h = im.size
        s = max(1, min(w // (2 * size[0]), h // (2 * size[1]), 4))
        im = im.resize((w // s, h // s), Image.LANCZOS) if s > 1 else im
        w, h = im.size
        left, top = (w - size[0]) // 2, (h - size[1]) // 2
        im = im.crop((left, top, left + size[0], top + size[1]))
        out.append(torch.from_numpy(np.array(im)).permute(2, 0, 1).float()[None] / 255)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a shipped model name, a weights file or a training checkpoint (.pt)")
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--size", default="384x256")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write the numbers as JSON")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    w, h = (int(v) for v in args.size.split("x"))
    xs = crops(args.images, (w, h))
    top = model.qualities - 1
    res = {"model": args.model, "images": len(xs), "size": args.size, "quality": top, "psnr": {}}
    with torch.no_grad():
        g, ig = model.gains.gain(top), model.gains.inv_gain(top)
        for div in (1, 2, 4, 16):
            ps = []
            for x in xs:
                y = torch.round(model.g_a(x) * g * div) / div * ig
                mse = ((model.g_s(y).clamp(0, 1) - x) ** 2).mean().item()
                ps.append(10 * math.log10(1 / mse))
            res["psnr"][f"step/{div}"] = round(float(np.mean(ps)), 3)
            print(f"{args.model}: top quality, step / {div:2d}: {np.mean(ps):.2f} dB", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
