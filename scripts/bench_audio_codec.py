#!/usr/bin/env python
"""Speed and memory of the shipped audio models, next to Opus in the same run.

    python scripts/bench_audio_codec.py                  # real-time factors (2 threads) + memory 1 min vs 1 h
    python scripts/bench_audio_codec.py --no-memory      # only the speed part

Speed: encode + decode of 60 s of speech (the bundled clip, tiled) through the Python API at every
model's highest quality and at ~3 kbps, against libopus (PyAV) at 6 and 12 kbps on the same signal;
``x real time`` = audio seconds / wall seconds.  Memory: ``ncodec encode`` and ``ncodec decode`` of a
1-minute and a 1-hour WAV (16 kHz mono, the clip tiled with varying gain) in fresh processes, peak RSS
from ``/usr/bin/time -v``.  Prints a table and writes ``docs/results/bench_audio_codec.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ncodec.codecs.registry import available_models, load
from ncodec.io.samples import sample_speech


def tiled(seconds: float, rate: int = 16000) -> np.ndarray:
    x, r = sf.read(sample_speech(), dtype="float32")
    assert r == rate
    reps = int(np.ceil(seconds * rate / len(x)))
    gains = 0.5 + 0.5 * np.abs(np.sin(np.arange(reps)))
    return np.concatenate([x * g for g in gains])[: int(seconds * rate)].astype(np.float32)


def best_of(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def speed(models: list[str], seconds: float, threads: int) -> list[dict]:
    from ncodec.rd.anchors_audio import decode_audio_bytes, encode_audio

    torch.set_num_threads(threads)
    x = tiled(seconds)
    rows = []
    for name in models:
        codec = load(name)
        for q in sorted({codec.quality_for_bitrate(3.0), codec.qualities - 1}):
            data = codec.compress(x, q)
            enc = best_of(lambda codec=codec, q=q: codec.compress(x, q), 2)
            dec = best_of(lambda codec=codec, data=data: codec.decompress(data), 2)
            rows.append({"codec": name, "setting": f"quality {q}", "kbps": 8 * len(data) / seconds / 1000,
                         "encode_s": enc, "decode_s": dec, "x_real_time": seconds / (enc + dec)})  # fmt: skip
    for kbps in (6, 12):
        data = encode_audio(x[:, None], 16000, "libopus", "ogg", kbps * 1000, 48000, {"application": "audio"})
        enc = best_of(lambda kbps=kbps: encode_audio(x[:, None], 16000, "libopus", "ogg", kbps * 1000, 48000,
                                                     {"application": "audio"}))  # fmt: skip
        dec = best_of(lambda data=data: decode_audio_bytes(data, 16000, 1))
        rows.append({"codec": "opus", "setting": f"{kbps} kbps", "kbps": 8 * len(data) / seconds / 1000,
                     "encode_s": enc, "decode_s": dec, "x_real_time": seconds / (enc + dec)})  # fmt: skip
    return rows


def _peak(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS MB, wall seconds) of ``cmd`` in a fresh process."""
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", res.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0)
    return rss / 1024, secs


def memory(model: str, lengths: list[float]) -> list[dict]:
    rows = []
    exe = [sys.executable, "-m", "ncodec.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in lengths:
            wav, ncd, out = (Path(tmp) / f"{seconds:g}.{s}" for s in ("wav", "ncd", "out.wav"))
            with sf.SoundFile(wav, "w", 16000, 1, subtype="PCM_16") as f:  # written in pieces: no big array
                left = seconds
                while left > 0:
                    f.write(tiled(min(600.0, left)))
                    left -= 600.0
            env_cmd = [*exe, "encode", str(wav), str(ncd), "--model", model, "--bitrate", "6"]
            enc_mb, enc_s = _peak(env_cmd)
            dec_mb, dec_s = _peak([*exe, "decode", str(ncd), str(out)])
            rows.append({"model": model, "seconds": seconds, "file_bytes": ncd.stat().st_size,
                         "encode_peak_mb": enc_mb, "encode_s": enc_s, "decode_peak_mb": dec_mb,
                         "decode_s": dec_s})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--long", type=float, default=3600.0, help="length of the long file (s)")
    ap.add_argument("--out", default="docs/results/bench_audio_codec.json")
    a = ap.parse_args(argv)
    models = list(available_models("audio"))
    doc = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": a.threads,
                       "cores": os.cpu_count(), "torch": torch.__version__},
           "signal": f"{a.seconds:g} s of the bundled 16 kHz speech clip, tiled"}  # fmt: skip
    doc["speed"] = speed(models, a.seconds, a.threads)
    print(f"{'codec':<24} {'setting':<12} {'kbps':>7} {'enc s':>7} {'dec s':>7} {'x real time':>12}")
    for r in doc["speed"]:
        print(f"{r['codec']:<24} {r['setting']:<12} {r['kbps']:7.2f} {r['encode_s']:7.2f} "
              f"{r['decode_s']:7.2f} "
              f"{r['x_real_time']:12.1f}")  # fmt: skip
    if not a.no_memory and models:
        doc["memory"] = memory(models[0], [60.0, a.long])
        short, long = doc["memory"]
        for k in ("encode_peak_mb", "decode_peak_mb"):
            doc[f"{k}_ratio_long_over_short"] = long[k] / short[k]
        print(f"peak RSS, 1 min -> {a.long / 60:g} min: encode {short['encode_peak_mb']:.0f} -> "
              f"{long['encode_peak_mb']:.0f} MB, decode {short['decode_peak_mb']:.0f} -> "
              f"{long['decode_peak_mb']:.0f} MB")  # fmt: skip
    Path(a.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"-> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
