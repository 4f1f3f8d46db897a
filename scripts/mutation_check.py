#!/usr/bin/env python
"""Fault injection over ncodec's critical paths: does the test suite notice?

Each mutant is a one-line change a plausible bug would make (entropy tables, the coder's byte order,
CRCs, chunking, integer nets, quantizer inverses, BD-rate, each codec's encoder and decoder, header
checks).  For each, the script applies it to a copy of the tree, runs the tests that should catch it,
and records whether they failed (killed) or passed (survived); the source is restored either way.

    python scripts/mutation_check.py                       # this checkout (copied to a temp folder)
    python scripts/mutation_check.py --root OTHER_CHECKOUT # e.g. an older commit, for a before/after
    python scripts/mutation_check.py --out docs/results/mutation_check.json --only bd-

A mutant names alternative (file, find) pairs, so the same fault can be placed in an older layout of
the code; test files that a tree lacks are skipped.  It takes about 15-25 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMG = ["tests/test_image_golden.py", "tests/test_image_codec.py", "tests/test_image_tokens.py",
       "tests/test_image_headers.py", "tests/test_image_cli.py"]  # fmt: skip
ENT = ["tests/test_entropy.py", "tests/test_container.py", "tests/test_container_headers.py",
       "tests/test_image_golden.py"]  # fmt: skip

# id, [(file candidates...)], find, replace, tests
MUTANTS: list[tuple[str, list[str], str, str, list[str]]] = [
    ("tables-remainder-rank", ["src/ncodec/entropy/tables.py"],
     "q = q + (rank < rem)", "q = q + (rank <= rem)", ENT),
    ("tables-remainder-order", ["src/ncodec/entropy/tables.py"],
     'order = np.argsort(-r, axis=-1, kind="stable")', 'order = np.argsort(r, axis=-1, kind="stable")', ENT),
    ("coder-byte-order", ["src/ncodec/entropy/coder.py"],
     'astype("<u4").tobytes()', 'astype(">u4").tobytes()', ENT),
    ("adaptive-context-boost", ["src/ncodec/entropy/priors.py"],
     "boost = self.gain * hits * scale // (trials + self.k0)",
     "boost = self.gain * hits * scale // (trials + self.k0 + 1)", ENT),
    ("container-crc-self-consistent", ["src/ncodec/container/ncd.py"],
     "return zlib.crc32(b) & 0xFFFFFFFF", "return zlib.crc32(bytes(b)[1:]) & 0xFFFFFFFF", ENT),
    ("container-chunk-span", ["src/ncodec/container/ncd.py"],
     "return [(s, min(self.chunk_len, n - s)) for s in range(0, n, self.chunk_len)]",
     "return [(s, min(self.chunk_len + 1, n - s)) for s in range(0, n, self.chunk_len)]", ENT),
    ("header-media-kind", ["src/ncodec/codecs/header.py", "src/ncodec/codecs/image.py"],
     "    if h.media.kind != ", "    if False and h.media.kind != ", IMG),
    ("header-quality-range", ["src/ncodec/codecs/header.py", "src/ncodec/codecs/image.py"],
     " or int(q_text) >= qualities", "", IMG),
    ("intnet-rounding", ["src/ncodec/codecs/integer_nets.py"],
     "a = torch.floor((acc + shift / 2) / shift)", "a = torch.floor(acc / shift)",
     ["tests/test_integer_nets.py", "tests/test_image_golden.py"]),
    ("intnet-leaky-ceil", ["src/ncodec/codecs/integer_nets.py"],
     'neg = torch.floor(a * p["num"] / float(1 << p["shift"]))',
     'neg = torch.ceil(a * p["num"] / float(1 << p["shift"]))',
     ["tests/test_integer_nets.py", "tests/test_image_golden.py"]),
    ("intnet-input-grid", ["src/ncodec/codecs/integer_nets.py"],
     'a = torch.round(x.detach().to("cpu", torch.float64) * (1 << self.act_bits))',
     'a = torch.floor(x.detach().to("cpu", torch.float64) * (1 << self.act_bits))',
     ["tests/test_integer_nets.py", "tests/test_image_golden.py"]),
    ("fsq-inverse-offset", ["src/ncodec/quantizers/fsq.py"],
     "symbols = (torch.round(rows * half).long() + self._levels // 2).clamp(",
     "symbols = (torch.round(rows * half).long() + (self._levels + 1) // 2).clamp(",
     ["tests/test_quantizers.py"]),
    ("rvq-residual", ["src/ncodec/quantizers/rvq.py"],
     "residual = residual - stage.out_proj(stage.codes()[idx])",
     "residual = residual - 0.5 * stage.out_proj(stage.codes()[idx])", ["tests/test_quantizers.py"]),
    ("bd-quadratic-fit", ["src/ncodec/metrics/bd.py"],
     "np.polyfit(x, y, 3)", "np.polyfit(x, y, 2)", ["tests/test_metrics.py", "tests/test_rd.py"]),
    ("bd-scaled-2pct", ["src/ncodec/metrics/bd.py"],
     "return float((10.0**diff - 1.0) * 100.0)", "return float((10.0**diff - 1.0) * 98.0)",
     ["tests/test_metrics.py", "tests/test_rd.py"]),
    ("image-decoder-plus-one-level", ["src/ncodec/codecs/image/codec.py", "src/ncodec/codecs/image.py"],
     "x = self._synthesis(y_hat).clamp_(0, 1)", "x = (self._synthesis(y_hat) + 1 / 255).clamp_(0, 1)", IMG),
    ("image-encoder-gain", ["src/ncodec/codecs/image/codec.py", "src/ncodec/codecs/image.py"],
     "        y = y * g\n", "        y = y * g * 1.02\n", IMG),
    ("image-padding-mode", ["src/ncodec/codecs/image/base.py", "src/ncodec/codecs/image.py"],
     '(0, pw, 0, ph), mode="replicate")', '(0, pw, 0, ph), mode="reflect")', IMG),
    ("image-checkerboard-parity", ["src/ncodec/codecs/image/codec.py", "src/ncodec/codecs/image.py"],
     "    odd = (np.arange(h) % 2 == 1)[:, None]\n    return np.where(odd, v[..., 1], v[..., 0])",
     "    odd = (np.arange(h) % 2 == 0)[:, None]\n    return np.where(odd, v[..., 1], v[..., 0])", IMG),
    ("token-decoder-plus-2", ["src/ncodec/codecs/image/tokens.py", "src/ncodec/codecs/image_tokens.py"],
     "return self.model.g_s(y).clamp_(0, 1)[:, :, : t.height, : t.width]",
     "return (self.model.g_s(y) + 2 / 255).clamp_(0, 1)[:, :, : t.height, : t.width]", IMG),
]  # fmt: skip


def _locate(root: Path, files: list[str], find: str) -> Path | None:
    for f in files:
        p = root / f
        if p.is_file() and p.read_text().count(find) == 1:
            return p
    return None


def run(root: Path, only: str, timeout: int) -> list[dict]:
    results = []
    env = dict(os.environ, PYTHONPATH=str(root / "src"), PYTHONDONTWRITEBYTECODE="1")
    for mid, files, find, repl, tests in MUTANTS:
        if only and not mid.startswith(only):
            continue
        path = _locate(root, files, find)
        if path is None:
            results.append({"mutant": mid, "status": "not placed"})
            print(f"{mid:34s} not placed (the code is not in this tree)", flush=True)
            continue
        present = [t for t in tests if (root / t).is_file()]
        original = path.read_text()
        path.write_text(original.replace(find, repl))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *present],
                cwd=root, env=env, capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
            status = "survived" if proc.returncode == 0 else "killed"
            tail = (proc.stdout.strip().splitlines() or [""])[-1]
        except subprocess.TimeoutExpired:
            status, tail = "killed", "timeout"
        finally:
            path.write_text(original)
        sec = time.perf_counter() - t0
        results.append({"mutant": mid, "file": str(path.relative_to(root)), "status": status,
                        "seconds": round(sec, 1), "tests": present, "pytest": tail})  # fmt: skip
        print(f"{mid:34s} {status:9s} {sec:6.1f} s  {tail}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1]), help="checkout to mutate")
    ap.add_argument("--only", default="", help="run the mutants whose id starts with this")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per mutant's test run")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    src = Path(args.root).resolve()
    with tempfile.TemporaryDirectory(prefix="ncodec-mutants-") as tmp:
        root = Path(tmp) / "tree"
        shutil.copytree(src, root, ignore=shutil.ignore_patterns(".git", ".venv*", "runs", "__pycache__"))
        t0 = time.perf_counter()
        results = run(root, args.only, args.timeout)
    placed = [r for r in results if r["status"] != "not placed"]
    killed = sum(r["status"] == "killed" for r in placed)
    score = killed / len(placed) if placed else float("nan")
    print(f"mutation score {killed}/{len(placed)} = {score:.0%} ({time.perf_counter() - t0:.0f} s)")
    if args.out:
        doc = {"root": str(src), "killed": killed, "placed": len(placed), "score": score,
               "seconds": round(time.perf_counter() - t0), "mutants": results}  # fmt: skip
        Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
