#!/usr/bin/env python
"""Benchmark the quantizer kernels: Triton vs the torch reference vs vector-quantize-pytorch.

For every kernel and size it reports the median time, the achieved GB/s (fewest bytes: each input read
once, each output written once) and TFLOP/s (VQ/RVQ: ``2 N K D`` per stage), next to the two ceilings
measured in the same run on the same device: copy bandwidth (a large device-to-device copy, bytes read
plus written) and the dense matmul rate (``torch.mm``, per dtype).  Before timing, each Triton result is
checked against the reference (``check`` column: fraction of equal indices / symbols).

Targets (H100/H200): VQ search >= 60% of the same-dtype matmul rate for K >= 16384 and D >= 64 and >= 5x
vector-quantize-pytorch; FSQ/BSQ/LFQ >= 80% of copy bandwidth.  The ``target`` column says whether a row
meets its target (blank where none applies).

GPU timing uses ``triton.testing.do_bench`` (CUDA events, warm-up, median); inputs are larger than the
L2 cache for the memory-bound kernels; random data, never zeros.  ``--device cpu`` times the reference and
vector-quantize-pytorch at modest sizes with a host clock (Triton kernels need a GPU; the CPU interpreter
is for correctness only).

    python scripts/bench_kernels.py                      # cuda if available, full sizes
    python scripts/bench_kernels.py --device cpu --quick # small CPU run
    python scripts/bench_kernels.py --json docs/results/bench_kernels_h100.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from ncodec.kernels import reference as ref

Row = dict[str, object]


# ----------------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], object], device: torch.device, *, rep_ms: float, min_reps: int = 3) -> float:
    """Median wall time of ``fn`` in milliseconds (CUDA events on GPU, a host clock on CPU)."""
    if device.type == "cuda":
        import triton.testing

        ms = triton.testing.do_bench(fn, warmup=max(10, rep_ms / 4), rep=rep_ms, return_mode="median")
        return float(ms)
    fn()  # warm-up
    times: list[float] = []
    budget = time.perf_counter() + rep_ms / 1000.0
    while len(times) < min_reps or time.perf_counter() < budget:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
        if len(times) >= 50:
            break
    return statistics.median(times)


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _try(fn: Callable[[], float], device: torch.device) -> float | str:
    """Run a timing; out-of-memory (the N x K matrix of vector-quantize-pytorch) is reported, not fatal."""
    try:
        return fn()
    except (torch.cuda.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if "out of memory" not in str(exc).lower() and not isinstance(exc, (MemoryError,)):
            raise
        return "OOM"
    finally:
        _free(device)


# ----------------------------------------------------------------------------------------------------
# ceilings
# ----------------------------------------------------------------------------------------------------


def copy_bandwidth(device: torch.device, nbytes: int, rep_ms: float) -> float:
    """GB/s of a large device-to-device copy, counting bytes read plus bytes written."""
    src = torch.randn(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    ms = time_ms(partial(dst.copy_, src), device, rep_ms=rep_ms)
    return 2 * nbytes / (ms * 1e-3) / 1e9


def matmul_rate(device: torch.device, n: int, dtype: torch.dtype, tf32: bool, rep_ms: float) -> float:
    """TFLOP/s of an ``n x n x n`` ``torch.mm`` in ``dtype`` (float32 with or without TF32)."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        out = torch.empty(n, n, device=device, dtype=dtype)
        ms = time_ms(lambda: torch.mm(a, b, out=out), device, rep_ms=rep_ms)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    _free(device)
    return 2 * n**3 / (ms * 1e-3) / 1e12


# ----------------------------------------------------------------------------------------------------
# vector-quantize-pytorch baselines
# ----------------------------------------------------------------------------------------------------


def _vqp():
    try:
        import vector_quantize_pytorch as vqp
    except ImportError:
        return None
    return vqp


def vqp_vq(codebook: torch.Tensor):
    """vector-quantize-pytorch ``VectorQuantize`` in eval mode holding ``codebook`` (float32)."""
    vqp = _vqp()
    if vqp is None:
        return None
    k, d = codebook.shape
    m = vqp.VectorQuantize(dim=d, codebook_size=k).to(codebook.device).eval()
    with torch.no_grad():
        m._codebook.embed.copy_(codebook.float()[None])
    return lambda x: m(x[None])[1][0]


def vqp_rvq(codebooks: torch.Tensor):
    vqp = _vqp()
    if vqp is None:
        return None
    s, k, d = codebooks.shape
    m = vqp.ResidualVQ(dim=d, num_quantizers=s, codebook_size=k).to(codebooks.device).eval()
    with torch.no_grad():
        for i, layer in enumerate(m.layers):
            layer._codebook.embed.copy_(codebooks[i].float()[None])
    return lambda x: m(x[None])[1][0]


def vqp_fsq(levels: list[int], device: torch.device):
    vqp = _vqp()
    if vqp is None:
        return None
    m = vqp.FSQ(levels=levels).to(device).eval()
    return lambda z: m(z[None])[1]


def vqp_lfq(d: int, spherical: bool, device: torch.device):
    vqp = _vqp()
    if vqp is None:
        return None
    m = vqp.LFQ(dim=d, codebook_size=2**d, spherical=spherical, entropy_loss_weight=0.0).to(device).eval()
    return lambda z: m(z[None])[1]


# ----------------------------------------------------------------------------------------------------
# benchmark bodies
# ----------------------------------------------------------------------------------------------------


def _frac_equal(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.reshape(-1) == b.reshape(-1)).float().mean().item())


class Bench:
    """Collects rows; knows the device, its ceilings and whether the Triton kernels can run."""

    def __init__(self, device: torch.device, rep_ms: float, with_vqp: bool, interpret: bool = False) -> None:
        self.device = device
        self.rep_ms = rep_ms
        self.with_vqp = with_vqp
        self.rows: list[Row] = []
        self.ceilings: dict[str, float] = {}
        self.triton = device.type == "cuda" or interpret
        if self.triton:
            from ncodec.kernels import _triton_common, triton_binary, triton_fsq, triton_vq

            self.common, self.tvq, self.tfsq, self.tbin = _triton_common, triton_vq, triton_fsq, triton_binary

    def measure_ceilings(self, copy_bytes: int, mm_n: int) -> None:
        dev = self.device
        self.ceilings["copy_GBps"] = copy_bandwidth(dev, copy_bytes, self.rep_ms)
        self.ceilings["mm_fp32_TFLOPs"] = matmul_rate(dev, mm_n, torch.float32, False, self.rep_ms)
        if dev.type == "cuda":
            self.ceilings["mm_tf32_TFLOPs"] = matmul_rate(dev, mm_n, torch.float32, True, self.rep_ms)
            self.ceilings["mm_bf16_TFLOPs"] = matmul_rate(dev, mm_n, torch.bfloat16, False, self.rep_ms)
            self.ceilings["mm_fp16_TFLOPs"] = matmul_rate(dev, mm_n, torch.float16, False, self.rep_ms)

    def _mm_ceiling(self, dtype: torch.dtype, tf32: bool) -> float | None:
        name = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "tf32" if tf32 else "fp32")
        return self.ceilings.get(f"mm_{name}_TFLOPs")

    def add(self, kernel: str, impl: str, dtype: str, shape: str, ms: float | str, nbytes: float,
            flops: float, *, check: float | None = None, target: str = "", ceiling: str = "copy",
            mm_ceiling: float | None = None, vqp_ms: float | str | None = None) -> None:
        row: Row = {"kernel": kernel, "impl": impl, "dtype": dtype, "shape": shape, "check": check}
        if isinstance(ms, str):
            row.update(time_ms=None, note=ms)
            self.rows.append(row)
            return
        sec = ms * 1e-3
        row.update(time_ms=ms, GBps=nbytes / sec / 1e9, TFLOPs=flops / sec / 1e12 if flops else None)
        if ceiling == "copy" and self.ceilings.get("copy_GBps"):
            row["frac_of_ceiling"] = row["GBps"] / self.ceilings["copy_GBps"]
        elif ceiling == "mm" and mm_ceiling:
            row["frac_of_ceiling"] = row["TFLOPs"] / mm_ceiling
        if isinstance(vqp_ms, float):
            row["speedup_vs_vqp"] = vqp_ms / ms
        if target and impl == "triton":
            row["target"] = target
            row["meets_target"] = _meets(target, row)
        self.rows.append(row)

    # -- VQ -------------------------------------------------------------------------------------------
    def vq(self, n: int, k: int, d: int, dtypes: list[torch.dtype]) -> None:
        dev = self.device
        x32 = torch.randn(n, d, device=dev)
        c32 = torch.randn(k, d, device=dev)
        shape = f"N={n} K={k} D={d}"
        flops = 2.0 * n * k * d
        vqp_ms: float | str | None = None
        if self.with_vqp:
            f = vqp_vq(c32)
            if f is not None:
                vqp_ms = _try(partial(time_ms, partial(f, x32), dev, rep_ms=self.rep_ms), dev)
                del f
                _free(dev)
                self.add("vq_search", "vector-quantize-pytorch", "float32", shape, vqp_ms,
                         4.0 * (n * d + k * d) + 8 * n, flops, ceiling="mm",
                         mm_ceiling=self._mm_ceiling(torch.float32, False))
        big = k >= 16384 and d >= 64
        for dtype in dtypes:
            x, c = x32.to(dtype), c32.to(dtype)
            e = x.element_size()
            nbytes = e * (n * d + k * d) + 8.0 * n
            name = str(dtype).replace("torch.", "")
            ref_ms = time_ms(partial(ref.vq_search, x, c), dev, rep_ms=self.rep_ms)
            self.add("vq_search", "torch-reference", name, shape, ref_ms, nbytes, flops, ceiling="mm",
                     mm_ceiling=self._mm_ceiling(dtype, False))
            if not self.triton:
                continue
            variants = [(False, name)] + ([(True, "tf32")] if dtype == torch.float32 else [])
            for tf32, label in variants:
                self.common.POISON = True
                got = self.tvq.vq_search_triton(x, c, allow_tf32=tf32)
                self.common.POISON = False
                check = _frac_equal(got, ref.vq_search(x, c))
                fn = partial(self.tvq.vq_search_triton, x, c, allow_tf32=tf32)
                ms = time_ms(fn, dev, rep_ms=self.rep_ms)
                target = ">=60% mm & >=5x vqp" if big else ""
                self.add("vq_search", "triton", label, shape, ms, nbytes, flops, check=check, target=target,
                         ceiling="mm", mm_ceiling=self._mm_ceiling(dtype, tf32),
                         vqp_ms=vqp_ms if dtype == torch.float32 else None)
            _free(dev)

    # -- EMA codebook statistics ---------------------------------------------------------------------
    def ema_stats(self, n: int, k: int, d: int) -> None:
        """The torch ops the VQ quantizer's EMA update runs (bincount + index_add_), against copy bandwidth
        and against the search over the same batch: the evidence for (or against) a fused kernel."""
        dev = self.device
        x = torch.randn(n, d, device=dev)
        c = torch.randn(k, d, device=dev)
        idx = ref.vq_search(x, c)

        def stats() -> tuple[torch.Tensor, torch.Tensor]:
            counts = torch.bincount(idx, minlength=k).float()
            sums = torch.zeros(k, d, device=dev).index_add_(0, idx, x)
            return counts, sums

        nbytes = 4.0 * n * d + 8.0 * n + 4.0 * k * d + 4.0 * k
        ms = time_ms(stats, dev, rep_ms=self.rep_ms)
        shape = f"N={n} K={k} D={d}"
        self.add("ema_stats", "torch bincount+index_add", "float32", shape, ms, nbytes, 0)
        search = partial(self.tvq.vq_search_triton, x, c) if self.triton else partial(ref.vq_search, x, c)
        search_ms = time_ms(search, dev, rep_ms=self.rep_ms)
        self.rows[-1]["ema_over_search_time"] = ms / search_ms
        _free(dev)

    # -- RVQ ------------------------------------------------------------------------------------------
    def rvq(self, n: int, s: int, k: int, d: int) -> None:
        dev = self.device
        x = torch.randn(n, d, device=dev)
        cbs = torch.randn(s, k, d, device=dev) / math.sqrt(s)
        shape = f"N={n} S={s} K={k} D={d}"
        flops = 2.0 * n * s * k * d
        nbytes = 4.0 * (n * d + s * k * d + n * d) + 8.0 * n * s
        vqp_ms: float | str | None = None
        if self.with_vqp:
            f = vqp_rvq(cbs)
            if f is not None:
                vqp_ms = _try(partial(time_ms, partial(f, x), dev, rep_ms=self.rep_ms), dev)
                self.add("rvq_search", "vector-quantize-pytorch", "float32", shape, vqp_ms, nbytes, flops,
                         ceiling="mm", mm_ceiling=self._mm_ceiling(torch.float32, False))
        ref_ms = time_ms(lambda: ref.rvq_search(x, cbs), dev, rep_ms=self.rep_ms)
        self.add("rvq_search", "torch-reference", "float32", shape, ref_ms, nbytes, flops, ceiling="mm",
                 mm_ceiling=self._mm_ceiling(torch.float32, False))
        if not self.triton:
            return
        want = ref.rvq_search(x, cbs)[0]
        for fused in (True, False):
            check = _frac_equal(self.tvq.rvq_search_triton(x, cbs, fused=fused)[0], want)
            ms = time_ms(partial(self.tvq.rvq_search_triton, x, cbs, fused=fused), dev, rep_ms=self.rep_ms)
            self.add("rvq_search", "triton" + (" fused" if fused else " per-stage"), "float32", shape, ms,
                     nbytes, flops, check=check, ceiling="mm",
                     mm_ceiling=self._mm_ceiling(torch.float32, False), vqp_ms=vqp_ms)

    # -- FSQ ------------------------------------------------------------------------------------------
    def fsq(self, m: int, levels: list[int], dtypes: list[torch.dtype]) -> None:
        dev = self.device
        d = len(levels)
        z32 = torch.randn(m, d, device=dev) * 2
        shape = f"M={m} levels={levels}"
        if self.with_vqp:
            f = vqp_fsq(levels, dev)
            if f is not None:
                ms = _try(partial(time_ms, partial(f, z32), dev, rep_ms=self.rep_ms), dev)
                self.add("fsq_quantize", "vector-quantize-pytorch", "float32", shape, ms,
                         4.0 * m * d + 4.0 * m * d + 8.0 * m, 0)
        for dtype in dtypes:
            z = z32.to(dtype)
            nbytes = z.element_size() * m * d + 8.0 * m * d + 8.0 * m
            name = str(dtype).replace("torch.", "")
            ms = time_ms(partial(ref.fsq_quantize, z, levels), dev, rep_ms=self.rep_ms)
            self.add("fsq_quantize", "torch-reference", name, shape, ms, nbytes, 0)
            if self.triton:
                got = self.tfsq.fsq_quantize_triton(z, levels)[1]
                check = _frac_equal(got, ref.fsq_quantize(z, levels)[1])
                ms = time_ms(partial(self.tfsq.fsq_quantize_triton, z, levels), dev, rep_ms=self.rep_ms)
                self.add("fsq_quantize", "triton", name, shape, ms, nbytes, 0, check=check,
                         target=">=80% copy")
        packed = ref.fsq_quantize(z32, levels)[1]
        nbytes = 8.0 * m + 4.0 * m * d
        ms = time_ms(partial(ref.fsq_dequantize, packed, levels), dev, rep_ms=self.rep_ms)
        self.add("fsq_dequantize", "torch-reference", "int64->float32", shape, ms, nbytes, 0)
        if self.triton:
            got = self.tfsq.fsq_dequantize_triton(packed, levels)
            check = _frac_equal(got, ref.fsq_dequantize(packed, levels))
            ms = time_ms(partial(self.tfsq.fsq_dequantize_triton, packed, levels), dev, rep_ms=self.rep_ms)
            self.add("fsq_dequantize", "triton", "int64->float32", shape, ms, nbytes, 0, check=check,
                     target=">=80% copy")
        _free(dev)

    # -- BSQ / LFQ ------------------------------------------------------------------------------------
    def binary(self, m: int, d: int, group_size: int, spherical: bool, dtypes: list[torch.dtype]) -> None:
        dev = self.device
        kind = "bsq" if spherical else "lfq"
        z32 = torch.randn(m, d, device=dev)
        groups = -(-d // group_size)
        shape = f"M={m} d={d} group={group_size}"
        if self.with_vqp:
            f = vqp_lfq(d, spherical, dev)
            if f is not None:
                ms = _try(partial(time_ms, partial(f, z32), dev, rep_ms=self.rep_ms), dev)
                self.add(f"{kind}_quantize", "vector-quantize-pytorch", "float32", shape, ms,
                         4.0 * m * d * 2 + 8.0 * m, 0)
        for dtype in dtypes:
            z = z32.to(dtype)
            nbytes = z.element_size() * m * d + 4.0 * m * d + 8.0 * m + 8.0 * m * groups
            name = str(dtype).replace("torch.", "")
            fn = partial(ref.binary_quantize, z, spherical=spherical, group_size=group_size)
            ms = time_ms(fn, dev, rep_ms=self.rep_ms)
            self.add(f"{kind}_quantize", "torch-reference", name, shape, ms, nbytes, 0)
            if self.triton:
                got = self.tbin.binary_quantize_triton(z, spherical=spherical, group_size=group_size)
                check = _frac_equal(got[1], ref.binary_quantize(z, spherical=spherical)[1])
                fn = partial(self.tbin.binary_quantize_triton, z, spherical=spherical, group_size=group_size)
                ms = time_ms(fn, dev, rep_ms=self.rep_ms)
                self.add(f"{kind}_quantize", "triton", name, shape, ms, nbytes, 0, check=check,
                         target=">=80% copy")
        packed = ref.binary_quantize(z32, spherical=spherical)[1]
        nbytes = 8.0 * m + 4.0 * m * d
        ms = time_ms(partial(ref.binary_dequantize, packed, d, spherical=spherical), dev, rep_ms=self.rep_ms)
        self.add(f"{kind}_dequantize", "torch-reference", "int64->float32", shape, ms, nbytes, 0)
        if self.triton:
            check = _frac_equal(self.tbin.binary_dequantize_triton(packed, d, spherical=spherical),
                                ref.binary_dequantize(packed, d, spherical=spherical))
            fn = partial(self.tbin.binary_dequantize_triton, packed, d, spherical=spherical)
            ms = time_ms(fn, dev, rep_ms=self.rep_ms)
            self.add(f"{kind}_dequantize", "triton", "int64->float32", shape, ms, nbytes, 0, check=check,
                     target=">=80% copy")
        _free(dev)


def _meets(target: str, row: Row) -> bool | None:
    frac = row.get("frac_of_ceiling")
    if frac is None:
        return None
    if target.startswith(">=80% copy"):
        return frac >= 0.8
    if target.startswith(">=60% mm"):
        speed = row.get("speedup_vs_vqp")
        return frac >= 0.6 and (speed is None or speed >= 5.0)
    return None


# ----------------------------------------------------------------------------------------------------
# sizes, output
# ----------------------------------------------------------------------------------------------------


def plan(device: torch.device, quick: bool, interpret: bool = False) -> dict:
    if interpret:  # exercises every code path of this script on CPU; the times mean nothing
        return {"copy_bytes": 1 << 22, "mm_n": 256, "rep_ms": 1.0, "vq": [(40, 300, 20)],
                "vq_dtypes": [torch.float32, torch.bfloat16], "rvq": [(40, 2, 64, 16)],
                "ema": [(40, 300, 20)], "fsq": [(200, [8, 5, 5, 5])], "binary": [(200, 18, 9)],
                "scalar_dtypes": [torch.float32]}
    if device.type == "cuda":
        vq = [(65536, 16384, 64), (65536, 16384, 256), (65536, 65536, 128), (65536, 100_000, 256),
              (16384, 262144, 256), (1024, 262144, 64), (65536, 16384, 512)]
        if quick:
            vq = [(65536, 16384, 64), (1024, 262144, 64)]
        return {"copy_bytes": 1 << 30, "mm_n": 8192, "rep_ms": 200.0,
                "vq": vq, "vq_dtypes": [torch.bfloat16, torch.float16, torch.float32],
                "rvq": [(65536, 8, 1024, 128)] if not quick else [(16384, 4, 1024, 128)],
                "ema": [(65536, 16384, 256), (65536, 1024, 64)],
                "fsq": [(1 << 24, [8, 8, 8, 5, 5, 5]), (1 << 24, [8, 5, 5, 5])],
                "binary": [(1 << 24, 18, 9), (1 << 22, 36, 12)],
                "scalar_dtypes": [torch.float32, torch.bfloat16]}
    vq = [(2048, 4096, 64), (1024, 16384, 256)] if not quick else [(1024, 4096, 64)]
    return {"copy_bytes": 1 << 27, "mm_n": 1024, "rep_ms": 300.0 if not quick else 100.0,
            "vq": vq, "vq_dtypes": [torch.float32, torch.bfloat16],
            "rvq": [(4096, 4, 1024, 64)] if not quick else [(1024, 4, 256, 64)],
            "ema": [(4096, 4096, 64)] if not quick else [(1024, 1024, 64)],
            "fsq": [(1 << 18, [8, 8, 8, 5, 5, 5])], "binary": [(1 << 18, 18, 9)],
            "scalar_dtypes": [torch.float32]}


def _fmt(v: object, spec: str) -> str:
    return "" if v is None else format(v, spec)


def print_table(bench: Bench) -> None:
    c = bench.ceilings
    print(f"\ndevice: {describe(bench.device)}")
    print("ceilings: " + ", ".join(f"{k}={v:.4g}" for k, v in c.items()))
    head = f"{'kernel':16} {'impl':24} {'dtype':15} {'shape':34} {'ms':>9} {'GB/s':>8} {'TFLOP/s':>8} " \
           f"{'%ceil':>6} {'x vqp':>7} {'check':>7} {'target':>5}"
    print(head)
    print("-" * len(head))
    for r in bench.rows:
        if r.get("time_ms") is None:
            print(f"{r['kernel']:16} {r['impl']:24} {r['dtype']:15} {r['shape']:34} {r.get('note', ''):>9}")
            continue
        frac = r.get("frac_of_ceiling")
        meets = r.get("meets_target")
        print(f"{r['kernel']:16} {r['impl']:24} {r['dtype']:15} {r['shape']:34} {r['time_ms']:9.3f} "
              f"{_fmt(r.get('GBps'), '8.1f'):>8} {_fmt(r.get('TFLOPs'), '8.2f'):>8} "
              f"{_fmt(None if frac is None else 100 * frac, '6.1f'):>6} "
              f"{_fmt(r.get('speedup_vs_vqp'), '7.1f'):>7} "
              f"{_fmt(r.get('check'), '7.4f'):>7} {'' if meets is None else ('yes' if meets else 'NO'):>5}"
              + (f"  EMA/search time {r['ema_over_search_time']:.2e}" if "ema_over_search_time" in r else ""))


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        return f"{p.name} ({p.multi_processor_count} SMs, {p.total_memory / 2**30:.0f} GiB)"
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    ap.add_argument("--device", default=default_device, choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="fewer, smaller sizes")
    ap.add_argument("--no-vqp", action="store_true", help="skip vector-quantize-pytorch")
    ap.add_argument("--only", default="", help="comma list of: vq,ema,rvq,fsq,binary")
    ap.add_argument("--json", type=Path, default=None, help="write the full results here")
    ap.add_argument("--interpret", action="store_true",
                    help="CPU only: also run the Triton kernels under TRITON_INTERPRET=1 at tiny sizes, to "
                    "exercise the whole script without a GPU (times are meaningless)")
    args = ap.parse_args(argv)
    if args.interpret:
        if args.device != "cpu":
            ap.error("--interpret needs --device cpu")
        os.environ["TRITON_INTERPRET"] = "1"  # before Triton is first imported
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device; use --device cpu", file=sys.stderr)
        return 2
    p = plan(device, args.quick, args.interpret)
    only = set(filter(None, args.only.split(","))) or {"vq", "ema", "rvq", "fsq", "binary"}
    torch.manual_seed(0)
    bench = Bench(device, p["rep_ms"], with_vqp=not args.no_vqp, interpret=args.interpret)
    bench.measure_ceilings(p["copy_bytes"], p["mm_n"])
    with torch.no_grad():
        if "vq" in only:
            for n, k, d in p["vq"]:
                bench.vq(n, k, d, p["vq_dtypes"])
        if "ema" in only:
            for n, k, d in p["ema"]:
                bench.ema_stats(n, k, d)
        if "rvq" in only:
            for n, s, k, d in p["rvq"]:
                bench.rvq(n, s, k, d)
        if "fsq" in only:
            for m, levels in p["fsq"]:
                bench.fsq(m, levels, p["scalar_dtypes"])
        if "binary" in only:
            for m, d, g in p["binary"]:
                for spherical in (True, False):
                    bench.binary(m, d, g, spherical, p["scalar_dtypes"])
    print_table(bench)
    if args.json is not None:
        write_json(bench, args)
        print(f"\nwrote {args.json}")
    return 0


def write_json(bench: Bench, args: argparse.Namespace) -> None:
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    doc = {
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": describe(bench.device),
        "device_type": bench.device.type,
        "torch": torch.__version__,
        "triton": triton_version,
        "command": " ".join(sys.argv),
        "quick": args.quick,
        "interpret": args.interpret,
        "ceilings": bench.ceilings,
        "notes": "time_ms: median; GBps: fewest bytes (inputs read once, outputs written once) / time; "
        "frac_of_ceiling: of copy_GBps (memory-bound kernels) or of the same-dtype mm rate (VQ/RVQ).",
        "rows": bench.rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
