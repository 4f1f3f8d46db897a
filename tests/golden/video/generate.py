#!/usr/bin/env python
"""Regenerate the golden files of every shipped video model (only for an intended change):
``MODEL.q{Q}.ncd`` (a 5-frame camera pan over the bundled photo, 96x64, GOPs of 3: I P P I P, coded at
quality Q), ``MODEL.q{Q}.tokens.npz`` (every frame's tokens) and ``MODEL.q{Q}.decoded.npz`` (the decoded
frames, uint8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ncodec.codecs.registry import available_models, load
from ncodec.codecs.video.fuzz import pan

HERE = Path(__file__).resolve().parent
GOP = 3


def golden_input() -> np.ndarray:
    return pan(5, 64, 96, 2, 3, top=40, left=60)


def token_arrays(t) -> dict[str, np.ndarray]:
    out = {}
    for k, f in enumerate(t.frames):
        out[f"{k}{f.kind}.z"], out[f"{k}{f.kind}.y"] = f.z, f.y
        if f.mv is not None:
            out[f"{k}{f.kind}.mv"] = f.mv
    return out


def main() -> None:
    torch.set_num_threads(1)
    x = golden_input()
    for name in available_models("video"):
        codec = load(name)
        for q in (0, codec.qualities - 1):
            data = codec.compress(x, q, gop=GOP)
            (HERE / f"{name}.q{q}.ncd").write_bytes(data)
            np.savez_compressed(
                HERE / f"{name}.q{q}.tokens.npz", **token_arrays(codec.decompress_tokens(data))
            )
            np.savez_compressed(HERE / f"{name}.q{q}.decoded.npz", frames=codec.decompress(data))
            print(name, q, len(data), "bytes")


if __name__ == "__main__":
    main()
