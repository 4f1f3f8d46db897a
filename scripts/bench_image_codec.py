#!/usr/bin/env python
"""Encode and decode time of a 768x512 image on this machine: ncodec's image models next to compressai's
bmshj2018-hyperprior, in the same run, on the same images and threads.

    python scripts/bench_image_codec.py --model image-hyperprior-v5 --baseline runs/baseline-weights \\
        --out docs/results/bench_image_codec.json

Each codec compresses to its complete file and decompresses it, ``--repeat`` times per image (the
first call, a warm-up, is not timed); the median per image and the mean over images are reported, with
the file size (bpp) and PSNR of the reconstruction. Images: the evaluation manifest's photos at
768x512 (``NCODEC_DATA``) when fetched, else the bundled sample photo scaled to 768x512. Without
``--baseline`` an untrained ``ScaleHyperprior(128, 192)`` is timed (same architecture and coder; its
rate is meaningless, so bpp/PSNR are not reported for it).

``--large 7680x4320`` also codes one photo upscaled to that size with each hyperprior model (its
transforms run tile by tile above a megapixel) and with the baseline (whole image), each encode and
decode in a fresh process: time, peak resident memory (``ru_maxrss``; the same process before coding,
with torch, the model and the image loaded, is reported as ``base_mb``), bpp and PSNR.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _images(limit: int) -> tuple[str, list[torch.Tensor]]:
    from ncodec.datasets.sources import data_root

    manifest = data_root() / "manifests" / "eval.json"
    if manifest.is_file():
        from ncodec.rd.inputs import load_items

        items = load_items(str(manifest), media="image", category="image", crop=(768, 512))[:limit]
        xs = [torch.from_numpy(np.array(it.data)).permute(2, 0, 1)[None].float() / 255 for it in items]
        return f"eval manifest, {len(xs)} photos at 768x512", xs
    from PIL import Image

    from ncodec.io import sample_photo

    img = Image.open(sample_photo()).convert("RGB").resize((768, 512), Image.Resampling.LANCZOS)
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    return "bundled sample photo scaled to 768x512", [x]


def _large_image(size: str) -> torch.Tensor:
    """The first evaluation photo (or the bundled one) scaled to ``WxH`` (Lanczos)."""
    from PIL import Image

    w, h = (int(v) for v in size.lower().split("x"))
    _, xs = _images(1)
    img = Image.fromarray((xs[0][0].permute(1, 2, 0) * 255).round().byte().numpy())
    big = np.array(img.resize((w, h), Image.Resampling.LANCZOS))
    return torch.from_numpy(big).permute(2, 0, 1)[None].float() / 255


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _large_child(kind: str, name: str, size: str, q: int, path: str) -> None:
    """One step of ``--large`` in this (fresh) process; prints a JSON line."""
    from ncodec.codecs.image.baseline import CompressaiLadder
    from ncodec.codecs.registry import load

    codec = CompressaiLadder.from_folder(name) if Path(name).is_dir() else load(name)
    x = _large_image(size)
    base = _peak_mb()
    t0 = time.perf_counter()
    if kind == "enc":
        data = codec.compress(x, q)
        Path(path).write_bytes(data)
        out = {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "base_mb": base}
        out["bpp"] = len(data) * 8 / (x.shape[2] * x.shape[3])
    else:
        y = codec.decompress(Path(path).read_bytes())
        out = {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "base_mb": base}
        y = (y.float().clamp(0, 1) * 255).round() / 255
        out["psnr"] = float(-10 * torch.log10((y - x).pow(2).mean()))
    print(json.dumps(out))


def _large(name: str, label: str, size: str, q: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "large.ncd")
        res = {}
        for kind in ("enc", "dec"):
            cmd = [sys.executable, __file__, "--large-child", kind, name, size, str(q), path, str(threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{label} {kind} at {size} failed:\n{proc.stderr[-2000:]}")
            res[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    row = {
        "codec": label, "size": size,
        "encode_s": res["enc"]["seconds"], "decode_s": res["dec"]["seconds"],
        "encode_peak_mb": res["enc"]["peak_mb"], "decode_peak_mb": res["dec"]["peak_mb"],
        "base_mb": min(res["enc"]["base_mb"], res["dec"]["base_mb"]),
        "bpp": res["enc"]["bpp"], "psnr": res["dec"]["psnr"],
    }  # fmt: skip
    print(
        f"{label:34s} {size}: encode {row['encode_s']:.1f} s / {row['encode_peak_mb']:.0f} MB peak, decode "
        f"{row['decode_s']:.1f} s / {row['decode_peak_mb']:.0f} MB peak (base {row['base_mb']:.0f} MB), "
        f"{row['bpp']:.3f} bpp, {row['psnr']:.2f} dB"
    )
    return row


def _time(fn, repeat: int, warmup: bool = True) -> tuple[float, object]:
    out = fn() if warmup else None
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _measure(
    name: str, compress, decompress, xs: list[torch.Tensor], repeat: int, rate: bool, warmup: bool = True
) -> dict:
    enc, dec, bpp, psnr = [], [], [], []
    for x in xs:
        te, data = _time(lambda x=x: compress(x), repeat, warmup)
        td, y = _time(lambda data=data: decompress(data), repeat)
        enc.append(te)
        dec.append(td)
        y = (torch.as_tensor(y).float().clamp(0, 1) * 255).round() / 255
        bpp.append(len(data) * 8 / (x.shape[2] * x.shape[3]))
        psnr.append(float(-10 * torch.log10((y - x).pow(2).mean())))
    row = {"codec": name, "encode_s": statistics.mean(enc), "decode_s": statistics.mean(dec)}
    if rate:
        row.update(bpp=statistics.mean(bpp), psnr=statistics.mean(psnr))
    print(
        f"{name:34s} encode {row['encode_s'] * 1000:7.0f} ms  decode {row['decode_s'] * 1000:7.0f} ms"
        + (f"  {row['bpp']:.3f} bpp  {row['psnr']:.2f} dB" if rate else "")
    )
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="ncodec model name or .safetensors (repeatable)")
    ap.add_argument(
        "--quality", type=int, nargs="+", default=[3],
        help="qualities of the ncodec models (default 3; several: each model at each, clamped to its ladder)",
    )  # fmt: skip
    ap.add_argument(
        "--refine", type=int, default=0, metavar="STEPS",
        help="also time the hyperprior models' encoder with STEPS refinement steps (timed once per image)",
    )  # fmt: skip
    ap.add_argument("--baseline", help="folder of bmshj2018-hyperprior weights (one per lambda)")
    ap.add_argument("--baseline-quality", type=int, default=1, help="rung of the baseline ladder")
    ap.add_argument("--images", type=int, default=3, help="how many evaluation photos (default 3)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--large", metavar="WxH", help="also code one photo scaled to this size (e.g. 7680x4320)")
    ap.add_argument("--large-child", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.large_child:
        kind, name, size, q, path, threads = args.large_child
        if int(threads):
            torch.set_num_threads(int(threads))
        _large_child(kind, name, size, int(q), path)
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    from ncodec.codecs.image.baseline import CompressaiLadder
    from ncodec.codecs.registry import available_models, load

    source, xs = _images(args.images)
    print(f"{source}; torch threads {torch.get_num_threads()}")
    rows = []
    for name in args.model or list(available_models()):
        codec = load(name)
        for q in sorted({min(q, codec.qualities - 1) for q in args.quality}):
            rows.append(
                _measure(f"{codec.name} (q{q})", lambda x, c=codec, q=q: c.compress(x, q), codec.decompress,
                         xs, args.repeat, True)
            )  # fmt: skip
        q = min(args.quality[0], codec.qualities - 1)
        if args.refine and not hasattr(codec, "priors"):
            rows.append(
                _measure(f"{codec.name}@refine={args.refine} (q{q})",
                         lambda x, c=codec, q=q: c.compress(x, q, refine=args.refine), codec.decompress,
                         xs, 1, True, warmup=False)
            )  # fmt: skip
    if args.baseline:
        ladder = CompressaiLadder.from_folder(args.baseline)
        q = min(args.baseline_quality, ladder.qualities - 1)
        label = f"compressai {ladder.name} (q{q})"
        trained = True
    else:
        from ncodec.codecs.image.models import CompressaiHyperprior, ImageModelConfig

        m = CompressaiHyperprior(ImageModelConfig(bottleneck="bmshj2018-hyperprior", n=128, m=192)).eval()
        m.net.update(force=True)
        ladder, q, trained = CompressaiLadder([m], "untrained"), 0, False
        label = "compressai bmshj2018-hyperprior (untrained, timing only)"
    rows.append(_measure(label, lambda x: ladder.compress(x, q), ladder.decompress, xs, args.repeat, trained))
    large = []
    if args.large:
        for name in args.model or list(available_models()):
            codec = load(name)
            if not hasattr(codec, "priors"):
                qm = min(args.quality[0], codec.qualities - 1)
                large.append(_large(name, f"{codec.name} (q{qm})", args.large, qm, args.threads))
        if args.baseline:
            large.append(_large(args.baseline, label, args.large, q, args.threads))
    doc = {
        "images": source,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "repeat": args.repeat,
        "results": rows,
    }
    if large:
        doc["large"] = large
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
