"""Plain torch reference implementations of the quantizer kernels.

These are the ground truth the fused Triton kernels must match, and the implementation used on CPU.
All of them work on flattened vectors ``x`` of shape ``(N, D)`` (channels last) and compute in float32
whatever the input dtype, so bf16/fp16 inputs give the same indices as the same values in fp32.

Nearest-neighbour search never materialises the full ``N x K`` distance matrix: it walks the codebook
(and, for very large N, the inputs) in tiles whose size is bounded by ``chunk_elems`` elements, keeping
a running minimum.  Ties break to the lowest code index.
"""

from __future__ import annotations

import math

import torch

from ncodec.errors import ShapeError

#: Default upper bound on the number of float32 elements in one distance tile (64 MiB).
DEFAULT_CHUNK_ELEMS = 1 << 24


def _check_search_args(x: torch.Tensor, codebook: torch.Tensor) -> None:
    if x.dim() != 2 or codebook.dim() != 2:
        raise ShapeError(
            f"expected x (N, D) and codebook (K, D), got {tuple(x.shape)} and {tuple(codebook.shape)}"
        )
    if x.shape[1] != codebook.shape[1]:
        raise ShapeError(f"dimension mismatch: x has D={x.shape[1]}, codebook has D={codebook.shape[1]}")
    if codebook.shape[0] == 0:
        raise ShapeError("empty codebook")


def _tiles(n: int, k: int, chunk_elems: int) -> tuple[int, int]:
    """Row and column tile sizes with ``rows * cols <= chunk_elems`` (at least 1 x 1)."""
    chunk_elems = max(1, int(chunk_elems))
    cols = min(k, max(1, chunk_elems // max(1, min(n, 4096))))
    rows = min(n, max(1, chunk_elems // cols))
    return rows, cols


def _prepare(x: torch.Tensor, codebook: torch.Tensor, cosine: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.float()
    codebook = codebook.float()
    if cosine:
        x = torch.nn.functional.normalize(x, dim=-1)
        codebook = torch.nn.functional.normalize(codebook, dim=-1)
    return x, codebook


@torch.no_grad()
def vq_search(
    x: torch.Tensor,
    codebook: torch.Tensor,
    *,
    cosine: bool = False,
    return_distance: bool = False,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest codebook row for every row of ``x``.

    Euclidean: minimises ``||c||^2 - 2 x.c`` (the ``||x||^2`` term does not change the argmin).
    Cosine: maximises ``x.c / (|x| |c|)``.  Returns int64 indices of shape ``(N,)``; with
    ``return_distance`` also the float32 distance (squared Euclidean, or ``1 - cos`` for cosine).
    Memory is ``O(N + K + chunk_elems)``.
    """
    _check_search_args(x, codebook)
    x, codebook = _prepare(x, codebook, cosine)
    n, k = x.shape[0], codebook.shape[0]
    best_idx = torch.zeros(n, dtype=torch.long, device=x.device)
    best_val = torch.full((n,), math.inf, dtype=torch.float32, device=x.device)
    if n == 0:
        return (best_idx, best_val) if return_distance else best_idx
    c_sq = None if cosine else (codebook * codebook).sum(-1)
    rows, cols = _tiles(n, k, chunk_elems)
    tile = torch.empty(rows, cols, dtype=torch.float32, device=x.device)
    for r0 in range(0, n, rows):
        xr = x[r0 : r0 + rows]
        bv = best_val[r0 : r0 + rows]
        bi = best_idx[r0 : r0 + rows]
        for c0 in range(0, k, cols):
            cb = codebook[c0 : c0 + cols]
            t = tile[: xr.shape[0], : cb.shape[0]]
            if cosine:
                torch.mm(xr, cb.t(), out=t)
                t.neg_()
            else:
                torch.addmm(c_sq[c0 : c0 + cols], xr, cb.t(), beta=1.0, alpha=-2.0, out=t)
            idx = t.argmin(dim=1)  # first minimum: lowest index within the tile
            val = t.gather(1, idx[:, None]).squeeze(1)
            better = val < bv  # strict: earlier tiles (lower indices) win ties
            bv.copy_(torch.where(better, val, bv))
            bi.copy_(torch.where(better, idx + c0, bi))
    if not return_distance:
        return best_idx
    if cosine:
        dist = 1.0 + best_val
    else:
        dist = (best_val + (x * x).sum(-1)).clamp_min_(0.0)
    return best_idx, dist


@torch.no_grad()
def vq_search_topk(
    x: torch.Tensor,
    codebook: torch.Tensor,
    k: int,
    *,
    cosine: bool = False,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest codes of every row: ``(distance (N, k), index (N, k))``, nearest first.

    Distances are as in :func:`vq_search`. Bounded memory, like :func:`vq_search`.
    """
    _check_search_args(x, codebook)
    x, codebook = _prepare(x, codebook, cosine)
    n, kk = x.shape[0], codebook.shape[0]
    k = min(int(k), kk)
    if k < 1:
        raise ShapeError("top-k search needs k >= 1")
    c_sq = None if cosine else (codebook * codebook).sum(-1)
    rows, cols = _tiles(n, kk, chunk_elems)
    out_val = torch.empty(n, k, dtype=torch.float32, device=x.device)
    out_idx = torch.empty(n, k, dtype=torch.long, device=x.device)
    for r0 in range(0, n, rows):
        xr = x[r0 : r0 + rows]
        bv = torch.full((xr.shape[0], 0), math.inf, device=x.device)
        bi = torch.zeros((xr.shape[0], 0), dtype=torch.long, device=x.device)
        for c0 in range(0, kk, cols):
            cb = codebook[c0 : c0 + cols]
            if cosine:
                t = -(xr @ cb.t())
            else:
                t = torch.addmm(c_sq[c0 : c0 + cols], xr, cb.t(), beta=1.0, alpha=-2.0)
            cand_v = torch.cat([bv, t], dim=1)
            codes = torch.arange(c0, c0 + cb.shape[0], device=x.device)
            cand_i = torch.cat([bi, codes.expand(xr.shape[0], -1)], 1)
            # stable sort keeps lower indices first among equal distances
            order = torch.sort(cand_v, dim=1, stable=True).indices[:, :k]
            bv = cand_v.gather(1, order)
            bi = cand_i.gather(1, order)
        out_val[r0 : r0 + rows] = bv
        out_idx[r0 : r0 + rows] = bi
    if cosine:
        out_val = 1.0 + out_val
    else:
        out_val = (out_val + (x * x).sum(-1, keepdim=True)).clamp_min_(0.0)
    return out_val, out_idx


def _check_rvq_args(x: torch.Tensor, codebooks: torch.Tensor) -> None:
    if x.dim() != 2 or codebooks.dim() != 3 or codebooks.shape[-1] != x.shape[1]:
        raise ShapeError(
            f"expected x (N, D) and codebooks (S, K, D), got {tuple(x.shape)} and {tuple(codebooks.shape)}"
        )
    if codebooks.shape[0] == 0 or codebooks.shape[1] == 0:
        raise ShapeError("empty codebooks")


@torch.no_grad()
def rvq_search(
    x: torch.Tensor,
    codebooks: torch.Tensor,
    *,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual VQ, all stages: ``(indices (N, S) int64, quantized (N, D) float32)``.

    ``codebooks`` is ``(S, K, D)``.  Stage ``s`` picks the nearest code (Euclidean, ties to the lowest
    index) of ``codebooks[s]`` to the float32 residual, then ``residual -= code`` and
    ``quantized += code`` (starting from ``residual = x``, ``quantized = 0``), in that order.
    """
    _check_rvq_args(x, codebooks)
    residual = x.float()
    quantized = torch.zeros_like(residual)
    indices = torch.empty(x.shape[0], codebooks.shape[0], dtype=torch.long, device=x.device)
    for s in range(codebooks.shape[0]):
        idx = vq_search(residual, codebooks[s], chunk_elems=chunk_elems)
        indices[:, s] = idx
        q = codebooks[s][idx].float()
        residual = residual - q
        quantized = quantized + q
    return indices, quantized


# ----------------------------------------------------------------------------------------------------
# FSQ
# ----------------------------------------------------------------------------------------------------


def _exact_dot(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(values * weights, -1)`` as int64 for integer-valued ``values`` and integer ``weights`` whose
    products and sums stay below 2^53: one float64 matrix-vector product, exact whatever its order."""
    flat = values.reshape(-1, values.shape[-1]).to(torch.float64)
    out = flat @ weights.to(device=flat.device, dtype=torch.float64)
    return out.reshape(values.shape[:-1]).long()


def fsq_basis(levels: tuple[int, ...] | list[int], device=None) -> torch.Tensor:
    """Mixed-radix place values of the packed index: ``index = sum(symbol[i] * basis[i])``."""
    basis = [1]
    for lv in list(levels)[:-1]:
        basis.append(basis[-1] * int(lv))
    return torch.tensor(basis, dtype=torch.long, device=device)


def fsq_bound_params(
    levels: torch.Tensor, eps: float = 1e-3
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-dimension float32 ``(shift, half_l, offset)`` of :func:`fsq_bound` (shared with the kernels)."""
    lv = levels.to(torch.float32)
    half_l = (lv - 1) * (1 + eps) / 2
    offset = torch.where(levels % 2 == 0, 0.5, 0.0)
    shift = torch.atanh(offset / half_l)
    return shift, half_l, offset


def fsq_bound(z: torch.Tensor, levels: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Squash ``z`` so that rounding yields exactly ``levels[i]`` integer values per dimension.

    Odd L: ``(L-1)/2 * tanh(z)`` covers ``{-(L-1)/2 .. (L-1)/2}``.  Even L: a half-step offset makes the
    range ``{-L/2 .. L/2 - 1}`` (as in the FSQ paper's reference code).  ``z`` is float32, channels last.
    """
    shift, half_l, offset = fsq_bound_params(levels, eps)
    return torch.tanh(z + shift) * half_l - offset


@torch.no_grad()
def fsq_quantize(z: torch.Tensor, levels: tuple[int, ...] | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """FSQ of channels-last ``z`` (..., d).

    Returns ``(symbols (..., d) int64 in [0, L_i), packed (...,))``.
    """
    lv = torch.tensor(list(levels), dtype=torch.long, device=z.device)
    if z.shape[-1] != lv.numel():
        raise ShapeError(f"FSQ expects {lv.numel()} channels, got {z.shape[-1]}")
    rounded = torch.round(fsq_bound(z.float(), lv))
    sym_f = torch.minimum((rounded + (lv // 2).to(torch.float32)).clamp_(min=0), (lv - 1).float())
    # the mixed-radix sum as a float64 matrix-vector product: integers below 2^53, so exact
    packed = _exact_dot(sym_f, fsq_basis(levels, z.device))
    return sym_f.long(), packed


def fsq_symbols_to_codes(symbols: torch.Tensor, levels: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Symbols in ``[0, L)`` to the normalised code values ``(s - L//2) / (L//2)`` in ``[-1, 1]``."""
    lv = torch.tensor(list(levels), dtype=torch.long, device=symbols.device)
    half = (lv // 2).to(torch.float32)
    return (symbols - lv // 2).to(torch.float32) / half


def fsq_unpack(packed: torch.Tensor, levels: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Packed indices (...,) to per-dimension symbols (..., d)."""
    lv = torch.tensor(list(levels), dtype=torch.long, device=packed.device)
    return (packed[..., None] // fsq_basis(levels, packed.device)) % lv


def fsq_dequantize(packed: torch.Tensor, levels: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Packed indices (...,) to normalised code values (..., d) float32 (inverse of :func:`fsq_quantize`).

    Unpacks with float64 floor divisions (exact: every value is an integer below 2^53 and a quotient
    never rounds up to the next integer), which vectorise where int64 division does not.
    """
    lv = torch.tensor(list(levels), dtype=torch.float64, device=packed.device)
    basis = fsq_basis(levels, packed.device).to(torch.float64)
    q = torch.floor(packed.to(torch.float64)[..., None] / basis)
    sym = q - torch.floor(q / lv) * lv
    half = torch.floor(lv / 2)
    return ((sym - half) / half).to(torch.float32)


# ----------------------------------------------------------------------------------------------------
# BSQ / LFQ (binary codes)
# ----------------------------------------------------------------------------------------------------


@torch.no_grad()
def binary_quantize(
    z: torch.Tensor, *, spherical: bool, group_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sign quantisation of channels-last ``z`` (..., d), d <= 62.

    Returns ``(codes (..., d) float32, packed (...,) int64)`` with bit ``i`` of ``packed`` set where
    ``z[..., i] > 0``.  Codes are ``+-1`` (LFQ) or ``+-1/sqrt(d)`` (BSQ, ``spherical=True``: a point on the
    unit sphere; normalising ``z`` first does not change its signs).  Zero maps to the negative code.
    With ``group_size`` also returns the per-group symbols of :func:`binary_group_symbols`.
    """
    d = z.shape[-1]
    if d > 62:
        raise ShapeError(f"binary codes pack at most 62 bits into an int64, got d={d}")
    bits = z.float() > 0
    scale = 1.0 / math.sqrt(d) if spherical else 1.0
    codes = bits.to(torch.float32) * (2 * scale) - scale  # exactly +-scale
    weights = torch.ones(d, dtype=torch.long, device=z.device) << torch.arange(d, device=z.device)
    packed = _exact_dot(bits.to(torch.float32), weights) if d <= 52 else (bits.long() * weights).sum(-1)
    if group_size is None:
        return codes, packed
    return codes, packed, binary_group_symbols(packed, d, group_size)


def binary_group_symbols(packed: torch.Tensor, d: int, group_size: int) -> torch.Tensor:
    """Split packed codes (...,) into ``ceil(d / group_size)`` symbols (..., G) int64.

    Symbol ``g`` holds bits ``g*group_size ..`` (the last group may be shorter), so each symbol lies in
    ``[0, 2**group_size)`` and can be entropy-coded with a small alphabet.
    """
    if group_size < 1:
        raise ShapeError(f"group_size must be >= 1, got {group_size}")
    groups = -(-d // group_size)
    shifts = torch.arange(groups, device=packed.device) * group_size
    widths = (d - shifts).clamp(max=group_size)
    return (packed[..., None] >> shifts) & ((torch.ones_like(widths) << widths) - 1)


def binary_group_pack(symbols: torch.Tensor, d: int, group_size: int) -> torch.Tensor:
    """Per-group symbols (..., G) back to packed codes (...,): the inverse of :func:`binary_group_symbols`."""
    groups = -(-d // group_size)
    if symbols.shape[-1] != groups:
        raise ShapeError(f"expected {groups} group symbols, got {symbols.shape[-1]}")
    shifts = torch.arange(groups, device=symbols.device) * group_size
    return (symbols << shifts).sum(-1)


def binary_unpack(packed: torch.Tensor, d: int) -> torch.Tensor:
    """Packed indices (...,) to bits (..., d) as int64 0/1."""
    if d <= 31:  # int32 shifts vectorise better than int64 ones
        shifts = torch.arange(d, device=packed.device, dtype=torch.int32)
        return ((packed.int()[..., None] >> shifts) & 1).long()
    return (packed[..., None] >> torch.arange(d, device=packed.device)) & 1


def binary_dequantize(packed: torch.Tensor, d: int, *, spherical: bool) -> torch.Tensor:
    """Packed indices to codes (..., d) float32, the inverse of :func:`binary_quantize`."""
    scale = 1.0 / math.sqrt(d) if spherical else 1.0
    if d <= 31:
        bits = (packed.int()[..., None] >> torch.arange(d, device=packed.device, dtype=torch.int32)) & 1
    else:
        bits = binary_unpack(packed, d)
    return bits.to(torch.float32) * (2 * scale) - scale
