"""Triton BSQ/LFQ: sign, code values, packed integer index and per-group symbols in one pass; the inverse.

One program handles ``BLOCK_M`` vectors of ``d <= 62`` channels (padded to a power of two, masked).
Bit ``i`` of the packed index is ``z[..., i] > 0`` (zero and NaN give the negative code), codes are
``+-1`` (LFQ) or ``+-1/sqrt(d)`` (BSQ).  Normalising ``z`` onto the sphere first does not change a sign,
so BSQ needs no reduction over the channels.  Everything is a comparison, a select or integer
arithmetic, so results are bit-identical to :mod:`ncodec.kernels.reference`.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ncodec.errors import ShapeError
from ncodec.kernels import _triton_common as common


@triton.jit
def _binary_quantize_kernel(
    z_ptr, codes_ptr, packed_ptr, groups_ptr, M, d, stride_zm, scale,
    GROUP_SIZE: tl.constexpr, N_GROUPS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_D)
    rmask = rows < M
    cmask = cols < d
    m = rmask[:, None] & cmask[None, :]
    rows64 = rows.to(tl.int64)
    z = tl.load(z_ptr + rows64[:, None] * stride_zm + cols[None, :], mask=m, other=0.0).to(tl.float32)
    bits = (z > 0.0) & m
    codes = tl.where(bits, scale, -scale)
    tl.store(codes_ptr + rows64[:, None] * d + cols[None, :], codes, mask=m)
    packed = tl.sum(bits.to(tl.int64) << cols.to(tl.int64)[None, :], axis=1)
    tl.store(packed_ptr + rows, packed, mask=rmask)
    for g in tl.static_range(N_GROUPS):
        width = tl.minimum(d - g * GROUP_SIZE, GROUP_SIZE).to(tl.int64)
        one = tl.full((BLOCK_M,), 1, tl.int64)
        sym = (packed >> (g * GROUP_SIZE)) & ((one << width) - 1)
        tl.store(groups_ptr + rows64 * N_GROUPS + g, sym, mask=rmask)


@triton.jit
def _binary_dequantize_kernel(packed_ptr, codes_ptr, M, d, scale,
                              BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_D)
    rmask = rows < M
    m = rmask[:, None] & (cols < d)[None, :]
    packed = tl.load(packed_ptr + rows, mask=rmask, other=0)
    bits = (packed[:, None] >> cols.to(tl.int64)[None, :]) & 1
    codes = tl.where(bits != 0, scale, -scale)
    tl.store(codes_ptr + rows.to(tl.int64)[:, None] * d + cols[None, :], codes, mask=m)


#: Warps per program of these memory-bound kernels; with 2048 elements per program (8 per thread)
#: they compile for sm_90a to about 54-64 registers, no spills (4096 elements at 4 warps took 232).
_NUM_WARPS = 8


def _blocks(d: int) -> tuple[int, int]:
    block_d = triton.next_power_of_2(max(d, 1))
    block_m = 16 if common.INTERPRET else max(16, 2048 // block_d)
    return block_m, block_d


def _scale(d: int, spherical: bool) -> float:
    return 1.0 / math.sqrt(d) if spherical else 1.0


@torch.no_grad()
def binary_quantize_triton(
    z: torch.Tensor, *, spherical: bool, group_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triton version of :func:`ncodec.kernels.reference.binary_quantize` (same arguments and results)."""
    d = z.shape[-1]
    if d > 62:
        raise ShapeError(f"binary codes pack at most 62 bits into an int64, got d={d}")
    if group_size is not None and group_size < 1:
        raise ShapeError(f"group_size must be >= 1, got {group_size}")
    z2, lead = common.as_rows(z, d)
    m = z2.shape[0]
    n_groups = 0 if group_size is None else -(-d // group_size)
    codes = common.empty((m, d), torch.float32, z.device)
    packed = common.empty((m,), torch.long, z.device)
    groups = common.empty((m, n_groups), torch.long, z.device)
    if m and d:
        block_m, block_d = _blocks(d)
        _binary_quantize_kernel[(triton.cdiv(m, block_m),)](
            z2, codes, packed, groups if n_groups else packed, m, d, z2.stride(0), _scale(d, spherical),
            GROUP_SIZE=group_size or 1, N_GROUPS=n_groups, BLOCK_M=block_m, BLOCK_D=block_d,
            **common.launch_options(_NUM_WARPS),
        )
    elif m:
        packed.zero_()
    codes, packed = codes.reshape(*lead, d), packed.reshape(lead)
    if group_size is None:
        return codes, packed
    return codes, packed, groups.reshape(*lead, n_groups)


@torch.no_grad()
def binary_dequantize_triton(packed: torch.Tensor, d: int, *, spherical: bool) -> torch.Tensor:
    """Triton version of :func:`ncodec.kernels.reference.binary_dequantize`."""
    lead = packed.shape
    p = packed.reshape(-1).to(torch.long).contiguous()
    m = p.shape[0]
    codes = common.empty((m, d), torch.float32, packed.device)
    if m and d:
        block_m, block_d = _blocks(d)
        _binary_dequantize_kernel[(triton.cdiv(m, block_m),)](
            p, codes, m, d, _scale(d, spherical), BLOCK_M=block_m, BLOCK_D=block_d,
            **common.launch_options(_NUM_WARPS),
        )
    return codes.reshape(*lead, d)
