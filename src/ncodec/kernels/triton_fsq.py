"""Triton FSQ: bound, round, per-dimension symbols and the packed index in one pass; and the inverse.

One program handles ``BLOCK_M`` vectors of ``d`` channels (``d`` padded to a power of two and masked).
The forward pass reads ``z`` once and writes the symbols and the packed index; the inverse reads the
packed index once and writes symbols and/or normalised code values.  Both are memory-bound.

Agreement with :mod:`ncodec.kernels.reference`: the bound uses the reference's own per-dimension
constants (:func:`~ncodec.kernels.reference.fsq_bound_params`, computed by torch on the same device),
the same operation order, no fused multiply-add (``enable_fp_fusion=False``) and round-half-to-even.
Only ``tanh`` itself may differ by an ulp or two from torch's, which can move a value that lies within
~1e-6 of a rounding boundary (a half-integer) to the neighbouring symbol; everywhere else symbols and
packed indices are identical.  The inverse is exact integer arithmetic plus one correctly rounded
division, so it is bit-identical.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from ncodec.errors import ShapeError
from ncodec.kernels import _triton_common as common
from ncodec.kernels.reference import fsq_basis, fsq_bound_params

if not common.INTERPRET:
    from triton.language.extra import libdevice
else:  # the interpreter has no libdevice; the kernels take the portable branch there
    libdevice = None



@triton.jit
def _tanh(u, USE_LIBDEVICE: tl.constexpr):
    if USE_LIBDEVICE:
        t = libdevice.tanh(u)
    else:
        a = tl.minimum(tl.abs(u), 20.0)  # tanh(20) rounds to 1 in float32; avoids exp overflow
        t = 1.0 - 2.0 / (tl.exp(2.0 * a) + 1.0)
        t = tl.where(u < 0, -t, t)
    return t


@triton.jit
def _rint(v, USE_LIBDEVICE: tl.constexpr):
    if USE_LIBDEVICE:
        r = libdevice.rint(v)
    else:
        # 1.5 * 2**23: (v + M) - M rounds |v| < 2**22 half-to-even in float32 (no reassociation here)
        r = (v + 12582912.0) - 12582912.0
    return r


@triton.jit
def _fsq_quantize_kernel(
    z_ptr, shift_ptr, half_ptr, offset_ptr, lv_ptr, basis_ptr, sym_ptr, packed_ptr,
    M, d, stride_zm,
    USE_LIBDEVICE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_D)
    rmask = rows < M
    cmask = cols < d
    m = rmask[:, None] & cmask[None, :]
    rows64 = rows.to(tl.int64)
    z = tl.load(z_ptr + rows64[:, None] * stride_zm + cols[None, :], mask=m, other=0.0).to(tl.float32)
    shift = tl.load(shift_ptr + cols, mask=cmask, other=0.0)
    half = tl.load(half_ptr + cols, mask=cmask, other=0.0)
    offset = tl.load(offset_ptr + cols, mask=cmask, other=0.0)
    lv = tl.load(lv_ptr + cols, mask=cmask, other=1)
    basis = tl.load(basis_ptr + cols, mask=cmask, other=0)
    bounded = _tanh(z + shift[None, :], USE_LIBDEVICE) * half[None, :] - offset[None, :]
    rounded = _rint(bounded, USE_LIBDEVICE)
    sym = rounded.to(tl.int64) + (lv // 2)[None, :]
    sym = tl.minimum(tl.maximum(sym, 0), (lv - 1)[None, :])
    tl.store(sym_ptr + rows64[:, None] * d + cols[None, :], sym, mask=m)
    packed = tl.sum(tl.where(m, sym * basis[None, :], 0), axis=1)
    tl.store(packed_ptr + rows, packed, mask=rmask)


@triton.jit
def _fsq_unpack_kernel(
    packed_ptr, lv_ptr, basis_ptr, sym_ptr, codes_ptr, M, d,
    WITH_SYMBOLS: tl.constexpr, WITH_CODES: tl.constexpr, INT32_MATH: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_D)
    rmask = rows < M
    cmask = cols < d
    m = rmask[:, None] & cmask[None, :]
    rows64 = rows.to(tl.int64)
    packed = tl.load(packed_ptr + rows, mask=rmask, other=0)
    lv = tl.load(lv_ptr + cols, mask=cmask, other=2)  # masked lanes: any level >= 2 (no 0/0)
    basis = tl.load(basis_ptr + cols, mask=cmask, other=1)
    if INT32_MATH:  # every index < 2^31: 32-bit division is several times cheaper than 64-bit
        sym = ((packed.to(tl.int32)[:, None] // basis.to(tl.int32)[None, :]) % lv.to(tl.int32)[None, :])
        sym = sym.to(tl.int64)
    else:
        sym = (packed[:, None] // basis[None, :]) % lv[None, :]
    out = rows64[:, None] * d + cols[None, :]
    if WITH_SYMBOLS:
        tl.store(sym_ptr + out, sym, mask=m)
    if WITH_CODES:
        centre = lv // 2
        half = centre.to(tl.float32)
        codes = tl.math.div_rn((sym - centre[None, :]).to(tl.float32), half[None, :])
        tl.store(codes_ptr + out, codes, mask=m)


def _levels(levels: tuple[int, ...] | list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    lv = torch.tensor([int(v) for v in levels], dtype=torch.long, device=device)
    return lv, fsq_basis(levels, device)


#: Warps per program of these memory-bound kernels; with 2048 elements per program (8 per thread)
#: they compile for sm_90a to about 54-64 registers, no spills (4096 elements at 4 warps took 232).
_NUM_WARPS = 8


def _blocks(d: int) -> tuple[int, int]:
    block_d = triton.next_power_of_2(max(d, 1))
    block_m = 16 if common.INTERPRET else max(16, 2048 // block_d)
    return block_m, block_d


@torch.no_grad()
def fsq_quantize_triton(
    z: torch.Tensor, levels: tuple[int, ...] | list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton version of :func:`ncodec.kernels.reference.fsq_quantize`: ``(symbols (..., d), packed)``."""
    lv, basis = _levels(levels, z.device)
    d = lv.numel()
    if z.shape[-1] != d:
        raise ShapeError(f"FSQ expects {d} channels, got {z.shape[-1]}")
    z2, lead = common.as_rows(z, d)
    m = z2.shape[0]
    symbols = common.empty((m, d), torch.long, z.device)
    packed = common.empty((m,), torch.long, z.device)
    if m:
        shift, half, offset = fsq_bound_params(lv)
        block_m, block_d = _blocks(d)
        _fsq_quantize_kernel[(triton.cdiv(m, block_m),)](
            z2, shift, half, offset, lv, basis, symbols, packed, m, d, z2.stride(0),
            USE_LIBDEVICE=not common.INTERPRET, BLOCK_M=block_m, BLOCK_D=block_d,
            **common.launch_options(_NUM_WARPS, fp_fusion=False),
        )
    return symbols.reshape(*lead, d), packed.reshape(lead)


@torch.no_grad()
def _unpack(packed: torch.Tensor, levels: tuple[int, ...] | list[int], symbols: bool, codes: bool):
    lv, basis = _levels(levels, packed.device)
    d = lv.numel()
    lead = packed.shape
    p = packed.reshape(-1).to(torch.long).contiguous()
    m = p.shape[0]
    sym = common.empty((m, d), torch.long, packed.device) if symbols else None
    val = common.empty((m, d), torch.float32, packed.device) if codes else None
    if m:
        block_m, block_d = _blocks(d)
        _fsq_unpack_kernel[(triton.cdiv(m, block_m),)](
            p, lv, basis, sym if symbols else p, val if codes else p, m, d,
            WITH_SYMBOLS=symbols, WITH_CODES=codes, INT32_MATH=math.prod(int(v) for v in levels) <= 2**31 - 1,
            BLOCK_M=block_m, BLOCK_D=block_d, **common.launch_options(_NUM_WARPS),
        )
    return (sym.reshape(*lead, d) if symbols else None), (val.reshape(*lead, d) if codes else None)


def fsq_unpack_triton(packed: torch.Tensor, levels: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Triton version of :func:`ncodec.kernels.reference.fsq_unpack` (indices in ``[0, prod(levels))``)."""
    return _unpack(packed, levels, True, False)[0]


def fsq_dequantize_triton(packed: torch.Tensor, levels: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Triton version of :func:`ncodec.kernels.reference.fsq_dequantize`: packed -> codes in one pass."""
    return _unpack(packed, levels, False, True)[1]
