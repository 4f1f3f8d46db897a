"""The quantizer interface shared by VQ, RVQ, GRVQ, FSQ, BSQ and LFQ.

Axis convention
---------------
A quantizer takes a latent ``z`` of shape ``(B, C, *spatial)``: channels on axis 1, then any number of
spatial axes — ``(H, W)`` for images, ``(T,)`` for audio, ``(T, H, W)`` for video — so callers never
reshape.  Integer tokens are ``indices`` of shape ``(B, S, *spatial)`` (int64): axis 1 is the *stream*
axis (``S = 1`` for VQ/FSQ/BSQ/LFQ, ``S = n_q`` for RVQ stages, ``S = groups * n_q`` for grouped RVQ,
group-major), and stream ``s`` takes values in ``range(alphabet[s])``.

Quantizers with a natural per-dimension code (FSQ levels, BSQ/LFQ bits) also give ``symbol_alphabet``
with :meth:`Quantizer.indices_to_symbols` / :meth:`Quantizer.symbols_to_indices`: the same tokens as
``(B, D, *spatial)`` per-dimension (or per bit-group) symbols.

All quantization math runs in float32 with autocast disabled, whatever the input dtype, so bf16 or fp16
inputs give the same indices as the same values in fp32.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, NamedTuple

import torch
from torch import nn

from ncodec.errors import ShapeError

#: Codebook-usage statistics are tracked per code only up to this alphabet size.
MAX_TRACKED_CODES = 1 << 20


class QuantizerOutput(NamedTuple):
    """What ``forward`` returns.

    ``z_q``: the quantized latent, same shape as the input, with a straight-through (or rotation-trick)
    gradient to the input.  ``indices``: ``(B, S, *spatial)`` int64 tokens.  ``loss``: scalar auxiliary
    loss (commitment, codebook, entropy terms; zero where a quantizer has none).  ``stats``: floats
    (codebook usage, perplexity, dead codes, ...) for logging.
    """

    z_q: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    stats: dict[str, float]


def no_autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """A context that turns autocast off on ``device`` so quantization runs in float32."""
    return torch.autocast(device_type=device.type, enabled=False)


def to_rows(z: torch.Tensor, dim: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``(B, C, *spatial)`` → float32 rows ``(B * prod(spatial), C)`` and the ``(B, *spatial)`` shape."""
    if z.dim() < 2:
        raise ShapeError(f"expected a latent of shape (B, C, *spatial), got {tuple(z.shape)}")
    if z.shape[1] != dim:
        raise ShapeError(f"expected {dim} channels on axis 1, got shape {tuple(z.shape)}")
    if not z.is_floating_point():
        raise ShapeError(f"expected a floating-point latent, got {z.dtype}")
    lead = (z.shape[0], *z.shape[2:])
    rows = z.float().movedim(1, -1).reshape(-1, dim)
    return rows, lead


def from_rows(rows: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`to_rows`: rows ``(N, C)`` → ``(B, C, *spatial)``."""
    return rows.reshape(*lead, rows.shape[-1]).movedim(-1, 1)


def indices_to_rows(indices: torch.Tensor, streams: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``(B, S, *spatial)`` integer tokens → ``(N, S)`` rows and the ``(B, *spatial)`` shape."""
    if indices.dim() < 2:
        raise ShapeError(f"expected indices of shape (B, S, *spatial), got {tuple(indices.shape)}")
    if indices.shape[1] != streams:
        raise ShapeError(f"expected {streams} token stream(s) on axis 1, got shape {tuple(indices.shape)}")
    if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
        raise ShapeError(f"indices must be an integer tensor, got {indices.dtype}")
    lead = (indices.shape[0], *indices.shape[2:])
    return indices.long().movedim(1, -1).reshape(-1, streams), lead


def check_range(values: torch.Tensor, alphabet: tuple[int, ...] | list[int], what: str = "index") -> None:
    """Raise :class:`ShapeError` unless column ``s`` of ``values (N, S)`` lies in ``[0, alphabet[s])``."""
    if values.numel() == 0:
        return
    hi = torch.tensor(list(alphabet), dtype=torch.long, device=values.device)
    bad = (values < 0) | (values >= hi)
    if bool(bad.any()):
        row, col = (int(v) for v in bad.nonzero()[0])
        raise ShapeError(
            f"{what} {int(values[row, col])} out of range for stream {col} (alphabet {int(hi[col])})"
        )


def entropy_bits(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in bits of the distributions ``p`` along ``dim``."""
    return -(p * torch.log2(p.clamp_min(1e-30))).sum(dim)


class CodebookUsage(nn.Module):
    """Codebook health over a sliding window of updates, in O(K) memory.

    ``last_used[k]`` is the update step at which code ``k`` was last chosen; ``ema_counts`` an exponential
    moving average of the per-update histogram.  Usage over the window is the fraction of codes chosen in
    the last ``window`` updates, dead codes the rest, and perplexity ``2**H`` of the averaged histogram.
    The buffers are not saved with the weights.
    """

    def __init__(self, num_codes: int, window: int = 100, decay: float = 0.99) -> None:
        super().__init__()
        self.num_codes = int(num_codes)
        self.window = int(window)
        self.decay = float(decay)
        self.register_buffer("last_used", torch.full((self.num_codes,), -(1 << 62)), persistent=False)
        self.register_buffer("ema_counts", torch.zeros(self.num_codes), persistent=False)
        self.register_buffer("step", torch.zeros((), dtype=torch.long), persistent=False)

    def reset(self) -> None:
        self.last_used.fill_(-(1 << 62))
        self.ema_counts.zero_()
        self.step.zero_()

    @torch.no_grad()
    def update(self, flat_indices: torch.Tensor) -> torch.Tensor:
        """Record one batch of chosen codes; returns its histogram (float32, length K)."""
        counts = torch.bincount(flat_indices.reshape(-1), minlength=self.num_codes).float()
        self.step += 1
        self.last_used.masked_fill_(counts > 0, int(self.step))
        if int(self.step) == 1:
            self.ema_counts.copy_(counts)
        else:
            self.ema_counts.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        return counts

    def summary(self, prefix: str = "") -> dict[str, float]:
        used = int((self.last_used > self.step - self.window).sum())
        total = float(self.ema_counts.sum())
        ppl = 2.0 ** float(entropy_bits(self.ema_counts / total)) if total > 0 else 0.0
        return {
            f"{prefix}usage": used / self.num_codes,
            f"{prefix}dead_codes": float(self.num_codes - used),
            f"{prefix}window_perplexity": ppl,
        }


def batch_perplexity(counts: torch.Tensor) -> float:
    """Perplexity ``2**H`` of one batch's code histogram."""
    total = counts.sum()
    if float(total) == 0:
        return 0.0
    return float(2.0 ** entropy_bits(counts / total))


class Quantizer(nn.Module):
    """Base class: the interface every ncodec quantizer implements.

    Subclasses set ``self.dim`` (input channels) and implement :attr:`alphabet`, :meth:`forward`,
    :meth:`quantize` and :meth:`dequantize`.
    """

    dim: int

    @property
    def alphabet(self) -> tuple[int, ...]:
        """Number of symbols of each token stream (length ``num_streams``)."""
        raise NotImplementedError

    @property
    def num_streams(self) -> int:
        return len(self.alphabet)

    @property
    def bits_per_position(self) -> float:
        """Bits a fixed-length code spends per spatial position (sum over streams of log2 alphabet)."""
        return float(sum(math.log2(a) for a in self.alphabet))

    def quantize(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # Per-dimension symbols: only quantizers with a factorised code override these.
    @property
    def symbol_alphabet(self) -> tuple[int, ...]:
        """Alphabets of the per-dimension symbols; for quantizers without them, the stream alphabets."""
        return self.alphabet

    def indices_to_symbols(self, indices: torch.Tensor) -> torch.Tensor:
        return indices

    def symbols_to_indices(self, symbols: torch.Tensor) -> torch.Tensor:
        return symbols

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this quantizer (JSON-serialisable)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"dim={self.dim}, alphabet={self.alphabet if self.num_streams <= 4 else '...'}"
