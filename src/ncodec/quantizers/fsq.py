"""Finite scalar quantization (FSQ, Mentzer et al. 2023).

Each of ``d = len(levels)`` channels is bounded so that rounding gives exactly ``levels[i]`` values
(odd and even levels both handled, see :func:`ncodec.kernels.fsq_bound`), then rounded with a
straight-through gradient.  Per-dimension symbols lie in ``[0, levels[i])``; the packed index is their
mixed-radix number, alphabet ``prod(levels)``.  An optional linear projection maps ``dim`` channels to
``d`` and back.  All math in float32 (vector-quantize-pytorch #114 lost half the codes in bf16).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ncodec import kernels
from ncodec.errors import ShapeError
from ncodec.quantizers.base import (
    MAX_TRACKED_CODES,
    CodebookUsage,
    Quantizer,
    QuantizerOutput,
    batch_perplexity,
    check_range,
    from_rows,
    indices_to_rows,
    no_autocast,
    to_rows,
)


class FSQ(Quantizer):
    """Finite scalar quantizer with per-dimension ``levels`` (each >= 2).

    Args:
        levels: number of values of each code dimension, e.g. ``[8, 5, 5, 5]`` (1000 codes) or
            ``[8, 8, 8, 5, 5, 5]`` (64000 codes).
        dim: input channels; a linear projection maps them to ``len(levels)`` and back when different.
        stats_window: updates over which codebook usage is reported.
    """

    def __init__(
        self, levels: list[int] | tuple[int, ...], dim: int | None = None, *, stats_window: int = 100
    ):
        super().__init__()
        levels = [int(v) for v in levels]
        if not levels or min(levels) < 2:
            raise ValueError(f"FSQ levels must be a non-empty list of integers >= 2, got {levels}")
        if math.prod(levels) >= 1 << 62:
            raise ValueError("prod(levels) must fit in 62 bits")
        self.levels = tuple(levels)
        self.code_dim = len(levels)
        self.dim = int(dim or self.code_dim)
        proj = self.dim != self.code_dim
        self.in_proj = nn.Linear(self.dim, self.code_dim) if proj else nn.Identity()
        self.out_proj = nn.Linear(self.code_dim, self.dim) if proj else nn.Identity()
        self.register_buffer("_levels", torch.tensor(levels), persistent=False)
        self.codebook_size = math.prod(levels)
        self.usage = (
            CodebookUsage(self.codebook_size, stats_window)
            if self.codebook_size <= MAX_TRACKED_CODES
            else None
        )

    @property
    def alphabet(self) -> tuple[int, ...]:
        return (self.codebook_size,)

    @property
    def symbol_alphabet(self) -> tuple[int, ...]:
        return self.levels

    def config(self) -> dict[str, Any]:
        return {"type": "FSQ", "levels": list(self.levels), "dim": self.dim}

    def _codes_of(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """rows (N, dim) float32 → (projected z (N, d), symbols (N, d), packed (N,))."""
        zp = self.in_proj(rows)
        symbols, packed = kernels.fsq_quantize(zp.detach(), self.levels)
        return zp, symbols, packed

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        with no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            zp, symbols, packed = self._codes_of(rows)
            codes = kernels.fsq_symbols_to_codes(symbols, self.levels)
            half = (self._levels // 2).to(torch.float32)
            soft = kernels.fsq_bound(zp, self._levels) / half  # the value rounding acts on, normalised
            q_st = codes + (soft - soft.detach())
            out = self.out_proj(q_st)
        stats: dict[str, float] = {}
        if self.usage is not None:
            counts = (
                self.usage.update(packed)
                if self.training
                else torch.bincount(packed, minlength=self.codebook_size)
            )
            stats["perplexity"] = batch_perplexity(counts.float())
            if int(self.usage.step) > 0:
                stats.update(self.usage.summary())
        return QuantizerOutput(
            from_rows(out, lead).to(z.dtype), packed.reshape(lead).unsqueeze(1), rows.new_zeros(()), stats
        )

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, dim, *spatial)`` → packed indices ``(B, 1, *spatial)``."""
        with torch.no_grad(), no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            _, _, packed = self._codes_of(rows)
        return packed.reshape(lead).unsqueeze(1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        rows, lead = indices_to_rows(indices, 1)
        check_range(rows, self.alphabet)
        with no_autocast(rows.device):
            table = self._codes_table(rows.device)
            idx = rows[:, 0]
            codes = table[idx] if table is not None else kernels.fsq_dequantize(idx, self.levels)
            out = self.out_proj(codes)
        return from_rows(out, lead)

    def _codes_table(self, device: torch.device) -> torch.Tensor | None:
        """Every code's values ``(K, d)``, built once per device by the reference dequantizer, for
        alphabets up to 2^18: dequantizing is then a gather (same values, no per-token arithmetic)."""
        if self.codebook_size > 1 << 18:
            return None
        cache = self.__dict__.setdefault("_tables", {})
        if device not in cache:
            ids = torch.arange(self.codebook_size, device=device)
            cache[device] = kernels.fsq_dequantize(ids, self.levels)
        return cache[device]

    def indices_to_symbols(self, indices: torch.Tensor) -> torch.Tensor:
        """Packed ``(B, 1, *spatial)`` → per-dimension symbols ``(B, d, *spatial)``."""
        rows, lead = indices_to_rows(indices, 1)
        check_range(rows, self.alphabet)
        return from_rows(kernels.fsq_unpack(rows[:, 0], self.levels), lead)

    def symbols_to_indices(self, symbols: torch.Tensor) -> torch.Tensor:
        """Per-dimension symbols ``(B, d, *spatial)`` → packed ``(B, 1, *spatial)``."""
        rows, lead = indices_to_rows(symbols, self.code_dim)
        check_range(rows, self.levels, "symbol")
        packed = (rows * kernels.fsq_basis(self.levels, rows.device)).sum(-1)
        return packed.reshape(lead).unsqueeze(1)

    def codes_to_indices(self, z_q: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`dequantize` (without an output projection): codes ``(B, d, *spatial)`` on the
        FSQ grid → packed indices ``(B, 1, *spatial)``.

        (``quantize`` applies the tanh bound to unbounded latents, so it is not the inverse of ``dequantize``:
        the grid points are not fixed points of the bound.  This method is.)
        """
        if z_q.dim() < 2 or z_q.shape[1] != self.code_dim:
            raise ShapeError(f"expected {self.code_dim} code channels, got shape {tuple(z_q.shape)}")
        rows = z_q.float().movedim(1, -1)
        half = (self._levels // 2).to(torch.float32)
        symbols = (torch.round(rows * half).long() + self._levels // 2).clamp(
            min=torch.zeros_like(self._levels), max=self._levels - 1
        )
        packed = (symbols * kernels.fsq_basis(self.levels, rows.device)).sum(-1)
        return packed.unsqueeze(1)

    def codes_from_symbols(self, symbols: torch.Tensor) -> torch.Tensor:
        """Per-dimension symbols → normalised code values in [-1, 1] (before the output projection)."""
        if symbols.dim() < 2 or symbols.shape[1] != self.code_dim:
            raise ShapeError(f"expected {self.code_dim} symbol channels, got shape {tuple(symbols.shape)}")
        return kernels.fsq_symbols_to_codes(symbols.movedim(1, -1), self.levels).movedim(-1, 1)
