"""Residual finite scalar quantization: ``n_q`` FSQ stages, each with its own projection, on residuals.

Stage ``i`` projects the residual it receives (``dim`` channels) down to ``len(levels)`` values, bounds
and rounds them as :class:`~ncodec.quantizers.fsq.FSQ` does, projects the code back up and passes on what
is left, exactly as a residual VQ stage does with a codebook.  Each stage therefore codes a new
low-dimensional direction of the residual (factorised codes, as DAC's RVQ), there is no codebook to
collapse and nothing to restart, and quantizer dropout (a random number of stages per training item)
makes every ``n_q <= max`` usable at inference.  In training each stage's output is pulled towards the
residual it codes (and the residual, with ``commitment_weight``, towards the output), so that the
projections make the residual shrink stage by stage rather than leaving it to the decoder.  Each
stage's token is FSQ's packed index (alphabet ``prod(levels)``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ncodec.errors import ShapeError
from ncodec.quantizers.base import (
    Quantizer,
    QuantizerOutput,
    from_rows,
    indices_to_rows,
    no_autocast,
    to_rows,
)
from ncodec.quantizers.fsq import FSQ


class ResidualFSQ(Quantizer):
    """``n_q`` residual FSQ stages of ``levels`` (module docstring).

    Args:
        dim: input channels.
        levels: FSQ levels of every stage, e.g. ``[8, 5, 5, 5]`` (1000 codes per stage).
        n_q: maximum number of stages.
        quantizer_dropout: probability that a training item keeps a random number of stages in
            ``[dropout_min, n_q]``.
        dropout_min: fewest stages an item keeps under quantizer dropout.
    """

    def __init__(
        self,
        dim: int,
        levels: list[int] | tuple[int, ...],
        n_q: int,
        *,
        quantizer_dropout: float = 0.0,
        dropout_min: int = 1,
        commitment_weight: float = 0.25,
    ) -> None:
        super().__init__()
        self.commitment_weight = float(commitment_weight)
        if n_q < 1 or not 1 <= dropout_min <= n_q:
            raise ValueError("need n_q >= 1 and 1 <= dropout_min <= n_q")
        self.dim, self.levels, self.n_q = int(dim), tuple(int(v) for v in levels), int(n_q)
        if self.dim == len(self.levels):
            raise ValueError("ResidualFSQ projects each stage: dim must differ from len(levels)")
        self.quantizer_dropout, self.dropout_min = float(quantizer_dropout), int(dropout_min)
        self.stages = nn.ModuleList(FSQ(self.levels, dim=self.dim) for _ in range(self.n_q))

    @property
    def alphabet(self) -> tuple[int, ...]:
        return tuple(s.codebook_size for s in self.stages)

    def config(self) -> dict[str, Any]:
        return {"type": "ResidualFSQ", "dim": self.dim, "levels": list(self.levels), "n_q": self.n_q}

    def _n_use(self, n_q: int | None) -> int:
        if n_q is None:
            return self.n_q
        if not 1 <= int(n_q) <= self.n_q:
            raise ShapeError(f"n_q={n_q} outside [1, {self.n_q}]")
        return int(n_q)

    def forward(
        self, z: torch.Tensor, n_q: int | None = None, n_per_item: torch.Tensor | None = None
    ) -> QuantizerOutput:
        """Quantize ``z (B, dim, *spatial)`` with the first ``n_q`` stages; quantizer dropout in training."""
        n_use = self._n_use(n_q)
        with no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            batch = lead[0]
            per_item = rows.shape[0] // max(batch, 1)
            if n_per_item is None and self.training and self.quantizer_dropout > 0:
                n_per_item = torch.full((batch,), n_use, device=z.device)
                drop = torch.rand(batch, device=z.device) < self.quantizer_dropout
                rand_n = torch.randint(self.dropout_min, n_use + 1, (batch,), device=z.device)
                n_per_item = torch.where(drop, rand_n, n_per_item)
            row_n = None if n_per_item is None else n_per_item.to(z.device).repeat_interleave(per_item)
            out = torch.zeros_like(rows)
            residual = rows
            idx_all, stats = [], {}
            loss = rows.new_zeros(())
            for i, stage in enumerate(self.stages[:n_use]):
                o = stage(residual)  # rows (N, dim) as a (B, C) latent
                keep = None if row_n is None else (row_n > i)[:, None].float()
                contrib = o.z_q if keep is None else o.z_q * keep
                out = out + contrib
                if self.training:  # each stage reconstructs its residual; the residual commits to it
                    err = (o.z_q - residual.detach()) ** 2 + self.commitment_weight * (
                        residual - o.z_q.detach()
                    ) ** 2
                    loss = loss + (
                        err.mean() if keep is None else (err * keep).sum() / (keep.sum() * self.dim + 1e-9)
                    )
                residual = residual - o.z_q.detach()
                idx_all.append(o.indices[:, 0])
                if i == 0:
                    stats = {f"q0/{k}": v for k, v in o.stats.items()}
        indices = from_rows(torch.stack(idx_all, dim=1), lead)
        return QuantizerOutput(from_rows(out, lead).to(z.dtype), indices, loss / n_use, stats)

    @torch.no_grad()
    def quantize(self, z: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """``(B, dim, *spatial)`` → indices ``(B, n_q, *spatial)``."""
        n_use = self._n_use(n_q)
        with no_autocast(z.device):
            residual, lead = to_rows(z, self.dim)
            idx_all = []
            for stage in self.stages[:n_use]:
                idx = stage.quantize(residual)  # (N, 1)
                residual = residual - stage.dequantize(idx)
                idx_all.append(idx[:, 0])
        return from_rows(torch.stack(idx_all, dim=1), lead)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices ``(B, n, *spatial)`` of the first ``n`` stages → ``(B, dim, *spatial)``."""
        n = indices.shape[1]
        self._n_use(n)
        rows, lead = indices_to_rows(indices, n)
        with no_autocast(indices.device):
            out = torch.zeros(rows.shape[0], self.dim, device=indices.device)
            for i in range(n):
                out = out + self.stages[i].dequantize(rows[:, i : i + 1])
        return from_rows(out, lead)
