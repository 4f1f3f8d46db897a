#!/usr/bin/env python
"""Fuzz the codecs' decoders with mutated real files (logic: ``ncodec.codecs.fuzz``).

    python scripts/fuzz_codecs.py --cases 1000000 --jobs 2                   # every shipped model
    python scripts/fuzz_codecs.py --model image-hyperprior-v5 --cases 20000 --json out.json
    python scripts/fuzz_codecs.py --model tests/golden/image/golden-fsq.safetensors --save-failures DIR

Each case is refused with an NcodecError, decodes to the seed's media, or is exactly another valid file
of the codec; anything else (a traceback, a hang past --time-limit, a wrong decode) is a failure, and the
exit status is 1 (the failing files are written to --save-failures).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ncodec.codecs.fuzz import CodecFuzzReport, run_codec_fuzz, seeds_for
from ncodec.codecs.registry import available_models, load


def _job(args: tuple[str, int, int, float]) -> CodecFuzzReport:
    model, n, seed, limit = args

    def progress(rep: CodecFuzzReport) -> None:
        if rep.cases % 10000 == 0:
            line = f"  {model} {rep.cases:>9} cases {rep.seconds:7.1f} s {dict(rep.outcomes)}"
            print(line, file=sys.stderr)

    return run_codec_fuzz(seeds_for(load(model)), n, seed=seed, time_limit=limit, progress=progress)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="model name or weights file (default: all shipped)")
    ap.add_argument("--cases", type=int, default=100_000, help="cases per model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (each gets its own seed)")
    ap.add_argument("--time-limit", type=float, default=20.0, help="seconds per case before it is a hang")
    ap.add_argument("--save-failures", type=Path)
    ap.add_argument("--json", type=Path, help="write the summary here")
    args = ap.parse_args(argv)
    models = args.model or sorted(available_models())
    jobs = max(1, args.jobs)
    summary, failed = {}, 0
    for model in models:
        per = [args.cases // jobs + (i < args.cases % jobs) for i in range(jobs)]
        work = [(model, n, args.seed * 1000 + i, args.time_limit) for i, n in enumerate(per)]
        if jobs == 1:
            reports = [_job(work[0])]
        else:
            with ProcessPoolExecutor(jobs) as ex:
                reports = list(ex.map(_job, work))
        outcomes, kinds = Counter(), Counter()
        for r in reports:
            outcomes.update(r.outcomes)
            kinds.update(r.kinds)
        failures = [f for r in reports for f in r.failures]
        failed += len(failures)
        summary[model] = {
            "cases": sum(r.cases for r in reports),
            "outcomes": dict(outcomes),
            "mutations": dict(kinds),
            "seconds": round(max(r.seconds for r in reports), 1),
            "slowest_case_s": round(max(r.slowest for r in reports), 3),
            "peak_rss_mb": round(max(r.peak_rss_mb for r in reports)),
        }
        m = summary[model]
        print(f"{model}: {m['cases']} cases, {dict(outcomes)}, {m['seconds']} s, "
              f"slowest {m['slowest_case_s']} s, peak {m['peak_rss_mb']} MB")  # fmt: skip
        for i, (seed, kind, err, data) in enumerate(failures):
            print(f"  FAIL {seed} {kind}: {err.splitlines()[0]}")
            if args.save_failures:
                args.save_failures.mkdir(parents=True, exist_ok=True)
                (args.save_failures / f"{Path(model).stem}-{i}-{kind}.ncd").write_bytes(data)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
