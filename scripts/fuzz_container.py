#!/usr/bin/env python
"""Fuzz the .ncd reader with mutated files (logic: ``ncodec.container.fuzz``).

    python scripts/fuzz_container.py --cases 1000000 --seed 1 [--jobs 2] [--save-failures DIR]

Exit status 0 when every case decoded to the original tokens, raised FormatError, or (with recomputed
CRCs) was another valid file; 1 otherwise (failing inputs are written to --save-failures).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ncodec.container.fuzz import FuzzReport, run_fuzz


def _progress(rep: FuzzReport) -> None:
    print(f"  {rep.cases:>9} cases  {rep.seconds:7.1f} s  {dict(rep.outcomes)}", file=sys.stderr, flush=True)


def _job(args: tuple[int, int, float]) -> FuzzReport:
    n, seed, limit = args
    return run_fuzz(n, seed=seed, time_limit=limit, progress=_progress)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (each gets its own seed)")
    ap.add_argument(
        "--time-limit", type=float, default=10.0, help="seconds per case before it counts as a hang"
    )
    ap.add_argument("--save-failures", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write the summary here")
    args = ap.parse_args(argv)

    jobs = max(1, args.jobs)
    per = [args.cases // jobs + (i < args.cases % jobs) for i in range(jobs)]
    work = [(n, args.seed * 1000 + i, args.time_limit) for i, n in enumerate(per)]
    if jobs == 1:
        reports = [_job(work[0])]
    else:
        with ProcessPoolExecutor(jobs) as ex:
            reports = list(ex.map(_job, work))
    outcomes: Counter = Counter()
    kinds: Counter = Counter()
    failures = []
    for r in reports:
        outcomes.update(r.outcomes)
        kinds.update(r.kinds)
        failures.extend(r.failures)
    summary = {
        "cases": sum(r.cases for r in reports),
        "seconds": max(r.seconds for r in reports),
        "slowest_case_s": max(r.slowest for r in reports),
        "outcomes": dict(outcomes),
        "mutations": dict(kinds),
        "failures": [{"seed_file": s, "mutation": k, "error": e} for s, k, e, _ in failures],
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    if failures and args.save_failures:
        args.save_failures.mkdir(parents=True, exist_ok=True)
        for i, (s, k, _e, data) in enumerate(failures):
            (args.save_failures / f"fail-{i:03d}-{s}-{k}.ncd").write_bytes(data)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
