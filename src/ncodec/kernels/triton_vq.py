"""Triton nearest-neighbour search over a codebook (VQ) and all-stages residual search (RVQ).

The search never forms the ``N x K`` distance matrix.  Each program owns ``BLOCK_N`` rows of ``x`` and
walks (its share of) the codebook in tiles of ``BLOCK_K`` codes; a tile's scores come from ``tl.dot``
with float32 accumulation over ``D`` in chunks of ``BLOCK_D``, and only a running ``(min, argmin)`` per
row stays in registers.  Memory outside the inputs is ``O(N + K)``.

Scores.  Euclidean: ``h_k - x.c_k`` with ``h_k = ||c_k||^2 / 2``; twice that is ``||c||^2 - 2 x.c``
exactly (scaling by two is exact), so the argmin and the distance equal the reference's up to the
order of float32 accumulation.  Cosine: ``-(x.c_k) / max(||c_k||, eps)``; dividing by ``||x||`` (a
positive per-row constant) does not move the argmin, and is applied to the distance afterwards.

Ties break to the lowest index: within a tile ``tl.min(..., return_indices_tie_break_left=True)``, across
tiles a strict ``<`` (tiles are visited in increasing code order), and across codebook splits the first
minimum of ``torch.argmin`` (splits are ordered by code range).  Results do not depend on the block
sizes beyond float32 accumulation order.

Precision.  16-bit inputs are multiplied exactly (their products fit in float32) with float32
accumulation.  Float32 inputs use full-precision (``ieee``) products by default; ``allow_tf32=True``
trades that for the tensor cores' TF32 rate (about 3e-4 relative error in the scores, so near-tie
indices may differ from the reference).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ncodec.kernels import _triton_common as common
from ncodec.kernels.reference import _check_rvq_args, _check_search_args

_SUPPORTED = common.SUPPORTED_DTYPES
#: Codebook splits are multiples of this many codes, so every BLOCK_K of the tuning space divides them.
_SPLIT_QUANTUM = 256
#: Block sizes used under the CPU interpreter (small, so tests exercise many tiles and masks).
_INTERP_BLOCKS = {"BLOCK_N": 16, "BLOCK_K": 32, "BLOCK_D": 16}


@triton.jit
def _row_stat_kernel(src_ptr, out_ptr, R, D, stride_r, MODE: tl.constexpr, BLOCK_R: tl.constexpr,
                     BLOCK_D: tl.constexpr):
    """Per-row statistic in float32. MODE 0: ||v||^2 / 2; 1: 1 / max(||v||, 1e-12); 2: ||v||^2."""
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < R
    offs_d = tl.arange(0, BLOCK_D)
    acc = tl.zeros((BLOCK_R,), tl.float32)
    base = src_ptr + rows.to(tl.int64)[:, None] * stride_r
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + offs_d
        v = tl.load(base + dd[None, :], mask=rmask[:, None] & (dd < D)[None, :], other=0.0).to(tl.float32)
        acc += tl.sum(v * v, axis=1)
    if MODE == 0:
        res = acc * 0.5
    elif MODE == 1:
        res = 1.0 / tl.maximum(tl.sqrt(acc), 1e-12)
    else:
        res = acc
    tl.store(out_ptr + rows, res, mask=rmask)


@triton.jit
def _dot_tile(a, b, acc, UPCAST: tl.constexpr, PRECISION: tl.constexpr):
    """``acc + a @ b.T`` in float32. UPCAST multiplies in float32 (exact for 16-bit inputs)."""
    if UPCAST:
        a = a.to(tl.float32)
        b = b.to(tl.float32)
    return tl.dot(a, tl.trans(b), acc, input_precision=PRECISION)


@triton.jit
def _vq_argmin_kernel(
    x_ptr, c_ptr, w_ptr, val_ptr, idx_ptr,
    N, K, D, k_per_split,
    stride_xn, stride_cn, stride_on,
    SIZE_CLASS,
    COSINE: tl.constexpr, ONE_D_BLOCK: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """Running (min score, argmin) of rows ``pid0*BLOCK_N..`` over codes ``[pid1*k_per_split, ...)``.

    ``w`` is ``||c||^2/2`` (Euclidean) or ``1/||c||`` (cosine).  Writes ``val[n, pid1]`` (float32) and
    ``idx[n, pid1]`` (int64).  ``SIZE_CLASS`` only keys the autotuner's cache.
    """
    pid_n = tl.program_id(0)
    pid_s = tl.program_id(1)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < N
    offs_k = tl.arange(0, BLOCK_K)
    offs_d = tl.arange(0, BLOCK_D)
    k_start = pid_s * k_per_split
    k_end = tl.minimum(k_start + k_per_split, K)
    x_rows = x_ptr + rows.to(tl.int64)[:, None] * stride_xn
    best_val = tl.full((BLOCK_N,), float("inf"), tl.float32)
    best_idx = tl.zeros((BLOCK_N,), tl.int32)
    if ONE_D_BLOCK:
        # the whole row fits one chunk: load it once, so the codebook loop is the innermost (pipelined) loop
        xt = tl.load(x_rows + offs_d[None, :], mask=row_mask[:, None] & (offs_d < D)[None, :], other=0.0)
    for k0 in range(k_start, k_end, BLOCK_K):
        codes = k0 + offs_k
        code_mask = codes < k_end
        c_rows = c_ptr + codes.to(tl.int64)[:, None] * stride_cn
        acc = tl.zeros((BLOCK_N, BLOCK_K), tl.float32)
        if ONE_D_BLOCK:
            ct = tl.load(c_rows + offs_d[None, :], mask=code_mask[:, None] & (offs_d < D)[None, :], other=0.0)
            acc = _dot_tile(xt, ct, acc, UPCAST, PRECISION)
        else:
            for d0 in range(0, D, BLOCK_D):
                dd = d0 + offs_d
                dmask = (dd < D)[None, :]
                xc = tl.load(x_rows + dd[None, :], mask=row_mask[:, None] & dmask, other=0.0)
                ct = tl.load(c_rows + dd[None, :], mask=code_mask[:, None] & dmask, other=0.0)
                acc = _dot_tile(xc, ct, acc, UPCAST, PRECISION)
        if COSINE:
            w = tl.load(w_ptr + codes, mask=code_mask, other=0.0)
            score = tl.where(code_mask[None, :], -(acc * w[None, :]), float("inf"))
        else:
            # masked codes: h = +inf and acc = 0 there, so their score is +inf without a select
            w = tl.load(w_ptr + codes, mask=code_mask, other=float("inf"))
            score = w[None, :] - acc
        tile_val, tile_arg = tl.min(score, axis=1, return_indices=True, return_indices_tie_break_left=True)
        better = tile_val < best_val  # strict: earlier (lower-index) tiles win ties
        best_val = tl.where(better, tile_val, best_val)
        best_idx = tl.where(better, k0 + tile_arg, best_idx)
    out = rows.to(tl.int64) * stride_on + pid_s
    tl.store(val_ptr + out, best_val, mask=row_mask)
    tl.store(idx_ptr + out, best_idx.to(tl.int64), mask=row_mask)


@triton.jit
def _rvq_kernel(
    x_ptr, cb_ptr, h_ptr, res_ptr, q_ptr, idx_ptr,
    N, K, D, S,
    stride_xn, stride_cs, stride_ck, stride_hs, stride_rn, stride_qn, stride_in,
    PRECISION: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """All RVQ stages for ``BLOCK_N`` rows in one program.

    The float32 residual of the program's rows lives in ``res`` (only this program touches those rows;
    a barrier orders its writes before the next stage reads them).  Stage ``s`` searches codebook ``s``
    with the residual, writes ``idx[:, s]``, then ``res -= c`` and ``q += c`` in the reference's order.
    """
    pid = tl.program_id(0)
    rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    row_mask = rows < N
    rows64 = rows.to(tl.int64)
    offs_k = tl.arange(0, BLOCK_K)
    offs_d = tl.arange(0, BLOCK_D)
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + offs_d
        m = row_mask[:, None] & (dd < D)[None, :]
        xv = tl.load(x_ptr + rows64[:, None] * stride_xn + dd[None, :], mask=m, other=0.0).to(tl.float32)
        tl.store(res_ptr + rows64[:, None] * stride_rn + dd[None, :], xv, mask=m)
        tl.store(q_ptr + rows64[:, None] * stride_qn + dd[None, :], tl.zeros_like(xv), mask=m)
    tl.debug_barrier()
    for s in range(S):
        cb_s = cb_ptr + s * stride_cs
        best_val = tl.full((BLOCK_N,), float("inf"), tl.float32)
        best_idx = tl.zeros((BLOCK_N,), tl.int32)
        for k0 in range(0, K, BLOCK_K):
            codes = k0 + offs_k
            code_mask = codes < K
            acc = tl.zeros((BLOCK_N, BLOCK_K), tl.float32)
            for d0 in range(0, D, BLOCK_D):
                dd = d0 + offs_d
                dmask = (dd < D)[None, :]
                r = tl.load(res_ptr + rows64[:, None] * stride_rn + dd[None, :],
                            mask=row_mask[:, None] & dmask, other=0.0)
                ct = tl.load(cb_s + codes.to(tl.int64)[:, None] * stride_ck + dd[None, :],
                             mask=code_mask[:, None] & dmask, other=0.0).to(tl.float32)
                acc = tl.dot(r, tl.trans(ct), acc, input_precision=PRECISION)
            h = tl.load(h_ptr + s * stride_hs + codes, mask=code_mask, other=float("inf"))
            score = tl.where(code_mask[None, :], h[None, :] - acc, float("inf"))
            tile_val, tile_arg = tl.min(score, axis=1, return_indices=True,
                                        return_indices_tie_break_left=True)
            better = tile_val < best_val
            best_val = tl.where(better, tile_val, best_val)
            best_idx = tl.where(better, k0 + tile_arg, best_idx)
        tl.store(idx_ptr + rows64 * stride_in + s, best_idx.to(tl.int64), mask=row_mask)
        sel = best_idx.to(tl.int64)
        for d0 in range(0, D, BLOCK_D):
            dd = d0 + offs_d
            m = row_mask[:, None] & (dd < D)[None, :]
            cv = tl.load(cb_s + sel[:, None] * stride_ck + dd[None, :], mask=m, other=0.0).to(tl.float32)
            r_ptrs = res_ptr + rows64[:, None] * stride_rn + dd[None, :]
            q_ptrs = q_ptr + rows64[:, None] * stride_qn + dd[None, :]
            tl.store(r_ptrs, tl.load(r_ptrs, mask=m, other=0.0) - cv, mask=m)
            tl.store(q_ptrs, tl.load(q_ptrs, mask=m, other=0.0) + cv, mask=m)
        tl.debug_barrier()


def _configs() -> list[triton.Config]:
    """Autotuning space for the GPU (tile shapes as in the Triton matmul tutorial).

    Checked by compiling for sm_90a without a GPU (``ptxas -v``): 128x128x64/8 warps (one D block, bf16:
    149 registers, HGMMA) and 128x128x32/8 warps/4 stages (D loop, bf16: 228) do not spill, nor does
    64x128x32/8 warps for float32 ``ieee`` (FFMA path, 226); 128x128x64 in the D loop and float32 ``ieee``
    at 128x128 do spill, so they are left out.
    """
    out = []
    for bn, bk, bd, warps, stages in (
        (128, 128, 64, 8, 3), (128, 128, 32, 8, 4), (128, 256, 64, 8, 3), (64, 128, 32, 8, 3),
        (64, 64, 64, 4, 3), (128, 64, 32, 4, 4), (256, 128, 32, 8, 3), (64, 256, 32, 8, 3),
    ):
        blocks = {"BLOCK_N": bn, "BLOCK_K": bk, "BLOCK_D": bd}
        out.append(triton.Config(blocks, num_warps=warps, num_stages=stages))
    return out


def _prune(configs: list[triton.Config], named_args: dict, **kwargs) -> list[triton.Config]:
    """When the row fits one D block, every config's BLOCK_D must be that block; otherwise keep all."""
    if not kwargs.get("ONE_D_BLOCK", named_args.get("ONE_D_BLOCK")):
        return configs
    want = _one_block_d(named_args["D"])
    seen, kept = set(), []
    for c in configs:
        sig = (c.kwargs["BLOCK_N"], c.kwargs["BLOCK_K"], c.num_warps, c.num_stages)
        if sig not in seen:
            seen.add(sig)
            kept.append(triton.Config({**c.kwargs, "BLOCK_D": want}, num_warps=c.num_warps,
                                      num_stages=c.num_stages))
    return kept


_vq_argmin_tuned = None if common.INTERPRET else triton.autotune(
    configs=_configs(), key=["D", "SIZE_CLASS", "COSINE", "ONE_D_BLOCK", "UPCAST", "PRECISION"],
    prune_configs_by={"early_config_prune": _prune},
)(_vq_argmin_kernel)


def _one_block_d(d: int) -> int:
    return max(16, triton.next_power_of_2(d))


def _common_dtype(x: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both operands in one supported dtype; last dimension contiguous."""
    dt = x.dtype if (x.dtype == codebook.dtype and x.dtype in _SUPPORTED) else torch.float32
    x = x.to(dt)
    codebook = codebook.to(dt)
    if x.stride(-1) != 1:
        x = x.contiguous()
    if codebook.stride(-1) != 1:
        codebook = codebook.contiguous()
    return x, codebook


@torch.no_grad()
def row_stat(v: torch.Tensor, mode: int) -> torch.Tensor:
    """Per-row float32 statistic of a 2-D tensor (see ``_row_stat_kernel``)."""
    r, d = v.shape
    out = common.empty((r,), torch.float32, v.device)
    if r == 0:
        return out
    # the interpreter runs programs one by one: few, wide programs there
    block_r = min(4096, max(16, triton.next_power_of_2(triton.cdiv(r, 16)))) if common.INTERPRET else 64
    block_d = min(_one_block_d(d), 16 if common.INTERPRET else 128)
    _row_stat_kernel[(triton.cdiv(r, block_r),)](v, out, r, d, v.stride(0), MODE=mode, BLOCK_R=block_r,
                                                  BLOCK_D=block_d)
    return out


def _default_splits(n: int, k: int, device: torch.device, block_n: int) -> int:
    """Split the codebook when the row blocks alone would not fill the device (small N, large K)."""
    row_blocks = triton.cdiv(n, block_n)
    target = 2 * common.num_sms(device)
    if row_blocks >= target:
        return 1
    max_splits = max(1, k // (4 * _SPLIT_QUANTUM))  # keep at least ~1k codes per split
    return max(1, min(max_splits, triton.cdiv(target, row_blocks)))


@torch.no_grad()
def vq_search_triton(
    x: torch.Tensor,
    codebook: torch.Tensor,
    *,
    cosine: bool = False,
    return_distance: bool = False,
    allow_tf32: bool = False,
    splits: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Triton version of :func:`ncodec.kernels.reference.vq_search` (same arguments and results).

    ``splits`` divides the codebook among that many programs per row block (default: automatic, more
    when N is small); their partial minima are reduced in code order, so ties still go to the lowest
    index.  ``allow_tf32`` lets float32 inputs use TF32 tensor-core products (off by default).
    """
    _check_search_args(x, codebook)
    x, codebook = _common_dtype(x, codebook)
    n, d = x.shape
    k = codebook.shape[0]
    if n == 0:
        idx = torch.zeros(0, dtype=torch.long, device=x.device)
        return (idx, torch.zeros(0, dtype=torch.float32, device=x.device)) if return_distance else idx
    w = row_stat(codebook, 1 if cosine else 0)
    upcast = common.INTERPRET and x.dtype == torch.bfloat16  # the interpreter's bf16 dot is wrong
    # float32: full-precision products unless TF32 is allowed; 16-bit: Triton's default (exact products)
    precision = "ieee" if (x.dtype == torch.float32 and not allow_tf32) else "tf32"
    one_d = _one_block_d(d) <= (128 if x.dtype != torch.float32 else 64)
    nominal_bn = _INTERP_BLOCKS["BLOCK_N"] if common.INTERPRET else 128
    if splits is None:
        splits = _default_splits(n, k, x.device, nominal_bn)
    quantum = _INTERP_BLOCKS["BLOCK_K"] if common.INTERPRET else _SPLIT_QUANTUM
    k_per_split = triton.cdiv(triton.cdiv(k, max(1, int(splits))), quantum) * quantum
    splits = triton.cdiv(k, k_per_split)
    vals = common.empty((n, splits), torch.float32, x.device)
    idxs = common.empty((n, splits), torch.long, x.device)
    size_class = int(math.log2(max(1, n))) // 2 * 100 + int(math.log2(max(1, k_per_split)))
    args = (x, codebook, w, vals, idxs, n, k, d, k_per_split, x.stride(0), codebook.stride(0), splits,
            size_class)
    flags = {"COSINE": bool(cosine), "ONE_D_BLOCK": one_d, "UPCAST": upcast, "PRECISION": precision}
    if common.INTERPRET:
        blocks = dict(_INTERP_BLOCKS)
        if one_d:
            blocks["BLOCK_D"] = _one_block_d(d)
        _vq_argmin_kernel[(triton.cdiv(n, blocks["BLOCK_N"]), splits)](*args, **flags, **blocks)
    else:
        _vq_argmin_tuned[lambda meta: (triton.cdiv(n, meta["BLOCK_N"]), splits)](*args, **flags)
    if splits == 1:
        best_val, best_idx = vals[:, 0], idxs[:, 0]
    else:
        first = vals.argmin(dim=1, keepdim=True)  # first minimum: lowest code range wins ties
        best_val = vals.gather(1, first).squeeze(1)
        best_idx = idxs.gather(1, first).squeeze(1)
    if not return_distance:
        return best_idx
    if cosine:
        dist = 1.0 + best_val * row_stat(x, 1)
    else:
        dist = (2.0 * best_val + row_stat(x, 2)).clamp_min_(0.0)
    return best_idx, dist


@torch.no_grad()
def rvq_search_triton(
    x: torch.Tensor,
    codebooks: torch.Tensor,
    *,
    allow_tf32: bool = False,
    fused: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton version of :func:`ncodec.kernels.reference.rvq_search`: ``(indices (N, S), quantized (N, D))``.

    ``fused=True`` runs every stage in one launch (one program per row block keeps its residual
    on-chip-adjacent, no per-stage Python round trip); ``False`` runs one split-codebook search per
    stage, which fills the device better when N is small.  Default: fused when the row blocks alone
    fill the device.  Both give the reference's indices (residuals are float32, updated in its order).
    """
    _check_rvq_args(x, codebooks)
    n, d = x.shape
    s_count, k = codebooks.shape[0], codebooks.shape[1]
    if codebooks.dtype not in _SUPPORTED:
        codebooks = codebooks.float()
    codebooks = codebooks.contiguous()
    if x.dtype not in _SUPPORTED:
        x = x.float()
    if x.stride(-1) != 1:
        x = x.contiguous()
    block_n = _INTERP_BLOCKS["BLOCK_N"] if common.INTERPRET else 64
    if fused is None:
        fused = triton.cdiv(n, block_n) >= common.num_sms(x.device)
    precision = "tf32" if allow_tf32 else "ieee"
    if not fused:
        residual = x.float()
        quantized = torch.zeros_like(residual)
        indices = common.empty((n, s_count), torch.long, x.device)
        cb32 = codebooks.float()  # the residual is float32; the dot needs one dtype
        for s in range(s_count):
            idx = vq_search_triton(residual, cb32[s], allow_tf32=allow_tf32)
            indices[:, s] = idx
            q = codebooks[s][idx].float()
            residual = residual - q
            quantized = quantized + q
        return indices, quantized
    h = torch.stack([row_stat(codebooks[s], 0) for s in range(s_count)])
    residual = common.empty((n, d), torch.float32, x.device)
    quantized = common.empty((n, d), torch.float32, x.device)
    indices = common.empty((n, s_count), torch.long, x.device)
    if n == 0:
        return indices, quantized
    if common.INTERPRET:
        blocks = dict(_INTERP_BLOCKS)
        opts: dict = {}
    else:
        blocks = {"BLOCK_N": block_n, "BLOCK_K": 64, "BLOCK_D": 32}
        opts = {"num_warps": 8, "num_stages": 3}  # sm_90a: 202 registers, no spills (4 warps spill)
    _rvq_kernel[(triton.cdiv(n, blocks["BLOCK_N"]),)](
        x, codebooks, h, residual, quantized, indices, n, k, d, s_count,
        x.stride(0), codebooks.stride(0), codebooks.stride(1), h.stride(0), residual.stride(0),
        quantized.stride(0), indices.stride(0), PRECISION=precision, **blocks, **opts,
    )
    return indices, quantized
