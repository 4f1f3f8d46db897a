"""The audio networks: a causal STFT-domain encoder and a causal iSTFT-head decoder (Vocos/ESC style).

Everything is causal along time, so the tokens of frame ``t`` depend only on samples up to the end of
that frame, and the samples of a frame only on tokens up to a fixed look-ahead:

* analysis: Hann-windowed frames of ``n_fft`` samples every ``hop`` samples; frame ``j`` *ends* at
  sample ``(j + 1) * hop`` (the signal is padded with ``n_fft - hop`` zeros in front);
* encoder: the power-law compressed complex spectrum (real and imaginary parts, ``|X|^0.3`` magnitude)
  → causal ConvNeXt blocks → a causal stride-``down`` convolution → blocks → the latent at
  ``sample_rate / (hop * down)`` Hz;
* decoder: blocks → causal ×``down`` upsampling (one linear layer emitting ``down`` frames) → blocks →
  log-magnitude and phase per bin → inverse FFT, synthesis Hann window, overlap-add.

With analysis and synthesis Hann windows at ``hop = n_fft / 4`` the window products sum to exactly
1.5 everywhere, so the overlap-add needs no data-dependent normalisation and a sample is final once the
``n_fft / hop`` frames covering it exist (``n_fft - hop`` samples of decoder look-ahead).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CausalConv1d(nn.Conv1d):
    """Conv1d padded on the left only (``(kernel - 1) * dilation`` zeros)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (self.kernel_size[0] - 1) * self.dilation[0]
        return super().forward(F.pad(x, (pad, 0)))


class CausalBlock(nn.Module):
    """ConvNeXt block with a causal depthwise convolution: dwconv → LayerNorm → MLP → layer scale."""

    def __init__(self, dim: int, kernel: int = 7, mlp_ratio: float = 3.0, dilation: int = 1) -> None:
        super().__init__()
        self.dw = CausalConv1d(dim, dim, kernel, dilation=dilation, groups=dim)
        self.norm = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.scale = nn.Parameter(torch.full((dim,), 0.1))

    def receptive(self) -> int:
        return (self.dw.kernel_size[0] - 1) * self.dw.dilation[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dw(x).transpose(1, 2)
        h = self.fc2(F.gelu(self.fc1(self.norm(h))))
        return x + (h * self.scale).transpose(1, 2)


def hann(n: int, device: torch.device | None = None) -> torch.Tensor:
    return torch.hann_window(n, periodic=True, device=device)


def rotation(bins: int, frames: int, frame0: int, hop_fraction: int, device: torch.device) -> torch.Tensor:
    """``e^{i·2π·k·j / hop_fraction}`` for bins ``k`` and absolute frames ``j = frame0 …``: the phase a
    bin-centred sinusoid advances from frame to frame (``hop = n_fft / hop_fraction``).

    Spectra are *demodulated* by it (multiplied by its conjugate) before the encoder and *modulated* by it
    after the decoder: a stationary partial then has a constant demodulated phase, which translation-
    equivariant convolutions can produce, where the raw phase rotates with the absolute frame index.
    With ``hop_fraction = 4`` the factors are exactly ``1, i, -1, -i`` (exact in floating point)."""
    k = torch.arange(bins, device=device)[:, None]
    j = torch.arange(frames, device=device)[None, :] + int(frame0)
    turn = (k * j) % hop_fraction
    table = torch.tensor([1, 1j, -1, -1j], dtype=torch.complex64, device=device) if hop_fraction == 4 else (
        torch.exp(2j * math.pi * torch.arange(hop_fraction, device=device) / hop_fraction).to(torch.complex64)
    )  # fmt: skip
    return table[turn]


class CausalSTFT(nn.Module):
    """Causal framing: ``x (B, N)`` → complex spectrum ``(B, n_fft // 2 + 1, N // hop)``."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        if n_fft % hop:
            raise ValueError("n_fft must be a multiple of hop")
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", hann(n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.n_fft - self.hop, 0))
        frames = x.unfold(-1, self.n_fft, self.hop)  # (B, frames, n_fft)
        return torch.fft.rfft(frames * self.window, dim=-1).transpose(1, 2)


class CausalISTFT(nn.Module):
    """Inverse of :class:`CausalSTFT` by overlap-add: ``(B, bins, F)`` → ``(B, F * hop)`` samples of which
    the last ``n_fft - hop`` still lack the frames that follow (they are final only when those exist)."""

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        if n_fft != 4 * hop:
            raise ValueError("the decoder's overlap-add needs hop = n_fft / 4 (constant window sum)")
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", hann(n_fft), persistent=False)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        b, _, f = spec.shape
        frames = torch.fft.irfft(spec.transpose(1, 2), n=self.n_fft, dim=-1) * self.window  # (B, F, n_fft)
        n = (f - 1) * self.hop + self.n_fft
        y = F.fold(
            frames.transpose(1, 2), output_size=(1, n), kernel_size=(1, self.n_fft), stride=(1, self.hop)
        ).reshape(b, n)
        # Hann² at 75 % overlap sums to 1.5; drop the leading padding the analysis added
        return y[:, self.n_fft - self.hop : self.n_fft - self.hop + f * self.hop] / 1.5


POWER = 0.3  # the power-law compression of spectra in the losses and the complex head


def compress_spec(spec: torch.Tensor, power: float = POWER, eps: float = 1e-4) -> torch.Tensor:
    """Power-law compressed complex spectrum ``(|X|² + eps)^((power-1)/2) · X`` as real/imag channels
    ``(B, 2·bins, F)``: ``|X|^power · e^{i∠X}`` with a bounded gradient at ``|X| → 0``."""
    c = spec * (spec.real.square() + spec.imag.square() + eps) ** ((power - 1.0) / 2)
    return torch.cat([c.real, c.imag], dim=1)


def compress_mag(spec: torch.Tensor, power: float = 0.3, eps: float = 1e-4) -> torch.Tensor:
    """``(|X|² + eps)^(power/2)``: the compressed magnitude with a bounded gradient."""
    return (spec.real.square() + spec.imag.square() + eps) ** (power / 2)


class AudioEncoder(nn.Module):
    """Samples ``(B, N)`` (``N`` a multiple of ``hop·down``) → latent ``(B, latent_dim, N / (hop·down))``."""

    def __init__(
        self,
        n_fft: int,
        hop: int,
        down: int,
        dim: int,
        latent_dim: int,
        blocks_fine: int,
        blocks_coarse: int,
        kernel: int = 7,
        logmag: bool = True,
        demodulate: bool = True,
    ) -> None:
        super().__init__()
        self.demodulate = demodulate
        self.stft = CausalSTFT(n_fft, hop)
        bins = n_fft // 2 + 1
        self.logmag = logmag
        self.inp = nn.Conv1d((3 if logmag else 2) * bins, dim, 1)
        self.fine = nn.Sequential(*[CausalBlock(dim, kernel) for _ in range(blocks_fine)])
        self.down = nn.Conv1d(dim, dim, down, stride=down)  # frames (d·t … d·t + d-1) → latent t: causal
        self.coarse = nn.Sequential(*[CausalBlock(dim, kernel) for _ in range(blocks_coarse)])
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, latent_dim)
        self.hop, self.factor = hop, down

    def receptive_frames(self) -> int:
        """Latent frames of left context that influence a latent frame (beyond its own)."""
        fine = sum(b.receptive() for b in self.fine)
        coarse = sum(b.receptive() for b in self.coarse)
        return coarse + math.ceil((fine + self.stft.n_fft // self.hop) / self.factor)

    def features(self, spec: torch.Tensor) -> torch.Tensor:
        """The compressed complex spectrum, and (``logmag``) the log magnitude: linear access to levels."""
        f = compress_spec(spec)
        if self.logmag:
            f = torch.cat([f, 0.5 * torch.log10(spec.real.square() + spec.imag.square() + 1e-6)], dim=1)
        return f

    def forward(self, x: torch.Tensor, frame0: int = 0) -> torch.Tensor:
        """``frame0``: the absolute index of the first STFT frame (the phase demodulation's origin)."""
        spec = self.stft(x)
        if self.demodulate:
            rot = rotation(spec.shape[1], spec.shape[2], frame0, self.stft.n_fft // self.hop, x.device)
            spec = spec * rot.conj()
        h = self.inp(self.features(spec))
        h = self.coarse(self.down(self.fine(h)))
        return self.out(self.norm(h.transpose(1, 2))).transpose(1, 2)


class AudioDecoder(nn.Module):
    """Latent ``(B, latent_dim, T)`` → samples ``(B, T·hop·down)`` (the last ``n_fft - hop`` unfinished)."""

    def __init__(
        self,
        n_fft: int,
        hop: int,
        up: int,
        dim: int,
        latent_dim: int,
        blocks_coarse: int,
        blocks_fine: int,
        kernel: int = 7,
        head: str = "complex",
        demodulate: bool = True,
    ) -> None:
        super().__init__()
        self.demodulate = demodulate
        if head not in ("complex", "polar"):
            raise ValueError("head must be 'complex' or 'polar'")
        self.head_kind = head
        self.inp = CausalConv1d(latent_dim, dim, 3)
        self.coarse = nn.Sequential(*[CausalBlock(dim, kernel) for _ in range(blocks_coarse)])
        self.up = nn.Linear(dim, dim * up)
        self.fine = nn.Sequential(*[CausalBlock(dim, kernel) for _ in range(blocks_fine)])
        self.norm = nn.LayerNorm(dim)
        self.bins = n_fft // 2 + 1
        self.head = nn.Linear(dim, 2 * self.bins)
        self.istft = CausalISTFT(n_fft, hop)
        self.factor = up
        self.hop, self.n_fft = hop, n_fft

    def receptive_frames(self) -> int:
        fine = sum(b.receptive() for b in self.fine)
        coarse = sum(b.receptive() for b in self.coarse)
        return 2 + coarse + math.ceil(fine / self.factor)

    def spectrum(self, z: torch.Tensor, frame0: int = 0) -> torch.Tensor:
        """The STFT frames for latent ``z``; ``frame0`` is the absolute index of the first one."""
        s = self._spectrum(z)
        if self.demodulate:
            s = s * rotation(s.shape[1], s.shape[2], frame0, self.n_fft // self.hop, z.device)
        return s

    def _spectrum(self, z: torch.Tensor) -> torch.Tensor:
        h = self.coarse(self.inp(z))
        b, d, t = h.shape
        h = self.up(h.transpose(1, 2)).reshape(b, t * self.factor, d).transpose(1, 2)
        h = self.fine(h)
        o = self.head(self.norm(h.transpose(1, 2))).transpose(1, 2)
        if self.head_kind == "complex":  # the power-law compressed complex spectrum, decompressed
            c = torch.complex(o[:, : self.bins], o[:, self.bins :])
            return c * (c.real.square() + c.imag.square() + 1e-8).clamp(max=1e4) ** ((1 / POWER - 1) / 2)
        logmag, phase = o[:, : self.bins], o[:, self.bins :]
        mag = torch.exp(logmag.clamp(max=6.0))
        return torch.polar(mag, phase)

    def forward(self, z: torch.Tensor, frame0: int = 0) -> torch.Tensor:
        return self.istft(self.spectrum(z, frame0))
