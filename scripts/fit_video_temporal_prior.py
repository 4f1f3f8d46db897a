#!/usr/bin/env python
"""Derive a video model from a shipped one: half-pixel motion (``--motion-precision 2``, the default) and a
fitted temporal context for its P-frame latents (``ncodec.codecs.video.temporal``), written as a new
shipped model whose weights file holds only the map and names the base model and its digest.

    python scripts/fetch_data.py --split train --category image     # once
    python scripts/fit_video_temporal_prior.py --base video-p-v1 \
        --out src/ncodec/weights/video-p-v2.safetensors --json docs/results/video_temporal_prior.json

Data: synthetic camera moves (``SyntheticCameraClips``: pan, zoom, rotation, brightness drift, noise) over
DATA.md's training photos only.  The photos are split by ``ncodec.codecs.video.train.held_out``: the map
is fitted on the rest and checked on the held-out photos' clips (estimated bits from the tables; real
file sizes of the same tokens with and without the context; and the base model on the same clips, bytes
and PSNR at each quality).  No evaluation clip is used.

Fit: for every ``(previous frame kind, checkerboard half, context bucket, hyperprior table)`` the symbol
histogram is collected (with the derived model's motion); the table that codes that histogram in the
fewest bits (exact code lengths of the integer tables, escapes included) replaces the hyperprior's when
at least ``--min-count`` symbols back it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ncodec.codecs.image.codec import checkerboard_split
from ncodec.codecs.registry import available_models, load
from ncodec.codecs.video.codec import VideoTokens
from ncodec.codecs.video.temporal import N_BUCKETS, PREV_I, PREV_P, TemporalTables, context
from ncodec.codecs.video.train import held_out
from ncodec.codecs.weights import read_metadata
from ncodec.datasets.manifest import manifest_paths
from ncodec.datasets.video import SyntheticCameraClips
from ncodec.metrics.image import psnr

R = 48  # symbols are histogrammed in -R..R (beyond: counted at the edge, coded as escapes by every table)
ESCAPE_BITS = 64


def code_lengths(adapter) -> np.ndarray:
    """``bits[t, s + R]``: exact code length of symbol ``s`` under table ``t`` (escape: + 64 bits)."""
    s = np.arange(-R, R + 1)
    out = np.zeros((len(adapter.tables), s.size))
    for t, f in enumerate(adapter.tables):
        f = f.astype(np.float64)
        k = len(f)
        v = s - adapter.offsets[t]
        inside = (v >= 0) & (v < k - 1)
        p = f[np.clip(v, 0, k - 1)] / f.sum()
        out[t] = np.where(inside, -np.log2(p), -np.log2(f[k - 1] / f.sum()) + ESCAPE_BITS)
    return out


def clips(photos: list[str], per_photo: int, seed: int):
    """Two speed ranges of camera moves, 9 frames each (an I-frame and 8 P-frames), 256x192."""
    for k, speed in enumerate((0.015, 0.04)):
        ds = SyntheticCameraClips(photos, frames=9, size=(256, 192), max_speed=speed,
                                  samples_per_epoch=len(photos) * per_photo, seed=seed + k)  # fmt: skip
        for i in range(len(ds)):
            yield (ds[i].permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)


def histograms(codec, photos: list[str], per_photo: int, seed: int, keep: int = 0):
    """Symbol counts ``[prev kind, half, bucket, table, s + R]`` of the P-frames of the clips, and the
    first ``keep`` clips' tokens with their quality (for file-size checks)."""
    n_tables = len(codec.inter.y_coder.tables)
    counts = np.zeros((2, 2, N_BUCKETS, n_tables, 2 * R + 1), np.int64)
    kept = []
    t0 = time.time()
    for i, clip in enumerate(clips(photos, per_photo, seed)):
        q = i % codec.qualities
        prev = None
        frames = []
        for ft, _ in codec.iter_encode(clip, q, gop=32):
            frames.append(ft)
            ad = codec.intra.y_coder if ft.kind == "I" else codec.inter.y_coder
            halves = checkerboard_split(ad.symbols_of(ft.y[None], ft.idx[None]))
            if ft.kind == "P":
                kind = PREV_I if prev[0] == "I" else PREV_P
                for half, (cur, idx, pv) in enumerate(
                    zip(halves, checkerboard_split(ft.idx[None].astype(np.int64)), prev[1], strict=True)
                ):
                    where = (context(pv).ravel(), idx.ravel(), np.clip(cur, -R, R).ravel() + R)
                    np.add.at(counts[kind, half], where, 1)
            prev = (ft.kind, halves)
        if i < keep:
            kept.append((q, frames, clip))
        if i % 25 == 0:
            print(f"  clip {i}: {time.time() - t0:.0f} s", flush=True)
    return counts, kept


def fit(counts: np.ndarray, bits: np.ndarray, min_count: int) -> np.ndarray:
    cost = np.einsum("...is,js->...ij", counts.astype(np.float64), bits)
    best = cost.argmin(-1)
    n = counts.sum(-1)
    ident = np.broadcast_to(np.arange(bits.shape[0]), best.shape)
    own = np.diagonal(cost, axis1=-2, axis2=-1)
    return np.where((n >= min_count) & (cost.min(-1) < own), best, ident)


def cost_of(counts: np.ndarray, bits: np.ndarray, table_map: np.ndarray) -> float:
    cost = np.einsum("...is,js->...ij", counts.astype(np.float64), bits)
    return float(np.take_along_axis(cost, table_map[..., None], -1).sum())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="video-p-v1")
    ap.add_argument("--out", required=True, help="the new model's weights file (its stem is its name)")
    ap.add_argument("--json", help="write the fit's numbers here")
    ap.add_argument("--per-photo", type=int, default=2, help="clips per photo and speed range (fit split)")
    ap.add_argument("--held-per-photo", type=int, default=3)
    ap.add_argument("--min-count", type=int, default=200)
    ap.add_argument("--motion-precision", type=int, choices=(1, 2), default=2, help="2: half-pixel motion")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    base = load(a.base)
    name = Path(a.out).stem
    coder = base.derive(name, mv_precision=a.motion_precision)  # the model's motion, no context yet
    photos = [str(p) for p in manifest_paths("train", media="image")]
    fit_photos = [p for p in photos if not held_out(p)]
    val_photos = [p for p in photos if held_out(p)]
    print(f"{len(fit_photos)} photos to fit on, {len(val_photos)} held out")
    bits = code_lengths(base.inter.y_coder)
    c_fit, _ = histograms(coder, fit_photos, a.per_photo, seed=11)
    c_val, kept = histograms(coder, val_photos, a.held_per_photo, seed=23, keep=12)
    table_map = fit(c_fit, bits, a.min_count)
    ident = TemporalTables.identity(bits.shape[0]).map
    est = {}
    for split, c in (("fit", c_fit), ("held_out", c_val)):
        b0, b1 = cost_of(c, bits, ident), cost_of(c, bits, table_map)
        n = int(c.sum())
        est[split] = {"symbols": n, "bits_per_symbol_base": b0 / n, "bits_per_symbol_temporal": b1 / n,
                      "change_percent": 100 * (b1 / b0 - 1)}  # fmt: skip
        print(f"{split}: {est[split]['change_percent']:+.2f} % P-frame latent bits (estimated)")
    codec = base.derive(name, TemporalTables(table_map, bits.shape[0]), mv_precision=a.motion_precision)
    sizes = {"base": 0, "temporal": 0}
    per_q: dict[int, dict[str, list[float]]] = {}
    for q, frames, clip in kept:
        t = VideoTokens(frames, q, 32, *clip.shape[1:3])
        d0, d1 = coder.compress_tokens(t), codec.compress_tokens(t)
        back = codec.decompress_tokens(d1)
        if not all(np.array_equal(x.y, y.y) for x, y in zip(t.frames, back.frames, strict=True)):
            raise SystemExit("the new model does not decode its own tokens")
        sizes["base"] += len(d0)
        sizes["temporal"] += len(d1)
        # the same clip through the base model (its own motion, no context): bytes and PSNR
        d_base = base.compress(clip, q, gop=32)
        row = per_q.setdefault(q, {"base_bytes": [], "base_psnr": [], "new_bytes": [], "new_psnr": []})
        row["base_bytes"].append(len(d_base))
        row["base_psnr"].append(psnr(clip, base.decompress(d_base)))
        row["new_bytes"].append(len(d1))
        row["new_psnr"].append(psnr(clip, codec.decompress(d1)))
    sizes["change_percent"] = 100 * (sizes["temporal"] / sizes["base"] - 1)
    print(f"held-out files ({len(kept)} clips of 9 frames): {sizes['base']} -> {sizes['temporal']} bytes "
          f"({sizes['change_percent']:+.2f} %) from the temporal context")  # fmt: skip
    vs_base = {}
    for q in sorted(per_q):
        r = {k: float(np.mean(v)) for k, v in per_q[q].items()}
        r["clips"] = len(per_q[q]["base_bytes"])
        vs_base[str(q)] = r
        print(f"  q{q}: {a.base} {r['base_bytes']:.0f} B {r['base_psnr']:.2f} dB -> {name} "
              f"{r['new_bytes']:.0f} B {r['new_psnr']:.2f} dB")  # fmt: skip
    changed = int((table_map != ident).sum())
    base_card = read_metadata(available_models()[a.base]).get("card", {})
    card = {
        "summary": (
            f"{a.base}'s networks with "
            + (
                "half-pixel block motion (integer bilinear interpolation) and "
                if a.motion_precision == 2
                else ""
            )
            + "a temporal context for the P-frame latents: the previous frame's integer symbols "
            "(co-located and 4 neighbours, per checkerboard half) remap each element's hyperprior table "
            "through a fitted integer map"
        ),
        "motion_precision": a.motion_precision,
        "base": a.base,
        "fit": {
            "photos": len(fit_photos),
            "held_out_photos": len(val_photos),
            "clips": "SyntheticCameraClips 9 frames 256x192, max_speed 0.015 and 0.04",
            "min_count": a.min_count,
            "entries_changed": changed,
            "entries": int(ident.size),
        },  # fmt: skip
        "estimated_bits": est,
        "held_out_file_bytes": sizes,
        "held_out_vs_base_per_quality": vs_base,
    }
    for key in ("parameters", "macs_per_pixel", "training_steps", "training_recipe", "model"):
        if key in base_card:
            card[key] = base_card[key]
    codec.save(a.out, card=card)
    print(f"wrote {a.out} ({changed} of {ident.size} map entries changed)")
    if a.json:
        Path(a.json).write_text(json.dumps({"base": a.base, "model": name, **card}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
