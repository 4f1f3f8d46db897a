"""Codecs whose bottleneck emits integer tokens (FSQ, RVQ, BSQ, …), for any medium and any rank.

A token model (:class:`TokenModel`) maps a latent ``(B, C, *spatial)`` to tokens ``(B, S, *spatial)``
at a quality and back, and states each stream's alphabet.  :class:`TokenCodec` codes those tokens with
ncodec's integer priors: one static prior per quality (one table per stream, fitted from token counts
with :meth:`TokenCodec.fit_priors`), used directly (``prior="static"``) or as the starting point of
the adaptive context prior (``prior="adaptive"``: contexts from the neighbouring positions, the
previous stream and, for video, the previous frame; integer updates); ``prior="uniform"`` codes each
token in ``log2(K)`` bits, and :meth:`TokenCodec.choose_prior` picks the cheaper of static and uniform
for a sample of tokens (``prior="auto"`` where a medium offers it; the adaptive prior codes in pure
Python, about 50x slower, so it is only used when asked for).  Everything on the entropy path
is integer, so files are bit-exact across machines by construction.  A medium subclasses it with its
input checks, its token dataclass and its media metadata.
"""

from __future__ import annotations

import hashlib
import os
from abc import abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ncodec.codecs.base import Codec
from ncodec.codecs.weights import save_weights, weights_digest
from ncodec.container import MediaInfo, NcdHeader, compress, decompress
from ncodec.entropy import AdaptiveContextPrior, StaticPrior, UniformPrior, coder
from ncodec.errors import FormatError, NcodecError, ShapeError

PRIOR_KINDS = ("static", "adaptive", "uniform")
#: The kinds ``prior="auto"`` chooses between (both code at table speed).
AUTO_KINDS = ("static", "uniform")


@dataclass
class Tokens:
    """Integer tokens ``(B, S, *spatial)`` at a quality."""

    tokens: np.ndarray
    quality: int


class TokenModel:
    """The interface of a model with a discrete bottleneck (mixed into the medium's model class).

    ``token_axes`` names the spatial axes of its token arrays ``(B, S, *axes)``: ``"h, w"`` for images,
    ``"t"`` for audio, ``"t, h, w"`` for video.
    """

    token_axes: ClassVar[str] = "h, w"
    quantizer_name: ClassVar[str] = ""
    token_form: ClassVar[int] = 0  # container: 0 = one index per stream, 1 = per-dimension symbols

    def token_alphabet(self, q: int) -> tuple[int, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_tokens(self, y: torch.Tensor, q: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def from_tokens(self, tokens: torch.Tensor, q: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_streams(self, tokens: torch.Tensor, q: int) -> None:
        n = len(self.token_alphabet(q))
        if tokens.dim() != 2 + len(self.token_axes.split(",")) or tokens.shape[1] != n:
            raise ShapeError(f"tokens {tuple(tokens.shape)}: quality {q} needs (B, {n}, {self.token_axes})")


class TokenCodec(Codec):
    """Token models' codec: fitted integer priors, ``.ncd`` files, weights files (module docstring)."""

    compress_options = frozenset({"prior"})

    def __init__(self, model: torch.nn.Module, name: str, priors: list[StaticPrior] | None = None) -> None:
        super().__init__()
        if not isinstance(model, TokenModel):
            raise TypeError(f"{type(self).__name__} needs a token model (FSQ, RVQ or BSQ)")
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

    # ------------------------------------------------------------------------------ the medium's part
    @abstractmethod
    def encode(self, x: Any, quality: int) -> Tokens: ...

    @abstractmethod
    def _media_info(self, t: Tokens, **kw: Any) -> MediaInfo:
        """The header's media metadata for tokens ``t`` (keyword options of :meth:`compress_tokens`)."""

    @abstractmethod
    def _tokens_from_file(self, h: NcdHeader, tokens: np.ndarray, quality: int) -> Tokens:
        """The medium's token object for tokens decoded from a file with header ``h`` (checks sizes)."""

    def check_tokens(self, tokens: Any, quality: int) -> np.ndarray:
        """``tokens`` as an int64 array ``(B, S, *axes)`` with every value inside its stream's alphabet;
        ShapeError naming the problem otherwise."""
        if not isinstance(tokens, np.ndarray) or not np.issubdtype(tokens.dtype, np.integer):
            raise ShapeError(f"tokens must be an integer numpy array, got {type(tokens).__name__}")
        alphabet = self.alphabet(quality)
        rank = 2 + len(self.model.token_axes.split(","))
        if tokens.ndim != rank or tokens.shape[1] != len(alphabet) or tokens.shape[0] < 1 or tokens.size == 0:
            axes = self.model.token_axes
            raise ShapeError(f"tokens {tokens.shape}: quality {quality} needs (B, {len(alphabet)}, {axes})")
        hi = np.asarray(alphabet).reshape(1, -1, *([1] * (rank - 2)))
        if (tokens < 0).any() or (tokens >= hi).any():
            raise ShapeError(f"token values outside their alphabets {alphabet[:4]}...")
        return tokens.astype(np.int64, copy=False)

    # ------------------------------------------------------------------------------------------ priors
    @torch.no_grad()
    def fit_priors(self, items: Iterable[Any], pseudo_count: int = 1) -> None:
        """Fit one static prior per quality from the token counts of ``items`` (what :meth:`encode`
        takes, one at a time)."""
        counts = [[np.zeros(a, dtype=np.int64) for a in self.alphabet(q)] for q in range(self.qualities)]
        for item in items:
            for q in range(self.qualities):
                tok = self.encode(item, q).tokens
                for s, a in enumerate(self.alphabet(q)):
                    counts[q][s] += np.bincount(tok[:, s].ravel(), minlength=a)
        self.priors = [StaticPrior.from_counts([c + pseudo_count for c in cq]) for cq in counts]

    def prior(self, quality: int, kind: str) -> StaticPrior | AdaptiveContextPrior | UniformPrior:
        if kind == "uniform":
            return UniformPrior(self.alphabet(quality))
        if self.priors is None:
            raise NcodecError(f"{self.name} has no fitted priors (call fit_priors)")
        if kind not in PRIOR_KINDS:
            raise ValueError(f"prior kind must be one of {PRIOR_KINDS}")
        static = self.priors[quality]
        return static if kind == "static" else AdaptiveContextPrior(static.alphabet, init=static)

    def choose_prior(self, quality: int, sample: np.ndarray) -> str:
        """The kind in :data:`AUTO_KINDS` that codes the tokens ``sample`` (a chunk) in the fewest bytes
        (the first on a tie).  Fitted tables cost more than ``log2(K)`` bits a token on audio unlike
        their training data (narrow-band telephone speech, music unlike the training music): then
        ``uniform`` wins."""
        kinds = AUTO_KINDS if self.priors is not None else ("uniform",)
        sizes = [len(coder.encode(sample, self.prior(quality, k))) for k in kinds]
        return kinds[int(np.argmin(sizes))]

    # ------------------------------------------------------------------------------------------ bytes
    def compress_tokens(
        self, t: Tokens, prior: str = "adaptive", *, chunk_len: int | None = None,
        extra: Iterable[tuple[str, str]] = (), **media: Any,
    ) -> bytes:  # fmt: skip
        """Tokens (from :meth:`encode`) → a complete .ncd file: the entropy path alone, exact.
        ``chunk_len`` splits the first token axis into independent chunks; ``extra`` adds header fields."""
        self.check_quality(t.quality)
        return compress(
            t.tokens, self.prior(t.quality, prior), codec=self.name, weights_hash=self.digest,
            media=self._media_info(t, **media), quantizer=self.model.quantizer_name,
            token_form=self.model.token_form, prior_name=prior, chunk_len=chunk_len,
            extra=[("quality", str(t.quality)), *extra],
        )  # fmt: skip

    def decompress_tokens(self, data: bytes) -> Tokens:
        """A .ncd file of this codec → its tokens."""
        h, q = self.check_file(data)
        kind = h.prior_name if h.prior_name in PRIOR_KINDS else ""
        if not kind:
            raise FormatError(f"unknown prior {h.prior_name!r}")
        return self._tokens_from_file(h, decompress(data, self.prior(q, kind), codec=self.name), q)

    # ------------------------------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str], card: dict | None = None) -> None:
        """Weights, fitted priors (integer tables), configuration and card in one safetensors file."""
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        for q, p in enumerate(self.priors or []):
            for s, table in enumerate(p.tables):
                state[f"prior.q{q}.s{s}"] = torch.from_numpy(np.asarray(table, dtype=np.int32))
        save_weights(path, state, self.model, self.name, card)

    @classmethod
    def from_state(
        cls, model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike[str], name: str
    ) -> TokenCodec:
        """The codec for a built ``model`` and a weights file's tensors (weights and prior tables)."""
        priors_state = {k: state.pop(k) for k in [k for k in state if k.startswith("prior.")]}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise NcodecError(
                f"{path}: weights do not match the configuration ({missing[:3]} {unexpected[:3]})"
            )
        codec = cls(model, name)
        if priors_state:
            codec.priors = []
            for q in range(codec.qualities):
                n = len(codec.alphabet(q))
                tables = [priors_state.get(f"prior.q{q}.s{s}") for s in range(n)]
                if any(t is None for t in tables):
                    raise NcodecError(f"{path}: prior tables of quality {q} are incomplete")
                codec.priors.append(StaticPrior([t.numpy().astype(np.int64) for t in tables]))
        return codec
