#!/usr/bin/env python
"""Half-pixel motion on moving and on static (tripod) clips: bytes and PSNR of ``video-p-v1``'s networks
with whole-pixel motion and with half-pixel motion at several half-pixel step costs (``LAMBDA_HALF``).

    python scripts/video_halfpel_lambda.py --out docs/results/video_halfpel_lambda.json

Data: synthetic clips (9 frames, 256x192) over every 14th of the training photos outside the held-out
split: camera moves, and a static camera with sensor noise (std 0.01 and 0.02).  No evaluation clip.
Half-pixel samples are bilinear means, which also average the noise away, so on static noisy content
the search picks them for their lower SAD while the prediction gets blurrier: this measures the cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ncodec.codecs.registry import load
from ncodec.codecs.video import motion
from ncodec.codecs.video.train import held_out
from ncodec.datasets.manifest import manifest_paths
from ncodec.datasets.video import SyntheticCameraClips
from ncodec.metrics.video import video_psnr


def clips(photos: list[str]):
    for speed, noise, seed in ((0.03, 0.01, 3), (0.0, 0.01, 4), (0.0, 0.02, 5)):
        moving = speed > 0
        ds = SyntheticCameraClips(photos, frames=9, size=(256, 192), max_speed=speed,
                                  max_zoom=0.01 if moving else 0.0, max_rotation_deg=0.5 if moving else 0.0,
                                  brightness_drift=0.01 if moving else 0.0, noise_std=noise,
                                  samples_per_epoch=len(photos), seed=seed)  # fmt: skip
        for i in range(len(ds)):
            yield (
                ("moving" if moving else "static"),
                (ds[i].permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8),
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="video-p-v1")
    ap.add_argument("--lambdas", default="8,16,32")
    ap.add_argument("--qualities", default="0,3")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="docs/results/video_halfpel_lambda.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    base = load(a.base)
    half = base.derive(a.base + "-halfpel", mv_precision=2)
    photos = [str(p) for p in manifest_paths("train", media="image") if not held_out(str(p))][::14]
    data = list(clips(photos))
    settings = [("whole-pixel", base, None)] + [(f"half-pixel, LAMBDA_HALF={lam}", half, int(lam))
                                                for lam in a.lambdas.split(",")]  # fmt: skip
    rows = []
    keep = motion.LAMBDA_HALF
    try:
        for label, codec, lam in settings:
            motion.LAMBDA_HALF = keep if lam is None else lam
            for kind in ("moving", "static"):
                for q in (int(v) for v in a.qualities.split(",")):
                    size, quality = 0, []
                    for k, clip in data:
                        if k == kind:
                            d = codec.compress(clip, q, gop=32)
                            size += len(d)
                            quality.append(video_psnr(clip, codec.decompress(d)))
                    row = {
                        "motion": label,
                        "clips": kind,
                        "quality": q,
                        "bytes": size,
                        "psnr": float(np.mean(quality)),
                    }
                    rows.append(row)
                    print(f"{label:<28} {kind:<7} q{q}: {size:>7} bytes {row['psnr']:.3f} dB", flush=True)
    finally:
        motion.LAMBDA_HALF = keep
    doc = {"command": " ".join(sys.argv), "photos": len(photos), "clips_per_kind": {"moving": len(photos),
           "static": 2 * len(photos)}, "rows": rows}  # fmt: skip
    Path(a.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
