"""Vector quantization with a learned codebook.

Euclidean or cosine metric; codebook learned by exponential moving averages (EMA) or by gradient
(codebook + commitment loss); k-means initialisation from the first training batch; dead-code restart;
optional low-dimensional factorised codes (project ``dim -> codebook_dim`` before the search and back
after, as in DAC and BigCodec); straight-through or rotation-trick gradients.  The nearest-neighbour
search runs in bounded memory (:func:`ncodec.kernels.vq_search`), so codebooks of 2^18 entries work on
a CPU.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
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


def _dist() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if _dist():
        torch.distributed.all_reduce(t)
    return t


def _broadcast(t: torch.Tensor) -> torch.Tensor:
    if _dist():
        torch.distributed.broadcast(t, src=0)
    return t


def rotate_to(src: torch.Tensor, tgt: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The rotation trick (Fifty et al. 2024): ``tgt``'s value with gradients through a rotation of ``src``.

    Each row ``e`` of ``src`` is mapped onto its code ``q`` by the rotation ``R`` taking ``e/|e|`` to
    ``q/|q|``, scaled by ``|q|/|e|``; ``R`` and the scale are constants for autograd, so the gradient that
    reaches ``e`` is the output gradient rotated back (angles between gradient and codeword preserved)
    instead of copied unchanged as in the straight-through estimator.  Forward value equals ``tgt`` exactly.
    """
    tgt = tgt.detach()
    e_norm = src.detach().norm(dim=-1, keepdim=True).clamp_min(eps)
    q_norm = tgt.norm(dim=-1, keepdim=True).clamp_min(eps)
    u = src.detach() / e_norm
    q = tgt / q_norm
    w = F.normalize(u + q, dim=-1, eps=eps)
    # R e = e - 2 (e.w) w + 2 (e.u) q
    rotated = src - 2 * (src * w).sum(-1, keepdim=True) * w + 2 * (src * u).sum(-1, keepdim=True) * q
    rotated = rotated * (q_norm / e_norm)
    return tgt + (rotated - rotated.detach())


def straight_through(src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """``tgt``'s value (exactly) with the identity gradient to ``src``."""
    return tgt.detach() + (src - src.detach())


ESTIMATORS = {"ste": straight_through, "rotation": rotate_to}


@torch.no_grad()
def kmeans(
    data: torch.Tensor,
    k: int,
    iters: int = 10,
    *,
    cosine: bool = False,
    generator: torch.Generator | None = None,
    chunk_elems: int = kernels.DEFAULT_CHUNK_ELEMS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means in bounded memory: ``(centroids (k, D), counts (k,))``.

    Starts from a random sample of the data (with replacement and a little noise when there are fewer
    rows than centroids); an emptied cluster is re-seeded with a random data row.
    """
    data = data.float()
    n = data.shape[0]
    if n == 0:
        raise ShapeError("k-means needs at least one data row")
    dev = data.device
    if n >= k:
        perm = torch.randperm(n, generator=generator, device="cpu")[:k].to(dev)
        cent = data[perm].clone()
    else:
        pick = torch.randint(0, n, (k,), generator=generator, device="cpu").to(dev)
        scale = data.std(0, keepdim=True).clamp_min(1e-6) * 1e-2
        cent = data[pick] + scale * torch.randn(k, data.shape[1], generator=generator).to(dev)
    if cosine:
        cent = F.normalize(cent, dim=-1)
    counts = torch.zeros(k, device=dev)
    for _ in range(max(1, iters)):
        idx = kernels.vq_search(data, cent, cosine=cosine, chunk_elems=chunk_elems)
        counts = torch.bincount(idx, minlength=k).float()
        sums = torch.zeros_like(cent).index_add_(0, idx, data)
        empty = counts == 0
        new = sums / counts.clamp_min(1)[:, None]
        if bool(empty.any()):
            refill = torch.randint(0, n, (int(empty.sum()),), generator=generator, device="cpu").to(dev)
            new[empty] = data[refill]
        cent = F.normalize(new, dim=-1) if cosine else new
    return cent, counts


class VQ(Quantizer):
    """Vector quantizer with a learned codebook of ``codebook_size`` entries.

    Args:
        dim: channels of the input latent (axis 1).
        codebook_size: number of codes K (any positive integer; up to 2^18 tested on CPU).
        codebook_dim: dimension of the codes; if it differs from ``dim`` the latent is projected down
            before the search and back up after (factorised codes, as in DAC).
        metric: ``"euclidean"`` or ``"cosine"`` (latent and codes l2-normalised; the code returned is the
            normalised codeword).
        learning: ``"ema"`` (codebook follows exponential moving averages of its assigned vectors) or
            ``"grad"`` (codebook is a parameter trained by the codebook loss).
        decay: EMA decay, for the codebook (``"ema"``) and the per-code usage counts (both modes).
        commitment_weight: weight of ``|z_e - sg(q)|^2``.
        codebook_weight: weight of ``|sg(z_e) - q|^2`` (``"grad"`` only).
        kmeans_init: initialise the codebook by k-means on the first training batch.
        kmeans_iters: Lloyd iterations for that initialisation.
        dead_code_threshold: in training, codes whose EMA usage count (expected assignments per batch)
            falls below this are restarted from random vectors of the current batch; 0 disables.
        estimator: ``"ste"`` (straight-through) or ``"rotation"`` (the rotation trick).
        stats_window: number of training updates over which codebook usage is reported.
        chunk_elems: distance-tile budget of the nearest-neighbour search (elements).
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        codebook_dim: int | None = None,
        *,
        metric: Literal["euclidean", "cosine"] = "euclidean",
        learning: Literal["ema", "grad"] = "ema",
        decay: float = 0.99,
        eps: float = 1e-5,
        commitment_weight: float = 0.25,
        codebook_weight: float = 1.0,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        dead_code_threshold: float = 0.0,
        estimator: Literal["ste", "rotation"] = "ste",
        stats_window: int = 100,
        chunk_elems: int = kernels.DEFAULT_CHUNK_ELEMS,
    ) -> None:
        super().__init__()
        if codebook_size < 1:
            raise ValueError("codebook_size must be >= 1")
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"unknown metric {metric!r}")
        if learning not in ("ema", "grad"):
            raise ValueError(f"unknown learning {learning!r}")
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown estimator {estimator!r}; choose from {sorted(ESTIMATORS)}")
        self.dim = int(dim)
        self.codebook_size = int(codebook_size)
        self.codebook_dim = int(codebook_dim or dim)
        self.metric = metric
        self.learning = learning
        self.decay = float(decay)
        self.eps = float(eps)
        self.commitment_weight = float(commitment_weight)
        self.codebook_weight = float(codebook_weight)
        self.kmeans_iters = int(kmeans_iters)
        self.dead_code_threshold = float(dead_code_threshold)
        self.estimator = estimator
        self.stats_window = int(stats_window)
        self.chunk_elems = int(chunk_elems)
        self._kmeans_init = bool(kmeans_init)

        factorised = self.codebook_dim != self.dim
        self.in_proj = nn.Linear(self.dim, self.codebook_dim) if factorised else nn.Identity()
        self.out_proj = nn.Linear(self.codebook_dim, self.dim) if factorised else nn.Identity()

        init = torch.randn(self.codebook_size, self.codebook_dim)
        if metric == "cosine":
            init = F.normalize(init, dim=-1)
        if learning == "ema":
            self.register_buffer("codebook", init)
            self.register_buffer("embed_avg", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        self.register_buffer("cluster_size", torch.ones(self.codebook_size))
        self.register_buffer("initialized", torch.tensor(not kmeans_init))
        self.usage = (
            CodebookUsage(self.codebook_size, stats_window) if codebook_size <= MAX_TRACKED_CODES else None
        )

    # ------------------------------------------------------------------------------------------ interface
    @property
    def alphabet(self) -> tuple[int, ...]:
        return (self.codebook_size,)

    def config(self) -> dict[str, Any]:
        return {
            "type": "VQ",
            "dim": self.dim,
            "codebook_size": self.codebook_size,
            "codebook_dim": self.codebook_dim,
            "metric": self.metric,
        }

    def codes(self) -> torch.Tensor:
        """The codewords as used for search and reconstruction (normalised in cosine mode), float32."""
        cb = self.codebook.float()
        return F.normalize(cb, dim=-1) if self.metric == "cosine" else cb

    def _project_in(self, rows: torch.Tensor) -> torch.Tensor:
        ze = self.in_proj(rows)
        return F.normalize(ze, dim=-1) if self.metric == "cosine" else ze

    def search(self, ze: torch.Tensor) -> torch.Tensor:
        """Nearest code of every row of ``ze`` (already in code space)."""
        return kernels.vq_search(
            ze.detach(), self.codes().detach(), cosine=self.metric == "cosine", chunk_elems=self.chunk_elems
        )

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, dim, *spatial)`` → indices ``(B, 1, *spatial)``."""
        with torch.no_grad(), no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            idx = self.search(self._project_in(rows))
        return idx.reshape(lead).unsqueeze(1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        """indices ``(B, 1, *spatial)`` → latent ``(B, dim, *spatial)`` float32."""
        rows, lead = indices_to_rows(indices, 1)
        check_range(rows, self.alphabet)
        with no_autocast(rows.device):
            out = self.out_proj(self.codes()[rows[:, 0]])
        return from_rows(out, lead)

    # ------------------------------------------------------------------------------------------ training
    @torch.no_grad()
    def init_codebook(self, data: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Initialise the codebook by k-means on ``data`` rows ``(N, codebook_dim)`` (already projected)."""
        cent, counts = kmeans(
            data.detach(),
            self.codebook_size,
            self.kmeans_iters,
            cosine=self.metric == "cosine",
            generator=generator,
            chunk_elems=self.chunk_elems,
        )
        _broadcast(cent)
        _broadcast(counts)
        self.codebook.data.copy_(cent)
        self.cluster_size.copy_(counts)
        if self.learning == "ema":
            self.embed_avg.copy_(cent * counts[:, None])
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, ze: torch.Tensor, idx: torch.Tensor) -> None:
        counts = _all_reduce(torch.bincount(idx, minlength=self.codebook_size).float())
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.learning != "ema":
            return
        sums = _all_reduce(torch.zeros_like(self.embed_avg).index_add_(0, idx, ze.float()))
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.codebook_size * self.eps) * n
        new = self.embed_avg / smoothed[:, None]
        if self.metric == "cosine":
            new = F.normalize(new, dim=-1)
        self.codebook.copy_(new)

    @torch.no_grad()
    def _restart_dead(self, ze: torch.Tensor) -> int:
        dead = self.cluster_size < self.dead_code_threshold
        n_dead = int(dead.sum())
        if n_dead == 0 or ze.shape[0] == 0:
            return 0
        pick = torch.randint(0, ze.shape[0], (n_dead,), device=ze.device)
        fresh = ze[pick].float()
        if self.metric == "cosine":
            fresh = F.normalize(fresh, dim=-1)
        new_cb = self.codebook.data.clone()
        new_cb[dead] = fresh
        _broadcast(new_cb)
        self.codebook.data.copy_(new_cb)
        self.cluster_size[dead] = self.dead_code_threshold
        if self.learning == "ema":
            self.embed_avg[dead] = new_cb[dead] * self.dead_code_threshold
        return n_dead

    # ------------------------------------------------------------------------------------------ forward
    def forward_rows(self, rows: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Quantize float32 rows ``(N, dim)``; ``mask`` (N,) bool selects rows that train the codebook.

        Returns ``(out (N, dim), idx (N,), loss, counts-or-None, restarted)``.
        """
        ze = self._project_in(rows)
        active = ze if mask is None else ze[mask]
        if self.training and not bool(self.initialized) and active.shape[0] > 0:
            self.init_codebook(active)
        idx = self.search(ze)
        q = self.codes()[idx]
        loss = rows.new_zeros(())
        counts = None
        restarted = 0
        if self.training or ze.requires_grad:
            diff_commit = (ze - q.detach()).pow(2).mean(-1)
            per_row = self.commitment_weight * diff_commit
            if self.learning == "grad":
                per_row = per_row + self.codebook_weight * (ze.detach() - q).pow(2).mean(-1)
            loss = per_row.mean() if mask is None else (per_row * mask).sum() / mask.sum().clamp_min(1)
        if self.training:
            act_idx = idx if mask is None else idx[mask]
            if self.usage is not None:
                counts = self.usage.update(act_idx)
            self._ema_update(active.detach(), act_idx)
            if self.dead_code_threshold > 0:
                restarted = self._restart_dead(active.detach())
        elif self.usage is not None:
            counts = torch.bincount(idx, minlength=self.codebook_size).float()
        q_st = ESTIMATORS[self.estimator](ze, q)
        return self.out_proj(q_st), idx, loss, counts, restarted

    def forward(self, z: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        """Quantize ``z (B, dim, *spatial)``; ``mask (B,)`` (bool) limits training updates to some items."""
        with no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            row_mask = None
            if mask is not None:
                row_mask = mask.bool().reshape(-1, *([1] * (len(lead) - 1))).expand(lead).reshape(-1)
            out, idx, loss, counts, restarted = self.forward_rows(rows, row_mask)
        stats = self.stats(counts)
        if restarted:
            stats["restarted_codes"] = float(restarted)
        z_q = from_rows(out, lead).to(z.dtype)
        return QuantizerOutput(z_q, idx.reshape(lead).unsqueeze(1), loss, stats)

    def stats(self, counts: torch.Tensor | None = None) -> dict[str, float]:
        out: dict[str, float] = {}
        if counts is not None:
            out["perplexity"] = batch_perplexity(counts)
        if self.usage is not None and int(self.usage.step) > 0:
            out.update(self.usage.summary())
        return out
