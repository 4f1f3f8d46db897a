"""Image codecs with discrete bottlenecks (FSQ, RVQ, BSQ): tokens coded with ncodec's integer priors.

:class:`TokenImageCodec` wraps a trained :class:`~ncodec.codecs.image.models.TokenModel` (``FSQModel``,
``RVQModel`` or ``BSQModel``) on the shared token codec (:mod:`ncodec.codecs.tokens`).  Tokens are
``(B, S, h, w)``: FSQ gives one stream per latent channel (alphabet = the FSQ levels), RVQ one stream
per stage (alphabet = the codebook size), BSQ one stream per group of 8 bits (alphabet 256; quality
``q`` sends the first ``q + 1`` groups).  Each quality has a static prior fitted from token counts on
training images; files use it directly (``prior="static"``) or as the starting point of the adaptive
context prior (``prior="adaptive"``: left/up/previous-stream contexts, integer updates).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ncodec.codecs.image.base import ImageCodecBase
from ncodec.codecs.image.models import TokenModel
from ncodec.codecs.registry import register_codec
from ncodec.codecs.tokens import PRIOR_KINDS, TokenCodec, Tokens
from ncodec.container import MediaInfo, NcdHeader
from ncodec.errors import NcodecError

__all__ = ["PRIOR_KINDS", "TokenImage", "TokenImageCodec"]


@dataclass
class TokenImage(Tokens):
    """Tokens ``(B, S, h, w)`` of a batch of images, with what decoding needs besides the weights."""

    height: int = 0
    width: int = 0


@register_codec("image", "fsq", "rvq", "bsq")
class TokenImageCodec(TokenCodec, ImageCodecBase):
    """Encoder/decoder around a trained FSQ, RVQ or BSQ image model (see the module docstring)."""

    compress_options = frozenset({"channels", "prior"})

    @torch.no_grad()
    def encode(self, x: torch.Tensor, quality: int) -> TokenImage:
        """Images ``(B, 3, H, W)`` (or one ``(3, H, W)``) in [0, 1] → tokens (padded to 16 inside)."""
        q = self.check_quality(quality)
        x = self.check_image(x)
        h, w = x.shape[2:]
        tok = self.model.to_tokens(self.model.g_a(self.pad(x)), q)
        return TokenImage(tok.numpy().astype(np.int64), q, int(h), int(w))

    @torch.no_grad()
    def decode(self, t: TokenImage) -> torch.Tensor:
        """Tokens → images ``(B, 3, H, W)`` in [0, 1]."""
        q = self.check_quality(t.quality)
        tokens = self.check_tokens(t.tokens, q)
        self.check_coded_size(t.height, t.width, tokens.shape[2:])
        y = self.model.from_tokens(torch.from_numpy(np.ascontiguousarray(tokens)), q)
        return self.model.g_s(y).clamp_(0, 1)[:, :, : t.height, : t.width]

    def compress(self, x: torch.Tensor, quality: int, prior: str = "adaptive", channels: int = 3) -> bytes:
        """One image in [0, 1] → a complete .ncd file coded with the ``prior`` kind."""
        return self.compress_tokens(self.encode(x, quality), prior, channels=channels)

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """A .ncd file of this codec → images ``(B, 3, H, W)`` in [0, 1]."""
        return self.decode(self.decompress_tokens(data))

    def _media_info(self, t: TokenImage, channels: int = 3) -> MediaInfo:
        return MediaInfo(
            kind="image", width=t.width, height=t.height, channels=self.check_channels(channels),
            padding=self.padding(t.tokens.shape[2:4], t.height, t.width),
        )  # fmt: skip

    def _tokens_from_file(self, h: NcdHeader, tokens: np.ndarray, quality: int) -> TokenImage:
        self.check_coded_size(h.media.height, h.media.width, tokens.shape[2:], h.media.padding)
        return TokenImage(tokens, quality, h.media.height, h.media.width)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str | None = None) -> TokenImageCodec:
        model, state = cls.read_model(path)
        if not isinstance(model, TokenModel):
            raise NcodecError(f"{path}: bottleneck {model.cfg.bottleneck!r} is not a token model")
        return cls.from_state(model, state, path, name or Path(path).stem)

