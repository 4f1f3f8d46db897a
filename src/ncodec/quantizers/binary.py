"""Binary quantizers: BSQ (binary spherical quantization) and LFQ (lookup-free quantization).

The latent is projected to ``bits`` channels, (BSQ only) l2-normalised onto the unit sphere, and each
channel binarised by its sign: codes are ``+-1/sqrt(bits)`` (BSQ) or ``+-1`` (LFQ).  The packed index sets
bit ``i`` where channel ``i`` is positive (alphabet ``2**bits``, ``bits <= 62``); per-group symbols split
the bits into groups of ``group_size`` (alphabet ``2**group_size`` each) for entropy coding.

The entropy regulariser of the BSQ paper, ``E[H(q(u))] - gamma * H(E[q(u)])`` with the soft assignment
``q(c|u) ∝ exp(-tau |c - u|^2)``, is computed by factorisation: the per-sample term factorises exactly over
bits, and the codebook term is approximated by independent groups of ``group_size`` bits, so only
``2**group_size``-entry tables are ever built — never a ``2**bits`` table.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ncodec import kernels
from ncodec.quantizers.base import (
    MAX_TRACKED_CODES,
    CodebookUsage,
    Quantizer,
    QuantizerOutput,
    batch_perplexity,
    check_range,
    entropy_bits,
    from_rows,
    indices_to_rows,
    no_autocast,
    to_rows,
)


def _group_sizes(bits: int, group_size: int) -> list[int]:
    full, rest = divmod(bits, group_size)
    return [group_size] * full + ([rest] if rest else [])


def binary_entropy_terms(logits: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample and codebook entropy (bits) of independent-bit soft assignments.

    ``logits (N, d)``: log-odds that bit ``i`` is 1.  Returns
    ``(mean_i sum_bits H(p_i), sum_groups H(E[p_group]))``
    where ``p_group`` is the joint distribution over the ``2**g`` patterns of a group of ``g`` bits.
    """
    p = torch.sigmoid(logits)
    per_sample = entropy_bits(torch.stack([p, 1 - p], dim=-1)).sum(-1).mean()
    logp1, logp0 = F.logsigmoid(logits), F.logsigmoid(-logits)
    codebook = logits.new_zeros(())
    start = 0
    for g in _group_sizes(logits.shape[1], group_size):
        patterns = kernels.binary_unpack(torch.arange(1 << g, device=logits.device), g).to(
            logits.dtype
        )  # (2^g, g)
        lp = logp1[:, start : start + g] @ patterns.t() + logp0[:, start : start + g] @ (1 - patterns).t()
        avg = lp.exp().mean(0)  # (2^g,)
        codebook = codebook + entropy_bits(avg)
        start += g
    return per_sample, codebook


class _BinaryQuantizer(Quantizer):
    spherical: bool = False

    def __init__(
        self,
        dim: int,
        bits: int,
        *,
        group_size: int = 8,
        commitment_weight: float = 0.25,
        entropy_weight: float = 0.1,
        codebook_entropy_weight: float = 1.0,
        inv_temperature: float = 1.0,
        stats_window: int = 100,
    ) -> None:
        super().__init__()
        if not 1 <= bits <= 62:
            raise ValueError(f"bits must be in [1, 62], got {bits}")
        if not 1 <= group_size <= 16:
            raise ValueError(f"group_size must be in [1, 16], got {group_size}")
        self.dim = int(dim)
        self.bits = int(bits)
        self.group_size = int(group_size)
        self.commitment_weight = float(commitment_weight)
        self.entropy_weight = float(entropy_weight)
        self.codebook_entropy_weight = float(codebook_entropy_weight)
        self.inv_temperature = float(inv_temperature)
        proj = self.dim != self.bits
        self.in_proj = nn.Linear(self.dim, self.bits) if proj else nn.Identity()
        self.out_proj = nn.Linear(self.bits, self.dim) if proj else nn.Identity()
        self.codebook_size = 1 << self.bits
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
        return tuple(1 << g for g in _group_sizes(self.bits, self.group_size))

    def config(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "dim": self.dim,
            "bits": self.bits,
            "group_size": self.group_size,
        }

    def _project(self, rows: torch.Tensor) -> torch.Tensor:
        u = self.in_proj(rows)
        return F.normalize(u, dim=-1) if self.spherical else u

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        # -tau |c - u|^2 factorises per bit: log-odds of bit=1 are 4 tau u_i * |c_i|
        scale = 1.0 / math.sqrt(self.bits) if self.spherical else 1.0
        return 4.0 * self.inv_temperature * scale * u

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        with no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            u = self._project(rows)
            codes, packed = kernels.binary_quantize(u.detach(), spherical=self.spherical)
            q_st = codes + (u - u.detach())
            out = self.out_proj(q_st)
            loss = rows.new_zeros(())
            stats: dict[str, float] = {}
            if self.training or u.requires_grad:
                commit = (u - codes).pow(2).sum(-1).mean() if self.spherical else (u - codes).pow(2).mean()
                per_sample, cb_entropy = binary_entropy_terms(self._logits(u), self.group_size)
                loss = self.commitment_weight * commit + self.entropy_weight * (
                    per_sample - self.codebook_entropy_weight * cb_entropy
                )
                stats["sample_entropy_bits"] = float(per_sample.detach())
                stats["codebook_entropy_bits"] = float(cb_entropy.detach())
            stats["bit_balance"] = float((codes > 0).float().mean()) if codes.numel() else 0.0
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
            from_rows(out, lead).to(z.dtype), packed.reshape(lead).unsqueeze(1), loss, stats
        )

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, dim, *spatial)`` → packed indices ``(B, 1, *spatial)``."""
        with torch.no_grad(), no_autocast(z.device):
            rows, lead = to_rows(z, self.dim)
            # signs do not change under l2 normalisation: skip it
            _, packed = kernels.binary_quantize(self.in_proj(rows), spherical=self.spherical)
        return packed.reshape(lead).unsqueeze(1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        rows, lead = indices_to_rows(indices, 1)
        check_range(rows, self.alphabet)
        with no_autocast(rows.device):
            out = self.out_proj(kernels.binary_dequantize(rows[:, 0], self.bits, spherical=self.spherical))
        return from_rows(out, lead)

    def indices_to_symbols(self, indices: torch.Tensor) -> torch.Tensor:
        """Packed ``(B, 1, *spatial)`` → per-group symbols ``(B, n_groups, *spatial)`` (low bits first)."""
        rows, lead = indices_to_rows(indices, 1)
        check_range(rows, self.alphabet)
        parts, shift = [], 0
        for g in _group_sizes(self.bits, self.group_size):
            parts.append((rows[:, 0] >> shift) & ((1 << g) - 1))
            shift += g
        return from_rows(torch.stack(parts, dim=1), lead)

    def symbols_to_indices(self, symbols: torch.Tensor) -> torch.Tensor:
        sizes = _group_sizes(self.bits, self.group_size)
        rows, lead = indices_to_rows(symbols, len(sizes))
        check_range(rows, self.symbol_alphabet, "symbol")
        packed = torch.zeros(rows.shape[0], dtype=torch.long, device=rows.device)
        shift = 0
        for i, g in enumerate(sizes):
            packed |= rows[:, i] << shift
            shift += g
        return packed.reshape(lead).unsqueeze(1)


class BSQ(_BinaryQuantizer):
    """Binary spherical quantization (Zhao et al. 2024): project to ``bits`` channels, l2-normalise,
    binarise by sign to ``+-1/sqrt(bits)``.

    Args:
        dim: input channels.  bits: code length (``<= 62``).  group_size: bits per symbol group and per
        group of the factorised codebook-entropy estimate.  commitment_weight, entropy_weight,
        codebook_entropy_weight (``gamma``), inv_temperature (``tau``): the loss terms.
    """

    spherical = True


class LFQ(_BinaryQuantizer):
    """Lookup-free quantization (MAGVIT-v2): BSQ without the sphere; codes are ``+-1`` per channel."""

    spherical = False
