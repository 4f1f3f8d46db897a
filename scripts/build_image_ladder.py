#!/usr/bin/env python
"""Put together a quality-ladder image model from shipped hyperprior models, choosing its rungs on
training photos (never the evaluation set).

    python scripts/build_image_ladder.py image-hyperprior-v5 image-dct-v1 --name image-ladder-v6 \\
        --out src/ncodec/weights/image-ladder-v6.safetensors --json docs/results/image_ladder_rungs.json

Every quality of every part codes ``--photos`` training photos (downscaled to cover 768x512 and centre
cropped, as the evaluation protocol does; photos smaller than that are skipped) as complete files.  A
part's quality becomes a rung when no other part's curve (piecewise linear in log-bpp, mean over the
photos) gives a higher PSNR at its rate, or when its rate lies outside every other part's range; rungs
are then ordered by rate, and any that does not raise PSNR over the rung below is dropped.  The default
quality (``ncodec encode`` without ``--quality``) is the rung nearest ``--default-psnr`` dB.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ncodec.codecs.image.ladder import LadderCodec
from ncodec.codecs.registry import load
from ncodec.datasets.manifest import manifest_paths

W, H = 768, 512


def photos(n: int) -> list[tuple[str, torch.Tensor]]:
    """``n`` training photos of at least 768x512, spread over the sorted training list."""
    big = []
    for p in sorted(str(p) for p in manifest_paths("train", media="image")):
        with Image.open(p) as im:
            if min(im.size) >= H and max(im.size) >= W:
                big.append(p)
    picked = [big[round(i * (len(big) - 1) / max(n - 1, 1))] for i in range(min(n, len(big)))]
    out = []
    for p in picked:
        with Image.open(p) as im:
            rgb = im.convert("RGB")
        if rgb.height > rgb.width:
            rgb = rgb.transpose(Image.Transpose.ROTATE_90)
        s = max(W / rgb.width, H / rgb.height)
        rgb = rgb.resize(
            (max(W, round(rgb.width * s)), max(H, round(rgb.height * s))), Image.Resampling.LANCZOS
        )
        left, top = (rgb.width - W) // 2, (rgb.height - H) // 2
        a = np.asarray(rgb.crop((left, top, left + W, top + H)))
        out.append((p, torch.from_numpy(a.copy()).permute(2, 0, 1).float() / 255))
    return out


def measure(codec, images: list[tuple[str, torch.Tensor]]) -> list[dict]:
    """Mean bpp (file bytes) and PSNR (8-bit reconstruction) of every quality over ``images``."""
    rows = []
    for q in range(codec.qualities):
        bpp, psnr = [], []
        for _, x in images:
            data = codec.compress(x, q)
            rec = (codec.decompress(data)[0].clamp(0, 1) * 255).round() / 255
            bpp.append(8 * len(data) / (x.shape[1] * x.shape[2]))
            psnr.append(-10 * math.log10(float(((rec - x) ** 2).mean())))
        rows.append({"quality": q, "bpp": float(np.mean(bpp)), "psnr": float(np.mean(psnr))})
        print(f"  {codec.name} q{q}: {rows[-1]['bpp']:.3f} bpp {rows[-1]['psnr']:.2f} dB", flush=True)
    return rows


def _curve_at(rows: list[dict], bpp: float) -> float | None:
    """A part's PSNR at ``bpp`` (linear in log-bpp between its points; None outside its range)."""
    pts = sorted((math.log(r["bpp"]), r["psnr"]) for r in rows)
    lb = math.log(bpp)
    if not pts[0][0] <= lb <= pts[-1][0]:
        return None
    return float(np.interp(lb, [p[0] for p in pts], [p[1] for p in pts]))


def choose_rungs(curves: list[list[dict]]) -> list[tuple[int, int]]:
    """The rule of the module docstring: ``(part, quality)`` pairs, lowest rate first."""
    keep = []
    for i, rows in enumerate(curves):
        for r in rows:
            others = [_curve_at(c, r["bpp"]) for j, c in enumerate(curves) if j != i]
            if all(o is None or r["psnr"] >= o for o in others):
                keep.append((r["bpp"], r["psnr"], i, r["quality"]))
    keep.sort()
    rungs, best = [], -math.inf
    for _, psnr, i, q in keep:
        if psnr > best:
            rungs.append((i, q))
            best = psnr
    return rungs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+", help="shipped hyperprior image models, lowest rates first")
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True, help="the ladder's weights file")
    ap.add_argument("--json", help="write the measured curves and the chosen rungs here")
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--default-psnr", type=float, default=35.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--card-file", help="JSON file stored as the model card")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    parts = [load(p, allow_path=False) for p in args.parts]
    images = photos(args.photos)
    print(f"{len(images)} training photos at {W}x{H}")
    curves = [measure(c, images) for c in parts]
    rungs = choose_rungs(curves)
    points = [curves[i][q] for i, q in rungs]
    default = min(range(len(rungs)), key=lambda k: abs(points[k]["psnr"] - args.default_psnr))
    ladder = LadderCodec(parts, rungs, args.name, default_quality=default)
    card = json.loads(Path(args.card_file).read_text()) if args.card_file else {}
    card.setdefault("rungs_on_training_photos", [
        {"quality": k, "model": parts[i].name, "model_quality": q, "bpp": round(p["bpp"], 4),
         "psnr": round(p["psnr"], 3)}
        for k, ((i, q), p) in enumerate(zip(rungs, points, strict=True))
    ])  # fmt: skip
    ladder.save(args.out, card=card)
    for line in ladder.describe():
        print(" ", line)
    print(
        f"wrote {args.out}: {len(rungs)} rungs, default quality {default} ({time.perf_counter() - t0:.0f} s)"
    )
    if args.json:
        record = {
            "command": "python scripts/build_image_ladder.py " + " ".join(argv or sys.argv[1:]),
            "photos": [p for p, _ in images],
            "size": f"{W}x{H}",
            "curves": {c.name: rows for c, rows in zip(parts, curves, strict=True)},
            "rungs": [{"part": parts[i].name, "quality": q} for i, q in rungs],
            "default_quality": default,
        }
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
