"""The trainable audio token model: causal STFT encoder → RVQ or residual FSQ → causal iSTFT decoder.

One network carries a bitrate ladder: the quantizer has ``n_q`` residual stages trained with quantizer
dropout, and quality ``q`` keeps the first ``ladder[q]`` of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ncodec.codecs.audio.nets import AudioDecoder, AudioEncoder
from ncodec.codecs.tokens import TokenModel
from ncodec.quantizers import RVQ, ResidualFSQ

BOTTLENECKS = ("rvq", "rfsq")
POSITIVE_FIELDS = (
    "sample_rate",
    "n_fft",
    "hop",
    "down",
    "enc_dim",
    "dec_dim",
    "latent_dim",
    "kernel",
    "n_q",
    "codebook_size",
)


@dataclass
class AudioModelConfig:
    """Architecture of an audio token model (JSON-able; stored in the weights file)."""

    bottleneck: str = "rvq"
    sample_rate: int = 16000
    n_fft: int = 640
    hop: int = 160
    down: int = 2
    enc_dim: int = 192
    dec_dim: int = 256
    latent_dim: int = 64
    enc_blocks: tuple[int, int] = (4, 2)  # at the STFT frame rate, then at the token rate
    dec_blocks: tuple[int, int] = (2, 6)  # at the token rate, then at the STFT frame rate
    kernel: int = 7
    head: str = "complex"  # decoder head: "complex" (compressed re/im per bin) or "polar" (log-mag, phase)
    logmag_input: bool = True  # the encoder also sees the log magnitude (not only the compressed re/im)
    demodulate: bool = True  # spectra demodulated by the bin-centre phase advance (nets.rotation)
    n_q: int = 16
    codebook_size: int = 1024  # rvq
    codebook_dim: int = 0  # rvq: factorised code dimension (0: codes in the latent space, as EnCodec)
    levels: tuple[int, ...] = (8, 5, 5, 5)  # rfsq: cells per dimension and stage
    quantizer_dropout: float = 0.5
    ladder: tuple[int, ...] = (3, 4, 6, 8, 10, 12, 16)  # stages kept at each quality
    channels: str = "mono"  # "mono": one channel; "stereo": each channel coded as its own item
    media: str = field(default="audio", repr=False)

    def __post_init__(self) -> None:
        self.enc_blocks = tuple(self.enc_blocks)
        self.dec_blocks = tuple(self.dec_blocks)
        self.levels = tuple(self.levels)
        self.ladder = tuple(self.ladder)
        if self.bottleneck not in BOTTLENECKS:
            raise ValueError(f"bottleneck must be one of {BOTTLENECKS}, not {self.bottleneck!r}")
        if self.n_fft != 4 * self.hop:
            raise ValueError("n_fft must be 4 * hop")
        if not self.ladder or list(self.ladder) != sorted(set(self.ladder)) or not 1 <= self.ladder[0]:
            raise ValueError("ladder must be increasing stage counts >= 1")
        if self.ladder[-1] > self.n_q:
            raise ValueError(f"ladder reaches {self.ladder[-1]} stages, the quantizer has {self.n_q}")
        if self.head not in ("complex", "polar"):
            raise ValueError("head must be 'complex' or 'polar'")
        if self.channels not in ("mono", "stereo"):
            raise ValueError("channels must be 'mono' or 'stereo'")
        limits = {
            "sample_rate": 192000,
            "n_fft": 8192,
            "enc_dim": 2048,
            "dec_dim": 2048,
            "latent_dim": 1024,
            "kernel": 63,
            "n_q": 64,
            "codebook_size": 1 << 16,
            "down": 16,
        }
        for k, hi in limits.items():
            if not 1 <= getattr(self, k) <= hi:
                raise ValueError(f"{k}={getattr(self, k)} outside 1..{hi}")
        if (
            any(not 0 <= b <= 64 for b in (*self.enc_blocks, *self.dec_blocks))
            or len(self.enc_blocks) != 2
            or len(self.dec_blocks) != 2
        ):
            raise ValueError("enc_blocks and dec_blocks are two block counts in 0..64")
        if not 0 <= self.codebook_dim <= 1024:
            raise ValueError("codebook_dim must be in 0..1024")

    @property
    def frame_samples(self) -> int:
        """Samples per token frame."""
        return self.hop * self.down

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioModelConfig:
        return cls(**{k: v for k, v in d.items() if k != "media"})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("enc_blocks", "dec_blocks", "levels", "ladder"):
            d[k] = list(d[k])
        return d


class AudioTokenModel(nn.Module, TokenModel):
    """Samples ``(B, N)`` ⇄ tokens ``(B, ladder[q], N / frame_samples)`` (module docstring)."""

    token_axes: ClassVar[str] = "t"

    def __init__(self, cfg: AudioModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = AudioEncoder(
            cfg.n_fft, cfg.hop, cfg.down, cfg.enc_dim, cfg.latent_dim, *cfg.enc_blocks, kernel=cfg.kernel,
            logmag=cfg.logmag_input, demodulate=cfg.demodulate,
        )  # fmt: skip
        self.decoder = AudioDecoder(
            cfg.n_fft,
            cfg.hop,
            cfg.down,
            cfg.dec_dim,
            cfg.latent_dim,
            *cfg.dec_blocks,
            kernel=cfg.kernel,
            head=cfg.head, demodulate=cfg.demodulate,
        )
        if cfg.bottleneck == "rvq":
            self.quantizer: nn.Module = RVQ(
                cfg.latent_dim, cfg.n_q, cfg.codebook_size, cfg.codebook_dim or None,
                quantizer_dropout=cfg.quantizer_dropout, dead_code_threshold=0.03, kmeans_init=True,
            )  # fmt: skip
        else:
            self.quantizer = ResidualFSQ(
                cfg.latent_dim, cfg.levels, cfg.n_q, quantizer_dropout=cfg.quantizer_dropout
            )
        self.quantizer_name = "RVQ" if cfg.bottleneck == "rvq" else "RFSQ"

    # ---------------------------------------------------------------------------------- token model
    @property
    def qualities(self) -> int:
        return len(self.cfg.ladder)

    def token_alphabet(self, q: int) -> tuple[int, ...]:
        return tuple(self.quantizer.alphabet[: self.cfg.ladder[q]])

    def to_tokens(self, y: torch.Tensor, q: int) -> torch.Tensor:
        return self.quantizer.quantize(y, n_q=self.cfg.ladder[q])

    def from_tokens(self, tokens: torch.Tensor, q: int) -> torch.Tensor:
        self._check_streams(tokens, q)
        return self.quantizer.dequantize(tokens)

    # ------------------------------------------------------------------------------------- training
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """``x (B, N)`` → reconstruction ``(B, N)``, decoder spectrum, quantizer output."""
        z = self.encoder(x)
        qo = self.quantizer(z)
        spec = self.decoder.spectrum(qo.z_q)
        return self.decoder.istft(spec), spec, qo

    @property
    def receptive_tokens(self) -> tuple[int, int]:
        """Token frames of left context that the encoder and the decoder need (beyond the frame itself)."""
        return self.encoder.receptive_frames(), self.decoder.receptive_frames()


def build_audio_model(config: dict[str, Any]) -> AudioTokenModel:
    cfg = {k: v for k, v in config.items() if k in AudioModelConfig.__dataclass_fields__}
    return AudioTokenModel(AudioModelConfig(**cfg))
