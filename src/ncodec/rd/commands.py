"""``ncodec bench …`` sub-commands; ``ncodec bench rd`` runs the rate–distortion harness.

Other benchmarks plug in under ``bench`` by adding a function ``f(bench_subparsers)`` to
:data:`BENCH_REGISTRARS` (or a module with ``register_bench(bench_subparsers)`` to
:data:`BENCH_MODULES`).
"""

from __future__ import annotations

import argparse
import importlib
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ncodec.errors import MediaError, NcodecError


def _parse_points(text: str | None) -> dict[str, list[float]]:
    """``"jpeg=10,50,90;opus=6,12"`` → ``{"jpeg": [10, 50, 90], "opus": [6, 12]}``."""
    out: dict[str, list[float]] = {}
    if not text:
        return out
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, values = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip().lower()] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise NcodecError(f"bad --points {part!r}; expected CODEC=P1,P2,...[;CODEC=...]") from None
        if not out[name.strip().lower()]:
            raise NcodecError(f"bad --points {part!r}: no values")
    return out


def _check_points(codec: Any, values: list[float]) -> None:
    """Rate points inside what the codec accepts (its ``point_range``; whole numbers where it says so)."""
    lo, hi = getattr(codec, "point_range", (float("-inf"), float("inf")))
    whole = getattr(codec, "point_integer", False)
    for v in values:
        if not lo <= v <= hi or (whole and v != int(v)):
            kind = "whole numbers " if whole else ""
            raise NcodecError(
                f"--points {codec.name}={v:g}: {codec.point_label} must be {kind}in {lo:g}..{hi:g}"
            )


def _portable(path: str) -> str:
    """``path`` with the data folder written as ``$NCODEC_DATA`` (no machine-specific paths in results)."""
    from ncodec.datasets.sources import data_root

    p, root = Path(path).resolve(), data_root().resolve()
    return f"$NCODEC_DATA/{p.relative_to(root).as_posix()}" if p.is_relative_to(root) else str(path)


def _command_line() -> str | None:
    """The command line that ran (when run as ``ncodec``), with the data folder and home made portable."""
    if not sys.argv or not Path(sys.argv[0]).name.startswith("ncodec"):
        return None
    from ncodec.datasets.sources import data_root

    text = shlex.join(["ncodec", *sys.argv[1:]])
    return text.replace(str(data_root()), "$NCODEC_DATA").replace(str(Path.home()), "~")


def run_rd_command(args: argparse.Namespace) -> int:
    """Handler of ``ncodec bench rd``; returns the exit status."""
    from ncodec.rd import harness
    from ncodec.rd.codecs import available_codecs, get_codec
    from ncodec.rd.inputs import load_items, parse_size, split_names

    for mod in args.plugin or []:
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise NcodecError(f"cannot import plugin {mod!r}: {exc}") from exc
    if args.list_codecs:
        for name in available_codecs():
            c = get_codec(name)
            print(f"{name:12s} {c.media:6s} {c.point_label}: {', '.join(f'{p:g}' for p in c.rate_points)}")
        return 0
    if args.input is None:
        raise NcodecError("an INPUT folder, file or manifest is needed")
    media = args.media
    names = split_names(args.codec, [])
    if names:
        codecs = [get_codec(n) for n in names]
        kinds = {c.media for c in codecs}
        if len(kinds) > 1:
            raise NcodecError(f"codecs mix media {sorted(kinds)}; run one media at a time")
        if media and media not in kinds:
            raise NcodecError(f"--media {media} but the codecs are for {kinds.pop()}")
        media = kinds.pop()
    if media is None:
        from ncodec.rd.inputs import discover

        _, paths = discover(args.input)
        from ncodec.io.media import media_kind

        media = media_kind(paths[0])
    if not names:
        names = available_codecs(media)
        codecs = [get_codec(n) for n in names]
    anchor = (args.anchor or names[0]).lower()
    if anchor not in names:
        raise NcodecError(f"--anchor {anchor} is not among --codec {','.join(names)}")
    given = _parse_points(args.points)
    # --points may name a codec as --codec did (e.g. a weights path) or by its name in the results
    aliases = {c.name: c.name for c in codecs}
    aliases.update({n.lower(): c.name for n, c in zip(names, codecs, strict=True)})
    unknown = set(given) - set(aliases)
    if unknown:
        raise NcodecError(f"--points names codecs not in the run: {', '.join(sorted(unknown))}")
    points = {aliases[k]: v for k, v in given.items()}
    for codec in codecs:
        _check_points(codec, points.get(codec.name, []))
    if args.limit is not None and args.limit < 1:
        raise NcodecError(f"--limit must be at least 1, got {args.limit}")
    crop = parse_size(args.crop) if args.crop else None
    if args.excerpt is not None and args.excerpt <= 0:
        raise NcodecError("--excerpt must be positive")
    if args.frames is not None and args.frames <= 0:
        raise NcodecError("--frames must be positive")

    # Read and prepare everything first: bad input fails before any output exists.
    items = load_items(
        args.input,
        media=media,
        category=args.category,
        crop=crop,
        excerpt=args.excerpt,
        offset=args.offset,
        frames=args.frames,
        limit=args.limit,
    )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MediaError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    stem = args.name
    t0 = time.time()
    cache = Path(args.cache) if args.cache else out / f".{stem}.cache.jsonl"
    cached_before = len(cache.read_text().splitlines()) if cache.is_file() else 0
    rows = harness.run_rd(
        items,
        codecs,
        cache_path=cache,
        points=points,
        speech_metrics=args.speech_metrics,
        progress=not args.no_progress,
    )
    curve = harness.curves(rows)
    metrics = [m for m in harness.BD_METRICS[media] if m not in ("pesq", "stoi") or args.speech_metrics]
    table = harness.bd_table(curve, anchor, media, metrics)
    doc: dict[str, Any] = {
        "version": harness.RESULTS_VERSION,
        "command": _command_line(),
        "media": media,
        "rate": harness.RATE_KEY[media],
        "anchor": anchor,
        "input": _portable(args.input),
        "items": [{"id": it.id, **it.meta} for it in items],
        "codecs": {
            c.name: {
                "config": c.config,
                "point_label": c.point_label,
                "points": points.get(c.name, list(c.rate_points)),
            }
            for c in codecs
        },
        "curves": curve,
        "bd_rate_percent": table,
        "wall_seconds": round(time.time() - t0, 1),
        "points_computed": (len(cache.read_text().splitlines()) if cache.is_file() else 0) - cached_before,
        "points_total": len(rows),
        "encode_decode_seconds_total": round(sum(r["seconds"] for r in rows), 1),
        "platform": platform.platform(),
    }
    harness.write_csv(out / f"{stem}.csv", rows)
    harness.write_json(out / f"{stem}.json", doc)
    harness.write_markdown(out / f"{stem}.md", doc)
    if not args.no_plot:
        harness.plot(
            out / f"{stem}.png", curve, media, args.title or f"{media}: {len(items)} items, {args.input}"
        )
    print(harness.format_bd_table(table, anchor))
    print(f"wrote {out / stem}.csv, .json, .md" + ("" if args.no_plot else ", .png"))
    return 0


def _register_rd(bench_sub: Any) -> None:
    p = bench_sub.add_parser(
        "rd",
        help="rate–distortion sweep of codecs over a folder or manifest",
        description="Run codecs over media at several rate points; write CSV/JSON/PNG and a BD-rate table. "
        "Computed points are cached in OUT, so an interrupted run resumes.",
    )
    p.add_argument("input", nargs="?", help="folder of media (recursive), one file, or a manifest JSON")
    p.add_argument("--list-codecs", action="store_true", help="list registered codecs and rate points")
    p.add_argument("--codec", help="comma list of codec names (default: every codec of the media)")
    p.add_argument("--anchor", help="codec the BD-rates are against (default: the first)")
    p.add_argument("--media", choices=["image", "audio", "video"], help="media to take from the input")
    p.add_argument("--category", help="manifest category to take (image, speech, music, video)")
    p.add_argument("--points", help="override rate points: 'jpeg=10,50,90;webp=20,60'")
    p.add_argument("--out", default="rd-results", help="output folder (default: rd-results)")
    p.add_argument("--name", default="rd", help="file stem of the outputs (default: rd)")
    p.add_argument("--crop", help="images: Kodak-like downscale + centre crop, e.g. 768x512")
    p.add_argument("--excerpt", type=float, help="audio: excerpt length in seconds (e.g. 10)")
    p.add_argument("--offset", type=float, default=0.0, help="audio: excerpt start in seconds (default 0)")
    p.add_argument("--frames", type=int, help="video: number of frames from the start")
    p.add_argument("--cache", help="cache file of computed points (default: OUT/.NAME.cache.jsonl)")
    p.add_argument("--limit", type=int, help="use only the first N items")
    p.add_argument("--speech-metrics", action="store_true", help="audio: also PESQ (wide-band) and STOI")
    p.add_argument("--plugin", action="append", help="import MODULE first (it registers codecs); repeatable")
    p.add_argument("--title", help="plot title")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_rd_command)


#: Functions that add a benchmark under ``ncodec bench``.
BENCH_REGISTRARS: list[Callable[[Any], None]] = [_register_rd]
#: Modules with ``register_bench(bench_subparsers)``, imported when the parser is built.
BENCH_MODULES: list[str] = []


def register(subparsers: Any) -> None:
    """Add ``bench`` (with ``rd`` and any other registered benchmark) to the ``ncodec`` parser."""
    bench = subparsers.add_parser(
        "bench",
        help="benchmarks (rd: rate–distortion)",
        description="Benchmarks of ncodec and classical codecs.",
    )
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")

    def _help(_args: argparse.Namespace) -> int:
        bench.print_help()
        return 2

    bench.set_defaults(func=_help)
    for f in BENCH_REGISTRARS:
        f(bench_sub)
    for mod in BENCH_MODULES:
        importlib.import_module(mod).register_bench(bench_sub)
