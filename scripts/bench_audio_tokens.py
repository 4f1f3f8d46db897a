#!/usr/bin/env python
"""Bits per token of the shipped audio models' files on real training audio: the raw ``log2(K)``
against the static per-stage tables, uniform codes, the adaptive context prior and ``prior=auto``, at
every quality; speech also through an 8 kHz telephone band (what the fitted tables have not seen).

    python scripts/bench_audio_tokens.py --out docs/results/bench_audio_tokens.json

Input: ``--seconds`` of DATA.md's training speech (random clips, one file) and of the training music
(30 s from each of a few tracks), never the evaluation sets.  Bits are the payload of complete files
(header, index and trailer excluded, reported apart), divided by the tokens coded.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time

import numpy as np
import torch
import torchaudio.functional as AF

from ncodec.codecs.registry import load
from ncodec.container import parse
from ncodec.datasets.manifest import load_manifest
from ncodec.io.audio import open_audio

KINDS = ("static", "uniform", "adaptive", "auto")


def _read(path: str, rate: int, start: float = 0.0, seconds: float | None = None) -> torch.Tensor:
    src = open_audio(path)
    x = src.read()
    a = int(start * src.sample_rate)
    b = x.shape[0] if seconds is None else a + int(seconds * src.sample_rate)
    x = torch.from_numpy(np.ascontiguousarray(x[a:b].T))
    return AF.resample(x, src.sample_rate, rate)


def speech(seconds: float, seed: int) -> torch.Tensor:
    rows = [r for r in load_manifest("train", media="audio", category="speech") if r["duration"] >= 0.5]
    random.Random(seed).shuffle(rows)
    parts, have = [], 0.0
    for r in rows:
        parts.append(_read(r["abspath"], 16000).mean(0))
        have += r["duration"]
        if have >= seconds:
            break
    return torch.cat(parts)[: int(seconds * 16000)][None]


def music(seconds: float, seed: int, rate: int) -> torch.Tensor:
    rows = [r for r in load_manifest("train", media="audio", category="music") if r["duration"] >= 60]
    random.Random(seed).shuffle(rows)
    n = max(1, math.ceil(seconds / 30))
    parts = []
    for r in rows[:n]:
        x = _read(r["abspath"], rate, 30.0, 30.0)
        parts.append(x if x.shape[0] == 2 else x[:1].repeat(2, 1))
    return torch.cat(parts, dim=1)[:, : int(seconds * rate)]


def measure(codec, x: torch.Tensor, rate: int) -> list[dict]:
    out = []
    for q in range(codec.qualities):
        t = codec.encode(x, q, sample_rate=rate)
        k = codec.alphabet(q)
        row = {"quality": q, "tokens": int(t.tokens.size), "raw_bits": float(np.mean(np.log2(k)))}
        for kind in KINDS:
            t0 = time.perf_counter()
            data = codec.compress_tokens(t, kind)
            f = parse(data)
            payload = sum(len(c.payload) for c in f.chunks) * 8
            row[kind] = round(payload / t.tokens.size, 4)
            row[f"{kind}_s"] = round(time.perf_counter() - t0, 3)
            if kind == "auto":
                row["auto_chose"] = f.header.sections[0].prior_name
                row["file_overhead_bytes"] = len(data) - payload // 8
        out.append(row)
        print(f"{codec.name} q{q}: raw {row['raw_bits']:.2f}, static {row['static']:.3f}, uniform "
              f"{row['uniform']:.3f}, adaptive {row['adaptive']:.3f}, auto {row['auto']:.3f} "
              f"({row['auto_chose']}) bits/token", flush=True)  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write the numbers as JSON")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res: dict = {"seconds": args.seconds, "seed": args.seed, "kinds": KINDS}
    sp = load("audio-speech-rvq-v1")
    x = speech(args.seconds, args.seed)
    res["speech"] = measure(sp, x, 16000)
    print("speech through an 8 kHz band:")
    nb = AF.resample(AF.resample(x, 16000, 8000), 8000, 16000)
    res["speech_8khz_band"] = measure(sp, nb, 16000)
    mu = load("audio-music-rvq-v1")
    res["music"] = measure(mu, music(args.seconds, args.seed, 48000), 48000)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
