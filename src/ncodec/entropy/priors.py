"""Priors: where the integer frequency tables for the coder come from.

Two families:

* **Table priors** (:class:`UniformPrior`, :class:`StaticPrior`, :class:`IndexedTablePrior`): a fixed
  table per symbol class; coded with ANS (constriction's ``AnsCoder``), one vectorised call per table.
* **Sequential priors** (:class:`AdaptiveContextPrior`, :class:`NeuralPrior`): the table of a token depends on
  tokens coded before it.  Tokens are visited in *wavefronts*: for one item of shape ``(S, *spatial)`` the
  wavefront number of a token at ``(s, c_1, ..., c_r)`` is ``s + c_1 + ... + c_r``.  Every context a prior
  may use (previous stage ``s-1``, left ``c_r-1``, up ``c_{r-1}-1``, previous frame ``c_1-1`` for video)
  lies on the previous wavefront, so all tokens of one wavefront and stream are coded in one batched call
  and the prior is updated once per wavefront.  These are coded with constriction's range coder, which
  encodes in the same order it decodes, so tables never have to be kept for a reverse pass.

Every prior reports ``kind`` (recorded in the .ncd header), ``params`` (small integers that configure it)
and ``digest`` (32 bytes identifying tables or weights it depends on), so a file names exactly what it
needs to be decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ncodec.entropy.tables import (
    PRECISION,
    TOTAL,
    _quantize_rows,
    check_alphabet,
    freqs_from_counts,
    freqs_from_probabilities,
    tables_digest,
    uniform_freqs,
    validate_freqs,
)
from ncodec.errors import ShapeError

__all__ = [
    "AdaptiveContextPrior",
    "FrameIndexedPrior",
    "IndexedTablePrior",
    "NeuralPrior",
    "Prior",
    "PriorKind",
    "SequentialPrior",
    "StaticPrior",
    "TablePrior",
    "UniformPrior",
    "to_numpy_tokens",
]

_ZERO_DIGEST = bytes(32)
#: Dense co-occurrence counts one adaptive-prior state may hold in all (int32 entries: 64 MiB).
_DENSE_BUDGET = 1 << 24


class PriorKind:
    """Prior kind identifiers as written in the .ncd header (``docs/FORMAT.md``)."""

    UNIFORM = 0
    STATIC = 1
    ADAPTIVE = 2
    NEURAL = 3
    INDEXED = 4
    NAMES: ClassVar[dict[int, str]] = {0: "uniform", 1: "static", 2: "adaptive", 3: "neural", 4: "indexed"}


def to_numpy_tokens(tokens: ArrayLike) -> np.ndarray:
    """Integer tokens (numpy array or torch tensor, any integer dtype) -> ``int64`` numpy array."""
    if hasattr(tokens, "detach"):
        tokens = tokens.detach().cpu().numpy()
    a = np.asarray(tokens)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"tokens must be integers, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _check_alphabets(alphabet: Sequence[int]) -> tuple[int, ...]:
    alphabet = tuple(check_alphabet(int(k)) for k in alphabet)
    if not alphabet:
        raise ValueError("an alphabet tuple needs at least one stream")
    return alphabet


class Prior:
    """Base class.  ``alphabet[s]`` is the number of symbols stream ``s`` may take."""

    kind: ClassVar[int]
    alphabet: tuple[int, ...]

    @property
    def params(self) -> tuple[int, ...]:
        """Integers that configure the prior (written to the header)."""
        return ()

    @property
    def digest(self) -> bytes:
        """32 bytes identifying the tables/weights this prior depends on (zeros: none)."""
        return _ZERO_DIGEST

    @property
    def kind_name(self) -> str:
        return PriorKind.NAMES[self.kind]


class TablePrior(Prior):
    """A prior with one fixed integer table per symbol class; ``tables[s]`` codes stream ``s``."""

    tables: tuple[np.ndarray, ...]

    def table_index(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """Per-token table number for a token array of ``shape`` (None: the stream axis 1 selects it)."""
        return None


class UniformPrior(TablePrior):
    """Fixed-length coding: every symbol of stream ``s`` costs ``log2(alphabet[s])`` bits (to 1e-7)."""

    kind = PriorKind.UNIFORM

    def __init__(self, alphabet: Sequence[int]) -> None:
        self.alphabet = _check_alphabets(alphabet)
        self.tables = tuple(uniform_freqs(k) for k in self.alphabet)

    def __repr__(self) -> str:
        return f"UniformPrior(alphabet={self.alphabet})"


class StaticPrior(TablePrior):
    """One static integer table per stream (RVQ stage, FSQ dimension, BSQ bit group, ...).

    Build it with :meth:`fit` from tokens or :meth:`from_counts`; store it with the model weights through
    :meth:`state_dict` / :meth:`save` (safetensors, int32) and restore it with :meth:`from_state_dict` /
    :meth:`load`.  Every symbol keeps a frequency >= 1, so any token can be coded.
    """

    kind = PriorKind.STATIC

    def __init__(self, tables: Sequence[ArrayLike]) -> None:
        tabs = tuple(validate_freqs(t) for t in tables)
        if not tabs:
            raise ValueError("StaticPrior needs at least one table")
        self.tables = tabs
        self.alphabet = tuple(len(t) for t in tabs)
        self._digest = tables_digest(tabs)

    @property
    def digest(self) -> bytes:
        return self._digest

    @classmethod
    def from_counts(cls, counts: Sequence[ArrayLike]) -> StaticPrior:
        """One count vector per stream -> tables (see :func:`ncodec.entropy.tables.freqs_from_counts`)."""
        return cls([freqs_from_counts(np.asarray(c, dtype=np.int64)) for c in counts])

    @classmethod
    def fit(cls, tokens: ArrayLike, alphabet: Sequence[int], pseudo_count: int = 0) -> StaticPrior:
        """Fit from tokens of shape ``(B, S, *spatial)`` with ``alphabet`` of length S.

        ``pseudo_count`` is added to every symbol's count before quantization (symbols never seen keep a
        frequency of at least 1 in any case).
        """
        alphabet = _check_alphabets(alphabet)
        t = to_numpy_tokens(tokens)
        if t.ndim < 2 or t.shape[1] != len(alphabet):
            raise ValueError(f"tokens of shape {t.shape} do not match {len(alphabet)} streams")
        counts = []
        for s, k in enumerate(alphabet):
            x = t[:, s].reshape(-1)
            if x.size and (x.min() < 0 or x.max() >= k):
                raise ValueError(f"stream {s} has tokens outside 0..{k - 1}")
            counts.append(np.bincount(x, minlength=k).astype(np.int64) + int(pseudo_count))
        return cls.from_counts(counts)

    def state_dict(self, prefix: str = "prior.") -> dict[str, np.ndarray]:
        """Integer tensors to store alongside model weights (``{prefix}table.{s}``: int32)."""
        return {f"{prefix}table.{s}": t.astype(np.int32) for s, t in enumerate(self.tables)}

    @classmethod
    def from_state_dict(cls, state: dict, prefix: str = "prior.") -> StaticPrior:
        """Inverse of :meth:`state_dict`; accepts numpy arrays or torch tensors."""
        tabs = []
        s = 0
        while f"{prefix}table.{s}" in state:
            tabs.append(to_numpy_tokens(state[f"{prefix}table.{s}"]))
            s += 1
        if not tabs:
            raise ValueError(f"no '{prefix}table.0' in state dict")
        return cls(tabs)

    def save(self, path: str | Path) -> None:
        """Write the tables as a safetensors file."""
        from safetensors.numpy import save_file

        save_file(self.state_dict(), str(path), metadata={"format": "ncodec-static-prior", "version": "1"})

    @classmethod
    def load(cls, path: str | Path) -> StaticPrior:
        """Read tables written by :meth:`save`."""
        from safetensors.numpy import load_file

        return cls.from_state_dict(load_file(str(path)))

    def __repr__(self) -> str:
        return f"StaticPrior(alphabet={self.alphabet}, digest={self.digest.hex()[:12]})"


class IndexedTablePrior(TablePrior):
    """A bank of tables and, per token, which table codes it (compressai-style ``indexes``).

    ``index`` has the shape of the symbol array and must be known to the decoder too (e.g. derived from an
    already decoded hyper-latent *with integer arithmetic*: if it comes from float network outputs, two
    machines may pick different tables, which is compressai's cross-machine failure).

    With ``escape=True`` the last symbol ``K-1`` of every table is an escape: a token ``t >= K-1`` is
    coded as ``K-1`` followed by the overflow ``t - (K-1)`` (``< 2**62``) in four 16-bit uniform limbs, so
    unbounded non-negative integers can be coded (compressai's out-of-range values, see the adapter).
    """

    kind = PriorKind.INDEXED

    def __init__(self, tables: Sequence[ArrayLike], index: ArrayLike, *, escape: bool = False) -> None:
        tabs = tuple(validate_freqs(t) for t in tables)
        if escape and any(len(t) < 2 for t in tabs):
            raise ValueError("with escape=True every table needs at least 2 symbols")
        if not tabs:
            raise ValueError("IndexedTablePrior needs at least one table")
        idx = to_numpy_tokens(index)
        if idx.size and (idx.min() < 0 or idx.max() >= len(tabs)):
            raise ValueError(f"table index outside 0..{len(tabs) - 1}")
        self.tables = tabs
        self.index = idx
        self.alphabet = tuple(len(t) for t in tabs)
        self.escape = bool(escape)
        self._digest = tables_digest(tabs)

    @property
    def params(self) -> tuple[int, ...]:
        return (int(self.escape),)

    @property
    def digest(self) -> bytes:
        return self._digest

    def sliced(self, start: int, stop: int) -> IndexedTablePrior:
        """The same tables with the index restricted to ``[start, stop)`` along axis 2 (a chunk)."""
        out = object.__new__(IndexedTablePrior)
        out.__dict__.update(self.__dict__)
        out.index = self.index[:, :, start:stop]
        return out

    def table_index(self, shape: tuple[int, ...]) -> np.ndarray:
        if tuple(shape) != self.index.shape:
            raise ShapeError(f"symbols of shape {tuple(shape)} but table index of shape {self.index.shape}")
        return self.index


class FrameIndexedPrior(IndexedTablePrior):
    """An :class:`IndexedTablePrior` whose table index may depend on earlier frames (axis 2).

    The tokens are coded frame by frame along axis 2, each frame as an indexed-table stream (escapes
    included) in one ANS stream, so a decoder learns frame ``k``'s table index only after decoding frames
    ``0 .. k-1``: ``next_index(k, tokens, index)`` gets the decoded tokens and the table indexes of those
    frames (``(B, S, k, ...)``) and returns frame ``k``'s index ``(B, S, ...)`` (a temporal context
    model).  The encoder knows every frame and passes the whole ``index``; without ``next_index`` the
    decoder uses ``index`` too.  Header parameters: ``(1, 1)`` (escape, frame-sequential).
    """

    def __init__(self, tables: Sequence[ArrayLike], index: ArrayLike, next_index=None) -> None:
        super().__init__(tables, index, escape=True)
        if self.index.ndim < 3:
            raise ValueError(f"a frame-indexed prior needs a frame axis 2, got index {self.index.shape}")
        self.next_index = next_index

    @property
    def params(self) -> tuple[int, ...]:
        return (1, 1)

    def frame_index(self, k: int, tokens: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Frame ``k``'s table index, given the frames decoded before it."""
        if self.next_index is None:
            return self.index[:, :, k]
        return to_numpy_tokens(self.next_index(k, tokens, index))

    def with_index(self, index: np.ndarray) -> FrameIndexedPrior:
        """The same tables with a whole index (what the encoder had), for re-encoding."""
        out = object.__new__(FrameIndexedPrior)
        out.__dict__.update(self.__dict__)
        out.index, out.next_index = index, None
        return out

    def sliced(self, start: int, stop: int) -> FrameIndexedPrior:
        if self.next_index is not None:
            raise ValueError("a frame-indexed prior with a decoder callback cannot be sliced")
        return self.with_index(self.index[:, :, start:stop])


class SequentialPrior(Prior):
    """Interface of context-dependent priors, coded wavefront by wavefront (see the module docstring).

    Subclasses implement :meth:`start` (fresh state for one item of shape ``(S, *spatial)``), :meth:`rows`
    (integer tables for a batch of positions of one stream, all on the current wavefront) and :meth:`update`
    (after those tokens are coded).  ``known`` holds the tokens coded so far and ``-1`` elsewhere: it is
    identical in encoder and decoder, which is what makes the tables identical.
    """

    def start(self, shape: tuple[int, ...]) -> object:
        raise NotImplementedError

    def rows(self, state: object, known: np.ndarray, stream: int, pos: np.ndarray) -> np.ndarray:
        """Tables ``(m, alphabet[stream])`` (int64, rows >= 1 summing to TOTAL) for positions ``pos``
        (``(m, 1 + r)`` coordinates, first column = stream)."""
        raise NotImplementedError

    def update(
        self, state: object, stream: int, pos: np.ndarray, symbols: np.ndarray, known: np.ndarray
    ) -> None:
        """Account for ``symbols`` just coded at ``pos`` (default: nothing)."""


def _neighbours(known: np.ndarray, pos: np.ndarray, which: tuple[str, ...]) -> list[np.ndarray]:
    """Values (or -1) of the named neighbours of ``pos`` in ``known`` (shape ``(S, *spatial)``)."""
    out = []
    r = known.ndim - 1
    for name in which:
        if name == "stage":
            axis = 0
        elif name == "left":
            axis = r
        elif name == "up":
            axis = r - 1
        elif name == "frame":
            axis = 1
        else:  # pragma: no cover - names come from _CONTEXTS
            raise ValueError(name)
        q = pos.copy()
        q[:, axis] -= 1
        ok = q[:, axis] >= 0
        vals = np.full(len(pos), -1, dtype=np.int64)
        if ok.any():
            vals[ok] = known[tuple(q[ok].T)]
        out.append(vals)
    return out


def _contexts_for(ndim_spatial: int, n_streams: int) -> tuple[str, ...]:
    """Which neighbours exist for a token layout: left always (r >= 1), up for r >= 2, frame for r == 3."""
    names: list[str] = []
    if n_streams > 1:
        names.append("stage")
    if ndim_spatial >= 1:
        names.append("left")
    if ndim_spatial >= 2:
        names.append("up")
    if ndim_spatial >= 3:
        names.append("frame")
    return tuple(names)


@dataclass
class _StreamState:
    unigram: np.ndarray  # (K,) int64 >= 1
    uni_total: int
    dense: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (K_ctx, K) int64 counts
    dense_total: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (K_ctx,) row totals
    match: dict[str, list[int]] = field(default_factory=dict)  # name -> [hits, trials]


class AdaptiveContextPrior(SequentialPrior):
    """Adaptive context model in integer arithmetic, updated deterministically while coding.

    For a token of stream ``s`` with neighbours ``n_j`` (previous RVQ stage, left, up, previous frame: the
    ones the layout has), the weight of symbol ``x`` is::

        w(x) = U_s(x) * 2**20 // |U_s|  +  sum_j  G * C_sj[n_j, x] * 2**20 // (|C_sj[n_j]| + K0)

    ``U_s`` are adaptive symbol counts (started from a static table when ``init`` is given, else flat);
    ``C_sj`` are adaptive co-occurrence counts of (neighbour value, symbol), kept densely when
    ``K_ctx * K <= dense_limit`` (and while a total of 2**24 dense entries per item is not exhausted,
    streams in order); for larger alphabets the neighbour term is a *match* model: the weight
    ``G * hits * 2**20 // (trials + K0)`` goes to ``x == n_j``.  Weights become a table with
    :func:`~ncodec.entropy.tables.freqs_from_counts`' integer rule.  Counts grow by ``increment`` per coded
    token and are halved once a total exceeds ``limit``.  No float is involved.
    """

    kind = PriorKind.ADAPTIVE
    _SCALE = 1 << 20

    def __init__(
        self,
        alphabet: Sequence[int],
        *,
        gain: int = 4,
        k0: int = 8,
        increment: int = 1,
        limit: int = 1 << 16,
        dense_limit: int = 1 << 20,
        init: StaticPrior | None = None,
    ) -> None:
        self.alphabet = _check_alphabets(alphabet)
        for name, v, lo, hi in (
            ("gain", gain, 0, 64),
            ("k0", k0, 1, 1 << 16),
            ("increment", increment, 1, 1 << 8),
            ("limit", limit, 16, 1 << 24),
            ("dense_limit", dense_limit, 0, 1 << 24),
        ):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= int(v) <= hi:
                raise ValueError(f"{name}={v!r} out of range {lo}..{hi}")
        if init is not None and init.alphabet != self.alphabet:
            raise ValueError(f"init prior alphabet {init.alphabet} != {self.alphabet}")
        self.gain, self.k0, self.increment = int(gain), int(k0), int(increment)
        self.limit, self.dense_limit = int(limit), int(dense_limit)
        self.init = init

    @property
    def params(self) -> tuple[int, ...]:
        return (self.gain, self.k0, self.increment, self.limit, self.dense_limit, int(self.init is not None))

    @property
    def digest(self) -> bytes:
        return self.init.digest if self.init is not None else _ZERO_DIGEST

    @classmethod
    def from_params(cls, alphabet: Sequence[int], params: Sequence[int], init: StaticPrior | None = None):
        """Rebuild from the header's ``params`` (``init`` must be given when ``params[5] == 1``)."""
        if len(params) != 6:
            raise ValueError(f"adaptive prior needs 6 parameters, got {len(params)}")
        if params[5] not in (0, 1):
            raise ValueError("adaptive prior init flag must be 0 or 1")
        if params[5] == 1 and init is None:
            raise ValueError("this adaptive prior starts from a static prior: pass it")
        g, k0, inc, lim, dl, _ = (int(p) for p in params)
        return cls(
            alphabet,
            gain=g,
            k0=k0,
            increment=inc,
            limit=lim,
            dense_limit=dl,
            init=init if params[5] else None,
        )

    def start(self, shape: tuple[int, ...]) -> dict:
        n_streams, r = shape[0], len(shape) - 1
        ctx = _contexts_for(r, n_streams)
        budget = _DENSE_BUDGET
        streams = []
        for s, k in enumerate(self.alphabet):
            if self.init is not None:
                u = np.maximum(self.init.tables[s] >> (PRECISION - 12), 1)
            else:
                u = np.ones(k, dtype=np.int64)
            st = _StreamState(unigram=u.astype(np.int64), uni_total=int(u.sum()))
            for name in ctx:
                if name == "stage" and s == 0:
                    continue
                kc = self.alphabet[s - 1] if name == "stage" else k
                if kc * k <= min(self.dense_limit, budget):
                    budget -= kc * k
                    st.dense[name] = np.zeros((kc, k), dtype=np.int32)
                    st.dense_total[name] = np.zeros(kc, dtype=np.int64)
                elif kc == k:
                    st.match[name] = [0, 0]
            streams.append(st)
        return {"ctx": ctx, "streams": streams}

    def rows(self, state: dict, known: np.ndarray, stream: int, pos: np.ndarray) -> np.ndarray:
        st: _StreamState = state["streams"][stream]
        k = self.alphabet[stream]
        scale = self._SCALE
        base = st.unigram * scale // st.uni_total
        w = np.broadcast_to(base, (len(pos), k)).copy()
        names = [n for n in state["ctx"] if n in st.dense or n in st.match]
        if names:
            for name, v in zip(names, _neighbours(known, pos, tuple(names)), strict=True):
                ok = v >= 0
                if not ok.any():
                    continue
                if name in st.dense:
                    c = st.dense[name][v[ok]].astype(np.int64)
                    tot = st.dense_total[name][v[ok]]
                    w[ok] += c * (self.gain * scale) // (tot + self.k0)[:, None]
                else:
                    hits, trials = st.match[name]
                    boost = self.gain * hits * scale // (trials + self.k0)
                    rows = np.nonzero(ok)[0]
                    w[rows, v[ok]] += boost
        return _quantize_rows(w, largest_remainders=False)

    def update(
        self, state: dict, stream: int, pos: np.ndarray, symbols: np.ndarray, known: np.ndarray
    ) -> None:
        st: _StreamState = state["streams"][stream]
        inc = self.increment
        np.add.at(st.unigram, symbols, inc)
        st.uni_total += inc * len(symbols)
        if st.uni_total > self.limit:
            st.unigram = (st.unigram + 1) >> 1
            st.uni_total = int(st.unigram.sum())
        names = [n for n in state["ctx"] if n in st.dense or n in st.match]
        if not names:
            return
        for name, v in zip(names, _neighbours(known, pos, tuple(names)), strict=True):
            ok = v >= 0
            if not ok.any():
                continue
            if name in st.dense:
                c, tot = st.dense[name], st.dense_total[name]
                np.add.at(c, (v[ok], symbols[ok]), inc)
                np.add.at(tot, v[ok], inc)
                over = v[ok][tot[v[ok]] > self.limit]
                if over.size:
                    over = np.unique(over)
                    c[over] >>= 1
                    tot[over] = c[over].sum(axis=1)
            else:
                m = st.match[name]
                m[0] += inc * int(np.count_nonzero(symbols[ok] == v[ok]))
                m[1] += inc * int(np.count_nonzero(ok))
                if m[1] > self.limit:
                    m[0] >>= 1
                    m[1] >>= 1

    def __repr__(self) -> str:
        return f"AdaptiveContextPrior(alphabet={self.alphabet}, params={self.params})"


class NeuralPrior(SequentialPrior):
    """A learned prior: a callable supplies the tables, wavefront by wavefront.

    ``fn(known, stream, pos)`` gets the tokens coded so far (``-1`` where not yet coded; shape
    ``(S, *spatial)``), the stream and the ``(m, 1 + r)`` positions being coded, and returns either integer
    tables ``(m, K)`` (validated) or float probabilities ``(m, K)`` (quantized by
    :func:`~ncodec.entropy.tables.freqs_from_probabilities`).  A network evaluated in floating point may
    give different probabilities on another machine; ``ncodec.container.compress(..., verify=True)``
    decodes every file before writing it, and networks meant for interchange should emit integer tables.
    ``weights_digest`` (32 bytes, e.g. SHA-256 of the network's weights) goes to the header.
    """

    kind = PriorKind.NEURAL

    def __init__(
        self,
        alphabet: Sequence[int],
        fn: Callable[[np.ndarray, int, np.ndarray], ArrayLike],
        weights_digest: bytes = _ZERO_DIGEST,
    ) -> None:
        self.alphabet = _check_alphabets(alphabet)
        if len(weights_digest) != 32:
            raise ValueError("weights_digest must be 32 bytes")
        self.fn = fn
        self._digest = bytes(weights_digest)

    @property
    def digest(self) -> bytes:
        return self._digest

    def start(self, shape: tuple[int, ...]) -> None:
        return None

    def rows(self, state: object, known: np.ndarray, stream: int, pos: np.ndarray) -> np.ndarray:
        k = self.alphabet[stream]
        out = self.fn(known.copy(), stream, pos.copy())
        if hasattr(out, "detach"):
            out = out.detach().cpu().numpy()
        a = np.asarray(out)
        if a.shape != (len(pos), k):
            raise ValueError(f"neural prior returned shape {a.shape}, expected {(len(pos), k)}")
        if np.issubdtype(a.dtype, np.integer):
            a = a.astype(np.int64)
            if (a < 1).any() or (a.sum(axis=1) != TOTAL).any():
                raise ValueError("neural prior's integer tables must be >= 1 and sum to 2**24")
            return a
        return freqs_from_probabilities(a)
