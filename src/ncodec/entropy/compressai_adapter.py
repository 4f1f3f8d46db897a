"""Continuous latents through compressai's entropy models, coded by ncodec's coder.

compressai's ``EntropyBottleneck`` and ``GaussianConditional`` hold, after ``update()``, integer CDF tables
(``_quantized_cdf``, 16-bit precision), their lengths and offsets.  :class:`CompressaiAdapter` takes those
integer tables as they are (frequencies shifted from 16 to 24 bits: an exact change of scale), and codes the
integer symbols compressai's ``quantize(..., "symbols", means)`` produces with an
:class:`~ncodec.entropy.IndexedTablePrior`.  Out-of-range values use the table's last symbol as an escape, as
compressai does, so every integer round-trips.  The adapter gives tokens and priors; writing them into a
file is the container's job (``compress(tokens, adapter.prior(idx))``, or a ``TokenSection`` per latent).

Which table codes which element (``indexes``) must be identical in encoder and decoder.  For the
``EntropyBottleneck`` it is the channel.  For the ``GaussianConditional`` it comes from the hyper-decoder's
float scales through ``build_indexes``; that float step is the cross-machine hazard compressai users hit
(#279, #309): compute the scales deterministically (e.g. integer hyper-decoder) or send the indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ncodec.entropy.priors import IndexedTablePrior
from ncodec.entropy.tables import PRECISION, validate_freqs
from ncodec.errors import ShapeError

__all__ = ["CompressaiAdapter"]

#: Elements per block of the token conversions (their int64 temporaries stay within a few tens of MB).
BLOCK = 1 << 20


def _blocks(a: np.ndarray, idx: np.ndarray, out: np.ndarray):
    """``(a, idx, out)`` flattened and cut into blocks of :data:`BLOCK` elements (``out`` is written)."""
    fa, fi, fo = a.reshape(-1), idx.reshape(-1), out.reshape(-1)
    for s in range(0, fa.size, BLOCK):
        yield fa[s : s + BLOCK], fi[s : s + BLOCK], fo[s : s + BLOCK]


class CompressaiAdapter:
    """Codes a compressai entropy model's integer symbols with ncodec (ANS, .ncd container).

    Args:
        model: an ``EntropyBottleneck`` or ``GaussianConditional`` on which ``update()`` has been called.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        cdf = getattr(model, "_quantized_cdf", None)
        lengths = getattr(model, "_cdf_length", None)
        offsets = getattr(model, "_offset", None)
        if cdf is None or lengths is None or offsets is None or cdf.numel() == 0:
            raise ValueError("the compressai entropy model has no CDF tables: call model.update() first")
        precision = int(getattr(model, "entropy_coder_precision", 16))
        if not 1 <= precision <= PRECISION:
            raise ValueError(f"unsupported compressai CDF precision {precision}")
        cdf = cdf.detach().cpu().numpy().astype(np.int64)
        lengths = lengths.detach().cpu().numpy().reshape(-1).astype(np.int64)
        tables = []
        for row, n in zip(cdf, lengths, strict=True):
            c = row[: int(n)]
            if n < 3 or c[0] != 0 or c[-1] != 1 << precision:
                raise ValueError("compressai CDF table is not normalized: call model.update(force=True)")
            tables.append(validate_freqs(np.diff(c) << (PRECISION - precision)))
        self.model = model
        self.tables = tuple(tables)
        self._sizes = np.array([len(t) for t in self.tables], dtype=np.int64)
        self.offsets = offsets.detach().cpu().numpy().reshape(-1).astype(np.int64)
        self.is_bottleneck = hasattr(model, "_get_medians")

    # ----------------------------------------------------------------------------------------- tokens

    def _indexes(self, shape: Sequence[int], indexes: torch.Tensor | np.ndarray | None) -> np.ndarray:
        if indexes is None:
            if not self.is_bottleneck:
                raise ShapeError("GaussianConditional needs the table indexes (from build_indexes)")
            idx = self.model._build_indexes(torch.Size(shape))
        else:
            idx = indexes
        idx = np.asarray(idx.detach().cpu().numpy() if hasattr(idx, "detach") else idx).astype(np.int64)
        if idx.shape != tuple(shape):
            raise ShapeError(f"indexes of shape {idx.shape} for latents of shape {tuple(shape)}")
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.tables)):
            raise ShapeError(f"table index outside 0..{len(self.tables) - 1}")
        return idx

    def _means(self, y_shape: Sequence[int], means: torch.Tensor | None) -> torch.Tensor | None:
        if means is None and self.is_bottleneck:
            med = self.model._get_medians().detach()
            med = med.reshape(1, -1, *([1] * (len(y_shape) - 2)))
            return med.expand(*y_shape)
        return means

    def to_tokens(
        self, y: torch.Tensor, indexes: torch.Tensor | None = None, means: torch.Tensor | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latents -> (tokens >= 0, table index), both shaped like ``y``.

        A token is ``v = symbol - offset`` when ``0 <= v < K-1`` (``K`` = table size), otherwise
        ``K-1 + r`` with compressai's escape code ``r = -2v-1`` (v < 0) or ``2(v-(K-1))``.
        """
        if y.dim() < 2:
            raise ShapeError(f"latents must be (B, C, ...), got {tuple(y.shape)}")
        idx = self._indexes(y.shape, indexes)
        sym = self.model.quantize(y, "symbols", self._means(y.shape, means)).detach().cpu().numpy()
        return self.tokens_of(sym, idx), idx

    def tokens_of(self, symbols: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Integer symbols (compressai's ``quantize(..., "symbols")``) → tokens of tables ``idx``."""
        tok = np.empty(idx.shape, dtype=np.int64)
        for s, i, out in _blocks(np.asarray(symbols), idx, tok):  # bounded temporaries on large latents
            top = self._sizes[i] - 1  # escape symbol
            v = s.astype(np.int64) - self.offsets[i]
            out[...] = np.where(v < 0, top + (-2 * v - 1), np.where(v >= top, top + 2 * (v - top), v))
        return tok

    def symbols_of(self, tokens: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`tokens_of` (integers only)."""
        tokens, idx = np.asarray(tokens), np.asarray(idx)
        sym = np.empty(tokens.shape, dtype=np.int64)
        for t, i, out in _blocks(tokens, idx, sym):
            top = self._sizes[i] - 1
            r = t - top
            out[...] = np.where(r < 0, t, np.where(r % 2 == 1, -(r + 1) // 2, top + r // 2)) + self.offsets[i]
        return sym

    def retoken(self, tokens: np.ndarray, idx: np.ndarray, new_idx: np.ndarray) -> np.ndarray:
        """Tokens of tables ``idx`` → the same integer symbols as tokens of tables ``new_idx``."""
        return self.tokens_of(self.symbols_of(tokens, idx), np.asarray(new_idx))

    def from_tokens(
        self,
        tokens: np.ndarray,
        idx: np.ndarray,
        means: torch.Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Inverse of :meth:`to_tokens`, then compressai's dequantization (``symbol + means``)."""
        sym = self.symbols_of(tokens, idx)
        return self.model.dequantize(torch.from_numpy(sym), self._means(sym.shape, means), dtype)

    def prior(self, idx: np.ndarray) -> IndexedTablePrior:
        """The ncodec prior for a given table index array."""
        return IndexedTablePrior(self.tables, idx, escape=True)
