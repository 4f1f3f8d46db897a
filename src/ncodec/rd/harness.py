"""The rate–distortion harness: run codecs over prepared items at their rate points, measure real bytes and
quality, cache every computed point (so an interrupted run resumes), average the curves, compute
Bjøntegaard deltas against an anchor, and write CSV, JSON and a plot.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ncodec.errors import NcodecError, ShapeError
from ncodec.io.atomic import write_atomic
from ncodec.metrics import audio as am
from ncodec.metrics import image as im
from ncodec.metrics import video as vm
from ncodec.metrics.bd import bd_rate
from ncodec.rd.codecs import Item, RDCodec

RESULTS_VERSION = 1
#: Per media: the rate column and the quality columns (True: higher is better).
RATE_KEY = {"image": "bpp", "video": "bpp", "audio": "kbps"}
QUALITY = {
    "image": {"psnr": True, "psnr_y": True, "ms_ssim": True, "ms_ssim_db": True},
    "video": {"psnr": True, "psnr_y": True, "psnr_yuv": True, "ms_ssim": True, "ms_ssim_db": True},
    "audio": {"si_sdr": True, "mel_distance": False, "stft_distance": False, "pesq": True, "stoi": True},
}
#: Metrics the plot shows, per media.
HEADLINE = {
    "image": ("psnr", "ms_ssim_db"),
    "video": ("psnr", "ms_ssim_db"),
    "audio": ("mel_distance", "si_sdr", "pesq"),
}
#: Metrics the BD-rate table reports, per media (MS-SSIM on its dB scale, as compressai does).
BD_METRICS = {
    "image": ("psnr", "psnr_y", "ms_ssim_db"),
    "video": ("psnr", "psnr_yuv", "psnr_y", "ms_ssim_db"),
    "audio": ("mel_distance", "stft_distance", "si_sdr", "pesq", "stoi"),
}


def measure(item: Item, num_bytes: int, rec: np.ndarray, speech_metrics: bool = False) -> dict[str, float]:
    """Rate and quality of one reconstruction.

    NaN where a metric is undefined (e.g. MS-SSIM on frames smaller than 161 px); PSNR is capped at 100 dB.
    """
    ref = item.data
    if rec.shape != ref.shape:
        raise ShapeError(f"{item.id}: reconstruction {rec.shape} differs from input {ref.shape}")
    out: dict[str, float] = {"bytes": float(num_bytes)}
    if item.media in ("image", "video"):
        frames = ref[None] if item.media == "image" else ref
        recs = rec[None] if item.media == "image" else rec
        t, h, w = frames.shape[:3]
        out["bpp"] = vm.video_bpp(num_bytes, t, h, w)
        out["psnr"] = vm.video_psnr(frames, recs)
        out["psnr_y"] = vm.video_psnr(frames, recs, luma=True)
        if item.media == "video":
            out["psnr_yuv"] = vm.video_psnr_yuv420(frames, recs)
        try:
            out["ms_ssim"] = vm.video_ms_ssim(frames, recs)
            out["ms_ssim_db"] = im.ms_ssim_db(out["ms_ssim"])
        except ShapeError:
            out["ms_ssim"] = out["ms_ssim_db"] = math.nan
    elif item.media == "audio":
        rate = int(item.sample_rate or 0)
        out["kbps"] = am.kbps(num_bytes, item.duration)
        out["si_sdr"] = am.si_sdr(ref, rec)
        out["mel_distance"] = am.mel_distance(ref, rec, rate)
        out["stft_distance"] = am.stft_distance(ref, rec, rate)
        if speech_metrics:
            try:
                out["pesq"] = am.pesq_wb(ref, rec, rate) if am.pesq_available() else math.nan
            except ShapeError:
                out["pesq"] = math.nan
            out["stoi"] = am.stoi(ref, rec, rate) if am.stoi_available() else math.nan
    else:
        raise NcodecError(f"unknown media {item.media!r}")
    return out


def cache_key(codec: RDCodec, item: Item, point: float, speech_metrics: bool) -> str:
    """The cache key of one (codec configuration, prepared item, rate point, metric set)."""
    text = json.dumps([RESULTS_VERSION, codec.name, codec.config, item.digest, float(point), speech_metrics])
    return hashlib.sha256(text.encode()).hexdigest()


def _load_cache(path: Path) -> dict[str, dict[str, Any]]:
    cache: dict[str, dict[str, Any]] = {}
    if path.is_file():
        skipped = 0
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if isinstance(row, dict) and isinstance(row.get("key"), str):
                cache[row["key"]] = row
            elif line.strip():
                skipped += 1  # a line cut short by an interruption, or damage: measured again
        if skipped:
            print(f"{path}: skipped {skipped} unreadable cache lines (their points are measured again)",
                  file=sys.stderr)  # fmt: skip
    return cache


def run_rd(
    items: Sequence[Item],
    codecs: Sequence[RDCodec],
    cache_path: str | os.PathLike[str] | None = None,
    points: dict[str, Sequence[float]] | None = None,
    speech_metrics: bool = False,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Encode/decode every item with every codec at every rate point; one row per (codec, point, item).

    Rows already in ``cache_path`` (a JSONL file; same codec config, item data, point) are reused and new
    ones appended as they are computed.
    """
    if not items:
        raise NcodecError("no items to run")
    media = {it.media for it in items}
    for c in codecs:
        if c.media not in media:
            raise NcodecError(f"codec {c.name} is for {c.media}, the items are {'/'.join(sorted(media))}")
    cache = _load_cache(Path(cache_path)) if cache_path else {}
    jobs = [(c, p, it) for c in codecs for p in (points or {}).get(c.name, c.rate_points) for it in items]
    rows: list[dict[str, Any]] = []
    bar: Iterable[Any] = jobs
    if progress:
        from tqdm import tqdm

        bar = tqdm(jobs, desc="rd", unit="pt", dynamic_ncols=True)
    fh: io.TextIOBase | None = None
    if cache_path:
        Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
        fh = open(cache_path, "a")
    try:
        for codec, point, item in bar:
            key = cache_key(codec, item, point, speech_metrics)
            row = cache.get(key)
            if row is None:
                t0 = time.perf_counter()
                n, rec = codec.encode_decode(item, point)
                seconds = time.perf_counter() - t0
                row = {
                    "key": key,
                    "codec": codec.name,
                    "media": item.media,
                    "point": float(point),
                    "point_label": codec.point_label,
                    "item": item.id,
                    "seconds": round(seconds, 4),
                    **measure(item, n, rec, speech_metrics),
                }
                if fh is not None:
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
                cache[key] = row
            rows.append(row)
            if on_row:
                on_row(row)
    finally:
        if fh is not None:
            fh.close()
    return rows


def curves(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Average the rows of each (codec, point) over items: ``{codec: [{point, n, bpp|kbps, metric...}]}``,
    sorted by rate. Metric means skip NaN (the count of items used is ``n_<metric>``)."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["codec"], r["point"]), []).append(r)
    out: dict[str, list[dict[str, Any]]] = {}
    for (codec, point), rs in groups.items():
        media = rs[0]["media"]
        entry: dict[str, Any] = {"point": point, "point_label": rs[0]["point_label"], "n": len(rs)}
        for k in [RATE_KEY[media], "bytes", "seconds", *QUALITY[media]]:
            vals = np.array([r.get(k, math.nan) for r in rs], dtype=np.float64)
            ok = np.isfinite(vals)
            entry[k] = float(vals[ok].mean()) if ok.any() else math.nan
            if k in QUALITY[media] and ok.sum() != len(rs):
                entry[f"n_{k}"] = int(ok.sum())
        out.setdefault(codec, []).append(entry)
    for codec in out:
        media = groups[(codec, out[codec][0]["point"])][0]["media"]
        out[codec].sort(key=lambda e: e[RATE_KEY[media]])
    return out


def bd_table(
    curve: dict[str, list[dict[str, Any]]], anchor: str, media: str, metrics: Sequence[str] | None = None
) -> dict[str, dict[str, float | None]]:
    """BD-rate (%) of every codec against ``anchor`` for each metric (None where it cannot be computed)."""
    if anchor not in curve:
        raise NcodecError(f"anchor {anchor!r} is not among the codecs run ({', '.join(curve)})")
    rk = RATE_KEY[media]
    metrics = list(metrics or BD_METRICS[media])
    table: dict[str, dict[str, float | None]] = {}
    for codec, pts in curve.items():
        table[codec] = {}
        for m in metrics:
            sign = 1.0 if QUALITY[media].get(m, True) else -1.0
            try:
                # Means over different item subsets are not comparable: the items where the metric is
                # defined (e.g. MS-SSIM only on frames > 160 px) must be the same at every point.
                if len({p.get(f"n_{m}", p["n"]) for p in pts + curve[anchor]}) > 1:
                    raise ShapeError(f"{m} is defined on different items at different points")
                table[codec][m] = bd_rate(
                    [p[rk] for p in curve[anchor]],
                    [sign * p.get(m, math.nan) for p in curve[anchor]],
                    [p[rk] for p in pts],
                    [sign * p.get(m, math.nan) for p in pts],
                )
            except ShapeError:
                table[codec][m] = None
    return table


def format_bd_table(table: dict[str, dict[str, float | None]], anchor: str) -> str:
    """A plain-text table of BD-rates (rows: codecs; columns: metrics)."""
    metrics = sorted(
        {m for row in table.values() for m in row}, key=lambda m: list(next(iter(table.values()))).index(m)
    )
    head = f"BD-rate vs {anchor} (%; negative = fewer bits at equal quality)"
    lines = [head, "codec".ljust(14) + "".join(m.rjust(15) for m in metrics)]
    for codec, row in table.items():
        cells = "".join(("n/a" if row[m] is None else f"{row[m]:+.1f}").rjust(15) for m in metrics)
        lines.append(codec.ljust(14) + cells)
    return "\n".join(lines)


def format_markdown(doc: dict[str, Any]) -> str:
    """A Markdown summary of a results document: the mean curve of every codec and the BD-rate table."""
    media, rk = doc["media"], doc["rate"]
    cols = [m for m in (*HEADLINE[media], *BD_METRICS[media]) if m != "ms_ssim"]
    cols = [m for i, m in enumerate(cols) if m not in cols[:i]]
    cols = [m for m in cols if any(p.get(m) is not None for pts in doc["curves"].values() for p in pts)]
    lines = [f"Items: {len(doc['items'])} ({media}); rate = mean {rk} over items, bytes on disk.", ""]
    lines.append(f"| codec | setting | {rk} (measured) | " + " | ".join(cols) + " |")
    lines.append("|---" * (3 + len(cols)) + "|")
    for codec, pts in doc["curves"].items():
        for p in pts:
            vals = " | ".join(
                "–" if p.get(m) is None or not math.isfinite(p[m]) else f"{p[m]:.3f}" for m in cols
            )
            lines.append(f"| {codec} | {p['point_label']} {p['point']:g} | {p[rk]:.4g} | {vals} |")
    table = doc["bd_rate_percent"]
    metrics = list(next(iter(table.values())))
    lines += ["", f"BD-rate against **{doc['anchor']}** (%, negative = fewer bits for the same quality):", ""]
    lines.append("| codec | " + " | ".join(metrics) + " |")
    lines.append("|---" * (1 + len(metrics)) + "|")
    for codec, row in table.items():
        cells = " | ".join("n/a" if row[m] is None else f"{row[m]:+.1f}" for m in metrics)
        lines.append(f"| {codec} | {cells} |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """All per-item rows as CSV (atomic)."""
    cols: list[str] = []
    for r in rows:
        cols.extend(k for k in r if k not in cols and k != "key")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in cols})
    write_atomic(path, buf.getvalue().encode(), force=True)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """A results document as JSON (NaN/inf become null; atomic)."""
    write_atomic(path, (json.dumps(_json_safe(doc), indent=1) + "\n").encode(), force=True)


def write_markdown(path: Path, doc: dict[str, Any]) -> None:
    """The Markdown summary of :func:`format_markdown` (atomic)."""
    write_atomic(path, format_markdown(json.loads(json.dumps(_json_safe(doc)))).encode(), force=True)


def plot(path: Path, curve: dict[str, list[dict[str, Any]]], media: str, title: str = "") -> None:
    """Rate–quality curves of every codec, one panel per headline metric (PNG, atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rk = RATE_KEY[media]
    metrics = [
        m
        for m in HEADLINE[media]
        if any(math.isfinite(p.get(m, math.nan)) for pts in curve.values() for p in pts)
    ]
    labels = {
        "psnr": "PSNR (dB, RGB)",
        "ms_ssim_db": "MS-SSIM (dB)",
        "mel_distance": "mel distance (lower is better)",
        "si_sdr": "SI-SDR (dB)",
        "pesq": "PESQ (wide-band)",
    }
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), squeeze=False)
    for ax, m in zip(axes[0], metrics, strict=True):
        for i, (codec, pts) in enumerate(curve.items()):
            xs = [p[rk] for p in pts if math.isfinite(p.get(m, math.nan))]
            ys = [p[m] for p in pts if math.isfinite(p.get(m, math.nan))]
            # 10 colours, then the same colours with another line style and marker (no two curves alike)
            style = (("-", "o"), ("--", "s"), (":", "^"))[i // 10 % 3]
            ax.plot(xs, ys, style[0], marker=style[1], ms=3, color=f"C{i % 10}", label=codec)
        ax.set_xlabel("bits per pixel" if rk == "bpp" else "kbit/s")
        ax.set_ylabel(labels.get(m, m))
        if rk == "kbps":
            ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_atomic(path, buf.getvalue(), force=True)
