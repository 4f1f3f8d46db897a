#!/usr/bin/env python
"""Regenerate the golden files of every shipped audio model (only for an intended change):
``MODEL.q{Q}.ncd`` (the bundled speech clip's first 2 s coded at quality Q), ``MODEL.q{Q}.tokens.npy``
(its tokens) and ``MODEL.q{Q}.decoded.flac`` (the decoded samples, 16-bit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ncodec.codecs.registry import available_models, load
from ncodec.io.samples import sample_speech

HERE = Path(__file__).resolve().parent


def golden_input() -> np.ndarray:
    x, rate = sf.read(sample_speech(), dtype="float32")
    return x[: 2 * rate]


def main() -> None:
    torch.set_num_threads(1)
    x = golden_input()
    for name in available_models("audio"):
        codec = load(name)
        for q in (0, codec.qualities - 1):
            data = codec.compress(x, q, sample_rate=16000)
            (HERE / f"{name}.q{q}.ncd").write_bytes(data)
            np.save(HERE / f"{name}.q{q}.tokens.npy", codec.decompress_tokens(data).tokens)
            y = codec.decompress(data)[0, 0].numpy()
            sf.write(HERE / f"{name}.q{q}.decoded.flac", y, 16000, subtype="PCM_16")
            print(name, q, len(data), "bytes")


if __name__ == "__main__":
    main()
