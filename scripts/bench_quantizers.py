#!/usr/bin/env python
"""Quantizer benchmark: ncodec against vector-quantize-pytorch on the same inputs, in one run.

VQ nearest-code assignment at N=16384, D=256, K in {1024, 16384, 65536}: wall time and peak memory
(resident set growth above the inputs, measured in a fresh subprocess per case so cases don't share a
heap), for ncodec's bounded-memory search, a naive full-matrix torch search, and
vector-quantize-pytorch's ``VectorQuantize`` (eval forward).  FSQ/BSQ/LFQ throughput (positions per
second) for ncodec and vector-quantize-pytorch.  Prints a table and writes JSON.

    python scripts/bench_quantizers.py        # full run; vector-quantize-pytorch needs ~18 GB at K=65536
    python scripts/bench_quantizers.py --ks 1024 16384 --out /tmp/b.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------- child process
def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
    except OSError:
        pass


def child(case: dict) -> dict:
    import torch

    torch.manual_seed(case.get("seed", 0))
    kind = case["kind"]
    impl = case["impl"]
    if kind == "vq":
        n, d, k = case["n"], case["d"], case["k"]
        x = torch.randn(n, d)
        cb = torch.randn(k, d)
        if impl == "ncodec":
            from ncodec.quantizers import VQ

            q = VQ(d, k, kmeans_init=False).eval()
            q.codebook.copy_(cb)
            inp = x.T.reshape(1, d, n)

            def run():
                return q.quantize(inp).reshape(-1)

        elif impl == "torch_full":

            def run():
                dist = (cb * cb).sum(1)[None, :] - 2 * x @ cb.T
                return dist.argmin(1)

        else:
            from vector_quantize_pytorch import VectorQuantize

            q = VectorQuantize(dim=d, codebook_size=k, decay=0.99, kmeans_init=False).eval()
            q._codebook.embed.data.copy_(cb[None])
            inp = x[None]

            def run():
                with torch.no_grad():
                    return q(inp)[1].reshape(-1)

    else:  # fsq / bsq / lfq throughput on (B, C, H, W) latents
        b, h, w = case["b"], case["h"], case["w"]
        if kind == "fsq":
            levels = case["levels"]
            c = len(levels)
        else:
            c = case["bits"]
        z = torch.randn(b, c, h, w)
        if impl == "ncodec":
            from ncodec.quantizers import BSQ, FSQ, LFQ

            q = {"fsq": lambda: FSQ(levels), "bsq": lambda: BSQ(c, c), "lfq": lambda: LFQ(c, c)}[
                kind
            ]().eval()

            def run():
                with torch.no_grad():
                    idx = q.quantize(z)
                    return q.dequantize(idx), idx

        else:
            import vector_quantize_pytorch as vqp

            if kind == "fsq":
                q = vqp.FSQ(levels=levels, dim=c, channel_first=True).eval()
            else:
                q = vqp.LFQ(
                    dim=c, codebook_size=1 << c, spherical=kind == "bsq", entropy_loss_weight=0.0
                ).eval()

            def run():
                with torch.no_grad():
                    out = q(z)
                    return out[0], out[1]

    run()  # warm-up (also triggers lazy init)
    _reset_peak()
    base = _rss_kib("VmRSS")
    times = []
    for _ in range(case.get("repeats", 3)):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    peak = _rss_kib("VmHWM")
    res = {**case, "seconds": min(times), "peak_mib": max(0, peak - base) / 1024}
    if kind == "vq":
        res["checksum"] = int(result.sum())
        # correctness cross-check against the exact argmin on a sample of rows
        sample = torch.arange(0, x.shape[0], max(1, x.shape[0] // 256))
        exact = torch.cdist(x[sample].double(), cb.double()).argmin(1)
        res["agree_with_exact"] = float((result[sample] == exact).float().mean())
    else:
        res["positions_per_s"] = case["b"] * case["h"] * case["w"] / res["seconds"]
    return res


# --------------------------------------------------------------------------------------- parent
def run_case(case: dict, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(case)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**case, "error": f"timeout after {timeout:.0f}s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {**case, "error": f"exit {proc.returncode}: {tail[0][:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=16384)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--ks", type=int, nargs="+", default=[1024, 16384, 65536])
    ap.add_argument("--impls", nargs="+", default=["ncodec", "torch_full", "vqp"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "bench_quantizers.json"))
    args = ap.parse_args()
    if args.child:
        import torch

        case = json.loads(args.child)
        if case.get("threads"):
            torch.set_num_threads(case["threads"])
        print(json.dumps(child(case)))
        return 0

    import torch

    results = []
    for k in args.ks:
        for impl in args.impls:
            case = {"kind": "vq", "impl": impl, "n": args.n, "d": args.d, "k": k, "threads": args.threads}
            case["repeats"] = 3 if k <= 16384 else 1
            r = run_case(case, args.timeout)
            results.append(r)
            print(
                f"vq K={k:6d} {impl:10s} "
                + (r.get("error") or f"{r['seconds']:.3f}s {r['peak_mib']:.0f} MiB")
            )
    scalar_cases = [
        {"kind": "fsq", "levels": [8, 8, 8, 5, 5, 5]},
        {"kind": "bsq", "bits": 18},
        {"kind": "lfq", "bits": 18},
    ]
    for sc in scalar_cases:
        for impl in ("ncodec", "vqp"):
            if impl not in args.impls:
                continue
            case = {**sc, "impl": impl, "b": 16, "h": 64, "w": 64, "repeats": 5, "threads": args.threads}
            r = run_case(case, args.timeout)
            results.append(r)
            print(
                f"{sc['kind']} {impl:10s} " + (r.get("error") or f"{r['positions_per_s'] / 1e6:.2f} M pos/s")
            )

    print()
    print(f"{'case':34s} {'impl':11s} {'time s':>9s} {'peak MiB':>9s} {'vs vqp':>8s} {'agree':>6s}")
    by = {(r["kind"], r.get("k"), r["impl"]): r for r in results}
    for r in results:
        if r["kind"] != "vq":
            continue
        ref = by.get(("vq", r["k"], "vqp"), {})
        speed = f"{ref['seconds'] / r['seconds']:.1f}x" if "seconds" in ref and "seconds" in r else "-"
        label = f"VQ N={r['n']} D={r['d']} K={r['k']}"
        if "error" in r:
            print(f"{label:34s} {r['impl']:11s} {r['error']}")
            continue
        print(
            f"{label:34s} {r['impl']:11s} {r['seconds']:9.3f} {r['peak_mib']:9.0f} {speed:>8s} "
            f"{r['agree_with_exact']:6.3f}"
        )
    print(f"\n{'case':34s} {'impl':11s} {'M positions/s':>14s} {'vs vqp':>8s}")
    for r in results:
        if r["kind"] == "vq":
            continue
        ref = by.get((r["kind"], None, "vqp"), {})
        label = r["kind"].upper() + (f" levels={r['levels']}" if "levels" in r else f" bits={r.get('bits')}")
        if "error" in r:
            print(f"{label:34s} {r['impl']:11s} {r['error']}")
            continue
        speed = f"{r['positions_per_s'] / ref['positions_per_s']:.1f}x" if "positions_per_s" in ref else "-"
        print(f"{label:34s} {r['impl']:11s} {r['positions_per_s'] / 1e6:14.2f} {speed:>8s}")

    import vector_quantize_pytorch

    meta = {
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": args.threads or torch.get_num_threads(),
        "vector_quantize_pytorch": getattr(vector_quantize_pytorch, "__version__", "?"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
