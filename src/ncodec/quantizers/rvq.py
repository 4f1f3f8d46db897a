"""Residual vector quantization (RVQ) and grouped RVQ (GRVQ, HiFi-Codec).

``n_q`` VQ stages, each quantizing what the previous stages left.  Quantizer dropout in training (each
item of a batch keeps a random number of stages, as in SoundStream and DAC) makes every ``n_q <= max``
usable at inference, so the bitrate is chosen at encode time.  An optional test-time beam search over
stage choices ("Improving Test-Time Performance of RVQ-based Neural Codecs") lowers the quantization
error at the same bitrate; it is never worse than greedy because the greedy path is kept as a candidate.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ncodec import kernels
from ncodec.errors import ShapeError
from ncodec.quantizers.base import (
    Quantizer,
    QuantizerOutput,
    check_range,
    from_rows,
    indices_to_rows,
    no_autocast,
    to_rows,
)
from ncodec.quantizers.vq import VQ


def _merge_stats(parts: list[dict[str, float]], prefix: str) -> dict[str, float]:
    """Per-part statistics under ``{prefix}{i}/`` plus the mean of each key over the parts."""
    out: dict[str, float] = {}
    keys: dict[str, list[float]] = {}
    for i, st in enumerate(parts):
        for k, v in st.items():
            out[f"{prefix}{i}/{k}"] = v
            keys.setdefault(k, []).append(v)
    for k, vs in keys.items():
        out[k] = sum(vs) / len(vs)
    return out


class RVQ(Quantizer):
    """Residual VQ with ``n_q`` stages.

    Args:
        dim: channels of the input latent.
        n_q: maximum number of stages.
        codebook_size: K per stage (an int, or one per stage).
        codebook_dim: factorised code dimension of every stage (``None``: no projection).
        quantizer_dropout: probability that a training item uses a random number of stages in
            ``[dropout_min, n_q]`` instead of all of them.
        dropout_min: the fewest stages an item keeps under quantizer dropout.
        **vq_kwargs: passed to every :class:`VQ` stage (metric, learning, estimator, dead codes, ...).
    """

    def __init__(
        self,
        dim: int,
        n_q: int,
        codebook_size: int | list[int] = 1024,
        codebook_dim: int | None = None,
        *,
        quantizer_dropout: float = 0.0,
        dropout_min: int = 1,
        **vq_kwargs: Any,
    ) -> None:
        super().__init__()
        if n_q < 1:
            raise ValueError("n_q must be >= 1")
        sizes = (
            list(codebook_size) if isinstance(codebook_size, (list, tuple)) else [int(codebook_size)] * n_q
        )
        if len(sizes) != n_q:
            raise ValueError(f"{len(sizes)} codebook sizes given for {n_q} stages")
        if not 1 <= dropout_min <= n_q:
            raise ValueError("dropout_min must be in [1, n_q]")
        self.dim = int(dim)
        self.n_q = int(n_q)
        self.codebook_dim = codebook_dim
        self.quantizer_dropout = float(quantizer_dropout)
        self.dropout_min = int(dropout_min)
        self.stages = nn.ModuleList(VQ(dim, k, codebook_dim, **vq_kwargs) for k in sizes)

    @property
    def alphabet(self) -> tuple[int, ...]:
        return tuple(s.codebook_size for s in self.stages)

    def config(self) -> dict[str, Any]:
        return {
            "type": "RVQ",
            "dim": self.dim,
            "n_q": self.n_q,
            "codebook_size": list(self.alphabet),
            "codebook_dim": self.codebook_dim,
            "metric": self.stages[0].metric,
        }

    def _n_use(self, n_q: int | None) -> int:
        if n_q is None:
            return self.n_q
        if not 1 <= int(n_q) <= self.n_q:
            raise ShapeError(f"n_q={n_q} outside [1, {self.n_q}]")
        return int(n_q)

    # -------------------------------------------------------------------------------------------- forward
    def forward(
        self, z: torch.Tensor, n_q: int | None = None, n_per_item: torch.Tensor | None = None
    ) -> QuantizerOutput:
        """Quantize ``z (B, dim, *spatial)`` with the first ``n_q`` stages (all by default).

        In training, quantizer dropout draws a stage count per item (``n_per_item`` overrides it).
        Returns indices ``(B, n_q, *spatial)``.
        """
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
            loss = rows.new_zeros(())
            idx_all, stage_stats = [], []
            for i, stage in enumerate(self.stages[:n_use]):
                active = None if row_n is None else row_n > i
                o, idx, l_i, counts, restarted = stage.forward_rows(residual, active)
                out = out + (o if active is None else o * active[:, None])
                residual = residual - o
                loss = loss + l_i
                idx_all.append(idx)
                st = stage.stats(counts)
                if restarted:
                    st["restarted_codes"] = float(restarted)
                stage_stats.append(st)
        indices = from_rows(torch.stack(idx_all, dim=1), lead)
        return QuantizerOutput(
            from_rows(out, lead).to(z.dtype), indices, loss, _merge_stats(stage_stats, "q")
        )

    # ------------------------------------------------------------------------------------ quantize / inverse
    def quantize(self, z: torch.Tensor, n_q: int | None = None, beam: int = 1) -> torch.Tensor:
        """``(B, dim, *spatial)`` → indices ``(B, n_q, *spatial)``; ``beam > 1`` runs the beam search."""
        n_use = self._n_use(n_q)
        with torch.no_grad(), no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            idx = self._greedy(rows, n_use)
            if beam > 1:
                cand = self._beam(rows, n_use, beam)
                err_g = (rows - self._decode_rows(idx)).pow(2).sum(-1)
                err_b = (rows - self._decode_rows(cand)).pow(2).sum(-1)
                idx = torch.where((err_b < err_g)[:, None], cand, idx)
        return from_rows(idx, lead)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        """indices ``(B, n, *spatial)`` with ``1 <= n <= n_q`` → latent ``(B, dim, *spatial)`` float32."""
        n = indices.shape[1] if indices.dim() >= 2 else 0
        if not 1 <= n <= self.n_q:
            raise ShapeError(
                f"expected 1..{self.n_q} token streams on axis 1, got shape {tuple(indices.shape)}"
            )
        rows, lead = indices_to_rows(indices, n)
        check_range(rows, self.alphabet[:n])
        with no_autocast(rows.device):
            out = self._decode_rows(rows)
        return from_rows(out, lead)

    def _decode_rows(self, idx: torch.Tensor) -> torch.Tensor:
        out = None
        for i in range(idx.shape[1]):
            stage = self.stages[i]
            o = stage.out_proj(stage.codes()[idx[:, i]])
            out = o if out is None else out + o
        return out

    def _fused(self, n_use: int) -> bool:
        """Whether the first ``n_use`` stages can run as one fused all-stages search (no projections,
        Euclidean, equal codebook sizes): same indices as the stage loop, one kernel launch on GPU."""
        st = self.stages[:n_use]
        return all(
            isinstance(s.in_proj, nn.Identity)
            and s.metric == "euclidean"
            and s.codebook_size == st[0].codebook_size
            for s in st
        )

    def _greedy(self, rows: torch.Tensor, n_use: int) -> torch.Tensor:
        if rows.is_cuda and self._fused(n_use):
            cbs = torch.stack([s.codes() for s in self.stages[:n_use]])
            return kernels.rvq_search(rows, cbs)[0]
        residual = rows
        idx_all = []
        for stage in self.stages[:n_use]:
            idx = stage.search(stage._project_in(residual))
            residual = residual - stage.out_proj(stage.codes()[idx])
            idx_all.append(idx)
        return torch.stack(idx_all, dim=1)

    def _beam(self, rows: torch.Tensor, n_use: int, beam: int, budget: int = 1 << 24) -> torch.Tensor:
        """Beam search over stage choices: keeps the ``beam`` lowest-error partial paths (in latent space)."""
        n, c = rows.shape
        step = max(1, budget // (beam * beam * c))
        result = torch.empty(n, n_use, dtype=torch.long, device=rows.device)
        for r0 in range(0, n, step):
            x = rows[r0 : r0 + step]
            m = x.shape[0]
            recon = torch.zeros(m, 1, c, device=rows.device)
            paths = torch.zeros(m, 1, 0, dtype=torch.long, device=rows.device)
            for stage in self.stages[:n_use]:
                w = recon.shape[1]
                res = (x[:, None, :] - recon).reshape(m * w, c)
                k = min(beam, stage.codebook_size)
                _, cand = kernels.vq_search_topk(
                    stage._project_in(res), stage.codes(), k, cosine=stage.metric == "cosine"
                )
                dec = stage.out_proj(stage.codes()[cand.reshape(-1)]).reshape(m * w, k, c)
                new_recon = (recon.reshape(m * w, 1, c) + dec).reshape(m, w * k, c)
                err = (x[:, None, :] - new_recon).pow(2).sum(-1)
                keep = torch.sort(err, dim=1, stable=True).indices[:, :beam]
                recon = new_recon.gather(1, keep[:, :, None].expand(-1, -1, c))
                parent = keep // k
                prev = paths.gather(1, parent[:, :, None].expand(-1, -1, paths.shape[2]))
                chosen = cand.reshape(m, w * k).gather(1, keep)
                paths = torch.cat([prev, chosen[:, :, None]], dim=2)
            best = (x[:, None, :] - recon).pow(2).sum(-1).argmin(1)
            result[r0 : r0 + m] = paths[torch.arange(m, device=rows.device), best]
        return result


class GRVQ(Quantizer):
    """Grouped residual VQ (HiFi-Codec): the channels split into ``groups`` equal groups, each its own RVQ.

    Token streams are group-major: ``indices[:, g * n_q + i]`` is stage ``i`` of group ``g``.  ``n_q`` at
    inference applies to every group; quantizer dropout draws one stage count per item for all groups.
    """

    def __init__(self, dim: int, groups: int, n_q: int, codebook_size: int = 1024, **rvq_kwargs: Any) -> None:
        super().__init__()
        if groups < 1 or dim % groups:
            raise ValueError(f"dim={dim} must be divisible by groups={groups}")
        self.dim = int(dim)
        self.groups = int(groups)
        self.n_q = int(n_q)
        self.rvqs = nn.ModuleList(RVQ(dim // groups, n_q, codebook_size, **rvq_kwargs) for _ in range(groups))

    @property
    def alphabet(self) -> tuple[int, ...]:
        return tuple(a for r in self.rvqs for a in r.alphabet)

    def config(self) -> dict[str, Any]:
        return {
            "type": "GRVQ",
            "dim": self.dim,
            "groups": self.groups,
            **{k: v for k, v in self.rvqs[0].config().items() if k not in ("type", "dim")},
        }

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> QuantizerOutput:
        if z.dim() < 2 or z.shape[1] != self.dim:
            raise ShapeError(f"expected {self.dim} channels on axis 1, got shape {tuple(z.shape)}")
        rvq0 = self.rvqs[0]
        n_use = rvq0._n_use(n_q)
        n_per_item = None
        if self.training and rvq0.quantizer_dropout > 0:
            b = z.shape[0]
            drop = torch.rand(b, device=z.device) < rvq0.quantizer_dropout
            rand_n = torch.randint(rvq0.dropout_min, n_use + 1, (b,), device=z.device)
            n_per_item = torch.where(drop, rand_n, torch.full_like(rand_n, n_use))
        outs = [
            r(part, n_use, n_per_item) for r, part in zip(self.rvqs, z.chunk(self.groups, dim=1), strict=True)
        ]
        z_q = torch.cat([o.z_q for o in outs], dim=1)
        indices = torch.cat([o.indices for o in outs], dim=1)
        loss = sum((o.loss for o in outs), z.new_zeros((), dtype=torch.float32))
        return QuantizerOutput(z_q, indices, loss, _merge_stats([o.stats for o in outs], "g"))

    def quantize(self, z: torch.Tensor, n_q: int | None = None, beam: int = 1) -> torch.Tensor:
        if z.dim() < 2 or z.shape[1] != self.dim:
            raise ShapeError(f"expected {self.dim} channels on axis 1, got shape {tuple(z.shape)}")
        parts = z.chunk(self.groups, dim=1)
        return torch.cat([r.quantize(p, n_q, beam) for r, p in zip(self.rvqs, parts, strict=True)], dim=1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        if indices.dim() < 2 or indices.shape[1] % self.groups:
            raise ShapeError(f"expected groups*n token streams on axis 1, got shape {tuple(indices.shape)}")
        parts = indices.chunk(self.groups, dim=1)
        return torch.cat([r.dequantize(p) for r, p in zip(self.rvqs, parts, strict=True)], dim=1)
