#!/usr/bin/env python
"""Per-item BD-rates of an ``ncodec bench rd`` CSV: each codec against an anchor on every item, and over
the items (the mean of the per-item BD-rates, next to the harness's BD of the mean curve).

    python scripts/bd_per_item.py docs/results/video_rd.csv --anchor x264 --metric psnr \
        --out docs/results/video_rd_per_clip.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

from ncodec.errors import NcodecError
from ncodec.metrics.bd import bd_rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--anchor", required=True)
    ap.add_argument("--metric", action="append", help="quality column(s) (default: psnr)")
    ap.add_argument("--rate", default="bpp")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    metrics = a.metric or ["psnr"]
    curves: dict[str, dict[str, list[tuple[float, dict]]]] = defaultdict(lambda: defaultdict(list))
    with open(a.csv, newline="") as f:
        for row in csv.DictReader(f):
            curves[row["codec"]][row["item"]].append((float(row[a.rate]), row))
    if a.anchor not in curves:
        raise SystemExit(f"{a.anchor} is not in {a.csv}")
    out: dict = {"csv": a.csv, "anchor": a.anchor, "rate": a.rate, "bd_rate_percent": {}}
    for codec in sorted(curves):
        if codec == a.anchor:
            continue
        per: dict = {}
        for item, pts in sorted(curves[codec].items()):
            ref = sorted(curves[a.anchor].get(item, []), key=lambda p: p[0])
            pts = sorted(pts, key=lambda p: p[0])
            per[item] = {}
            for m in metrics:
                try:
                    v = bd_rate([p[0] for p in ref], [float(p[1][m]) for p in ref],
                                [p[0] for p in pts], [float(p[1][m]) for p in pts])  # fmt: skip
                except (NcodecError, ValueError) as exc:
                    v = None
                    per[item][f"{m}_error"] = str(exc)
                per[item][m] = v
        means = {}
        for m in metrics:
            vals = [r[m] for r in per.values() if r.get(m) is not None]
            means[m] = sum(vals) / len(vals) if vals else None
        out["bd_rate_percent"][codec] = {"items": per, "mean_of_items": means}
    for codec, r in out["bd_rate_percent"].items():
        for item, v in r["items"].items():
            cells = ", ".join(f"{m} {v[m]:+.1f}%" if v[m] is not None else f"{m} -" for m in metrics)
            print(f"{codec:<22} vs {a.anchor}: {Path(item).name:<26} {cells}")
        cells = ", ".join(
            f"{m} {v:+.1f}%" if v is not None else f"{m} -" for m, v in r["mean_of_items"].items()
        )
        print(f"{codec:<22} vs {a.anchor}: {'mean of the items':<26} {cells}")
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
