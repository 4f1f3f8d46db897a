"""Bounded memory for large media: fully convolutional transforms run tile by tile, and token arrays
are cut into chunks of a bounded number of tokens (each chunk is coded and checked independently)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch


def spans(n: int, tile: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into consecutive ``[start, stop)`` pieces of at most ``tile``."""
    return [(s, min(s + tile, n)) for s in range(0, n, tile)]


def _region(x: torch.Tensor, box: list[tuple[int, int]]) -> torch.Tensor:
    """``x[:, :, a0:b0, a1:b1, ...]``, edge-replicated where the box reaches beyond ``x``."""
    if all(hi <= n for (_, hi), n in zip(box, x.shape[2:], strict=True)):
        return x[(slice(None), slice(None), *(slice(lo, hi) for lo, hi in box))]
    for axis, ((lo, hi), n) in enumerate(zip(box, x.shape[2:], strict=True), start=2):
        x = x.index_select(axis, torch.arange(lo, hi, device=x.device).clamp_(max=n - 1))
    return x


def tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale_in: int,
    scale_out: int,
    tile: int,
    margin: int,
    out_ch: int,
    size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Apply a fully convolutional ``fn`` to ``x (B, C, *spatial)`` tile by tile with ``margin`` units
    of context on every spatial axis.

    Tiles and margins count latent positions: a tile of ``t`` positions is ``t * scale_in`` input and
    ``t * scale_out`` output samples per axis (for an image: 16 and 1 for the analysis, 1 and 16 for
    the synthesis).  Only one tile's activations are alive at a time.  With ``size`` (spatial extents
    larger than ``x``'s), ``x`` is treated as edge-replicated to that size, without making the padded
    copy: each tile is padded on its own.
    """
    b = x.shape[0]
    lat = [n // scale_in for n in (size or x.shape[2:])]
    out = x.new_empty(b, out_ch, *(n * scale_out for n in lat))
    for box in itertools.product(*(spans(n, tile) for n in lat)):
        ctx = [(max(lo - margin, 0), min(hi + margin, n)) for (lo, hi), n in zip(box, lat, strict=True)]
        part = fn(_region(x, [(a * scale_in, c * scale_in) for a, c in ctx]))
        dst = tuple(slice(lo * scale_out, hi * scale_out) for lo, hi in box)
        keep = tuple(
            slice((lo - a) * scale_out, (hi - a) * scale_out)
            for (lo, hi), (a, _) in zip(box, ctx, strict=True)
        )
        out[(slice(None), slice(None), *dst)] = part[(slice(None), slice(None), *keep)]
    return out


def rows_per_chunk(shape: Sequence[int], max_tokens: int, axis: int = 2) -> int:
    """How many slices along ``axis`` of a token array of ``shape`` fit in a chunk of at most
    ``max_tokens`` tokens (at least one)."""
    per_row = math.prod(n for i, n in enumerate(shape) if i != axis)
    return max(1, max_tokens // max(1, per_row))
