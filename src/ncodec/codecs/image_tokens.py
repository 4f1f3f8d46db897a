"""Image codecs with discrete bottlenecks (FSQ, RVQ, BSQ): tokens coded with ncodec's integer priors.

:class:`TokenImageCodec` wraps a trained :class:`~ncodec.codecs.image_models.TokenModel` (``FSQModel``,
``RVQModel`` or ``BSQModel``).  Tokens are ``(B, S, h, w)``: FSQ gives one stream per latent channel
(alphabet = the FSQ levels), RVQ one stream per stage (alphabet = the codebook size), BSQ one stream per
group of 8 bits (alphabet 256; quality ``q`` sends the first ``q + 1`` groups).
Each quality has a static prior (one integer table per stream, fitted from token counts on training
images with :meth:`TokenImageCodec.fit_priors`); files use it directly (``prior="static"``) or as the
starting point of the adaptive context prior (``prior="adaptive"``: left/up/previous-stream contexts,
integer updates).  Everything on the entropy path is integer, so files are bit-exact across machines
by construction.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ncodec.codecs.image import check_header, save_weights, weights_digest
from ncodec.codecs.image_models import ImageModelConfig, TokenModel, build_model
from ncodec.container import MediaInfo, compress, decompress
from ncodec.entropy import AdaptiveContextPrior, StaticPrior
from ncodec.errors import FormatError, NcodecError, ShapeError

PRIOR_KINDS = ("static", "adaptive")


@dataclass
class TokenImage:
    """Tokens ``(B, S, h, w)`` of a batch of images, with what decoding needs besides the weights."""

    tokens: np.ndarray
    quality: int
    height: int
    width: int


class TokenImageCodec(torch.nn.Module):
    """Encoder/decoder around a trained FSQ or RVQ image model (see the module docstring)."""

    def __init__(self, model: TokenModel, name: str, priors: list[StaticPrior] | None = None) -> None:
        super().__init__()
        if not isinstance(model, TokenModel):
            raise TypeError("TokenImageCodec needs a token model (FSQ, RVQ or BSQ)")
        self.name = name
        self.model = model.eval()
        self.priors = priors
        self._weights_digest = weights_digest(model)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the weights and the fitted prior tables: decoding depends on both, so a file coded
        with other priors (a refit) is refused rather than decoded into garbage."""
        if not self.priors:
            return self._weights_digest
        h = hashlib.sha256(self._weights_digest)
        for p in self.priors:
            for table in p.tables:
                h.update(np.asarray(table, dtype=np.int64).tobytes() + b"|")
        return h.digest()

    @property
    def qualities(self) -> int:
        return self.model.qualities

    def alphabet(self, quality: int) -> tuple[int, ...]:
        return self.model.token_alphabet(quality)

    def _quality(self, quality: int) -> int:
        q = int(quality)
        if q != quality or not 0 <= q < self.qualities:
            raise ValueError(f"quality must be an integer in [0, {self.qualities - 1}], got {quality}")
        return q

    # ------------------------------------------------------------------------------------------ tokens
    @torch.no_grad()
    def encode(self, x: torch.Tensor, quality: int) -> TokenImage:
        """Images ``(B, 3, H, W)`` (or one ``(3, H, W)``) in [0, 1] → tokens (padded to 16 inside)."""
        q = self._quality(quality)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 1:
            raise ShapeError(f"expected RGB images (B, 3, H, W), got {tuple(x.shape)}")
        h, w = x.shape[2:]
        ph, pw = (-h) % 16, (-w) % 16
        xp = F.pad(x.float(), (0, pw, 0, ph), mode="replicate") if ph or pw else x.float()
        tok = self.model.to_tokens(self.model.g_a(xp), q)
        return TokenImage(tok.numpy().astype(np.int64), q, int(h), int(w))

    @torch.no_grad()
    def decode(self, t: TokenImage) -> torch.Tensor:
        """Tokens → images ``(B, 3, H, W)`` in [0, 1]."""
        q = self._quality(t.quality)
        tok = torch.from_numpy(np.ascontiguousarray(t.tokens))
        y = self.model.from_tokens(tok, q)
        return self.model.g_s(y).clamp_(0, 1)[:, :, : t.height, : t.width]

    # ------------------------------------------------------------------------------------------ priors
    @torch.no_grad()
    def fit_priors(self, images: Iterable[torch.Tensor], pseudo_count: int = 1) -> None:
        """Fit one static prior per quality from the token counts of ``images`` (each ``(3, H, W)``)."""
        counts = [[np.zeros(a, dtype=np.int64) for a in self.alphabet(q)] for q in range(self.qualities)]
        for img in images:
            for q in range(self.qualities):
                tok = self.encode(img, q).tokens
                for s, a in enumerate(self.alphabet(q)):
                    counts[q][s] += np.bincount(tok[:, s].ravel(), minlength=a)
        self.priors = [StaticPrior.from_counts([c + pseudo_count for c in cq]) for cq in counts]

    def prior(self, quality: int, kind: str) -> StaticPrior | AdaptiveContextPrior:
        if self.priors is None:
            raise NcodecError(f"{self.name} has no fitted priors (call fit_priors)")
        if kind not in PRIOR_KINDS:
            raise ValueError(f"prior kind must be one of {PRIOR_KINDS}")
        static = self.priors[quality]
        return static if kind == "static" else AdaptiveContextPrior(static.alphabet, init=static)

    # ------------------------------------------------------------------------------------------ bytes
    def compress(self, x: torch.Tensor, quality: int, prior: str = "adaptive", channels: int = 3) -> bytes:
        """One image in [0, 1] → a complete .ncd file coded with the ``prior`` kind."""
        return self.compress_tokens(self.encode(x, quality), prior, channels)

    def compress_tokens(self, t: TokenImage, prior: str = "adaptive", channels: int = 3) -> bytes:
        """Tokens (from :meth:`encode`) → a complete .ncd file: the entropy path alone, exact."""
        self._quality(t.quality)
        media = MediaInfo(
            kind="image", width=t.width, height=t.height, channels=channels,
            padding=(0, t.tokens.shape[2] * 16 - t.height, 0, t.tokens.shape[3] * 16 - t.width),
        )  # fmt: skip
        return compress(
            t.tokens, self.prior(t.quality, prior), codec=self.name, weights_hash=self.digest, media=media,
            quantizer=self.model.quantizer_name, token_form=self.model.token_form,
            prior_name=prior, extra=[("quality", str(t.quality))],
        )  # fmt: skip

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """A .ncd file of this codec → images ``(B, 3, H, W)`` in [0, 1]."""
        return self.decode(self.decompress_tokens(data))

    def decompress_tokens(self, data: bytes) -> TokenImage:
        """A .ncd file of this codec → its tokens."""
        h, q = check_header(data, self.name, self.digest, self.qualities)
        kind = h.prior_name if h.prior_name in PRIOR_KINDS else ""
        if not kind:
            raise FormatError(f"unknown prior {h.prior_name!r}")
        tok = decompress(data, self.prior(q, kind), codec=self.name)
        if h.media.height > tok.shape[2] * 16 or h.media.width > tok.shape[3] * 16:
            raise FormatError("image size in the header exceeds the coded latent")
        return TokenImage(tok, q, h.media.height, h.media.width)

    # ------------------------------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str], card: dict | None = None) -> None:
        """Weights, fitted priors (integer tables), configuration and card in one safetensors file."""
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        for q, p in enumerate(self.priors or []):
            for s, table in enumerate(p.tables):
                state[f"prior.q{q}.s{s}"] = torch.from_numpy(np.asarray(table, dtype=np.int32))
        save_weights(path, state, self.model, self.name, card)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str | None = None) -> TokenImageCodec:
        from ncodec.codecs.registry import model_card

        cfg = ImageModelConfig.from_dict(model_card(path)["config"])
        state = load_file(str(path))
        priors_state = {k: state.pop(k) for k in [k for k in state if k.startswith("prior.")]}
        model = build_model(cfg)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise NcodecError(
                f"{path}: weights do not match the configuration ({missing[:3]} {unexpected[:3]})"
            )
        codec = cls(model, name or Path(path).stem)
        if priors_state:
            codec.priors = []
            for q in range(codec.qualities):
                n = len(codec.alphabet(q))
                tables = [priors_state.get(f"prior.q{q}.s{s}") for s in range(n)]
                if any(t is None for t in tables):
                    raise NcodecError(f"{path}: prior tables of quality {q} are incomplete")
                codec.priors.append(StaticPrior([t.numpy().astype(np.int64) for t in tables]))
        return codec
