"""Entropy coder: integer tokens <-> bytes, on top of constriction.

* Table priors (uniform, static, indexed) use constriction's ANS coder (``stack.AnsCoder``): one
  vectorised ``encode_reverse`` / ``decode`` call per table, no Python loop per symbol.  Decoding checks that
  the ANS state returns exactly to its initial value and no word is left over, which catches most
  corruption even without the container's CRC.
* Sequential priors (adaptive, neural) use constriction's range coder (``queue.RangeEncoder``), batched per
  wavefront and stream with constriction's per-symbol ``Categorical`` model family.

Bytes are the coder's 32-bit words in little-endian order.  Tables enter constriction exactly (see
:mod:`ncodec.entropy.tables`).  Errors in *data* raise :class:`ncodec.FormatError`; errors in *arguments*
(tokens out of range, wrong shapes) raise :class:`ncodec.ShapeError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import constriction
import numpy as np
from numpy.typing import ArrayLike

from ncodec.entropy.priors import FrameIndexedPrior, Prior, SequentialPrior, TablePrior, to_numpy_tokens
from ncodec.entropy.tables import PRECISION
from ncodec.errors import FormatError, ShapeError

__all__ = ["MAX_TOKENS", "decode", "encode", "wavefront_plan"]

#: Most tokens one call may decode (bounds the memory a hostile shape can request: 64 MiB of int32).
MAX_TOKENS = 1 << 24

_model = constriction.stream.model
_stack = constriction.stream.stack
_queue = constriction.stream.queue


def _concrete(table: np.ndarray):
    # p = f - 1 as float32: exact, scale == 1.0, so constriction's CDF equals cumsum(f) (tables.py).
    return _model.Categorical((table - 1).astype(np.float32), perfect=False)


def _table_model(prior: TablePrior, t: int):
    """constriction model of table ``t``, built once per prior object."""
    cache = prior.__dict__.setdefault("_constriction_models", {})
    if t not in cache:
        cache[t] = _concrete(prior.tables[t])
    return cache[t]


_FAMILY = None
_LIMB_TABLE = np.full(1 << 16, 1 << 8, dtype=np.int64)  # uniform over 16-bit limbs (escape overflow)
_ESCAPE_MAX = (1 << 62) - 1


def _family():
    global _FAMILY
    if _FAMILY is None:
        _FAMILY = _model.Categorical(perfect=False)
    return _FAMILY


def _check_shape(shape: Sequence[int], prior: Prior) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"bad token shape {shape!r}") from exc
    if any(d < 0 for d in shape):
        raise ShapeError(f"negative dimension in token shape {shape}")
    n = 1
    for d in shape:
        n *= d
    if n > MAX_TOKENS:
        raise ShapeError(f"{n} tokens exceed the limit of {MAX_TOKENS} per call (split into chunks)")
    if isinstance(prior, TablePrior) and prior.table_index(shape) is not None:
        return shape
    if len(shape) < 2:
        raise ShapeError(f"tokens must have shape (B, S, *spatial), got {shape}")
    if shape[1] != len(prior.alphabet):
        raise ShapeError(f"tokens have {shape[1]} streams, the prior has {len(prior.alphabet)}")
    return shape


def _to_bytes(words: np.ndarray) -> bytes:
    return np.asarray(words, dtype=np.uint32).astype("<u4").tobytes()


def _from_bytes(data: bytes | bytearray | memoryview) -> np.ndarray:
    data = bytes(data)
    if len(data) % 4:
        raise FormatError(f"entropy-coded stream of {len(data)} bytes is not a whole number of 32-bit words")
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def encode(symbols: ArrayLike, prior: Prior) -> bytes:
    """Entropy-code integer tokens with a prior.

    Args:
        symbols: ``(B, S, *spatial)`` integer tokens (numpy or torch), ``0 <= symbols[:, s] < alphabet[s]``;
            for :class:`~ncodec.entropy.IndexedTablePrior` any shape equal to its ``index``.
        prior: any :class:`~ncodec.entropy.Prior`.
    Returns:
        The compressed bytes (no header: the container adds one).
    """
    x = to_numpy_tokens(symbols)
    shape = _check_shape(x.shape, prior)
    if isinstance(prior, TablePrior):
        return _encode_tables(x, prior, shape)
    if isinstance(prior, SequentialPrior):
        return _encode_sequential(x, prior, shape)
    raise TypeError(f"unsupported prior {type(prior).__name__}")


def decode(data: bytes | bytearray | memoryview, prior: Prior, shape: Sequence[int]) -> np.ndarray:
    """Inverse of :func:`encode`: returns ``int64`` tokens of ``shape``.

    Raises:
        FormatError: the bytes are not a valid stream for this prior and shape.
    """
    shape = _check_shape(shape, prior)
    words = _from_bytes(data)
    try:
        if isinstance(prior, TablePrior):
            return _decode_tables(words, prior, shape)
        if isinstance(prior, SequentialPrior):
            return _decode_sequential(words, prior, shape)
    except FormatError:
        raise
    except (ValueError, RuntimeError, OverflowError, IndexError, AssertionError) as exc:
        # constriction's refusals (its range decoder raises AssertionError on data no encoder could write)
        raise FormatError(f"entropy-coded stream does not decode: {exc}") from exc
    raise TypeError(f"unsupported prior {type(prior).__name__}")


# ---------------------------------------------------------------------------------------------- tables


def _table_selectors(prior: TablePrior, shape: tuple[int, ...]) -> list[tuple[int, np.ndarray | slice]]:
    """For each table t: which flat positions it codes (in C order), as (t, selector)."""
    idx = prior.table_index(shape)
    if idx is not None:
        return _flat_selectors(idx, len(prior.tables))
    return [(s, np.s_[:, s]) for s in range(len(prior.tables))]


def _push_groups(coder, xf: np.ndarray, prior: TablePrior, sels, escape: bool) -> None:
    """Push the tokens ``xf`` (flat, or ``(B, S, ...)`` for per-stream tables) onto an ANS ``coder`` so
    that :func:`_pop_groups` pops them table by table (in table order), then their escape overflows."""
    groups = []
    overflow = []
    for t, sel in sels:
        sym = np.ascontiguousarray(xf[sel]).reshape(-1)
        k = len(prior.tables[t])
        hi = _ESCAPE_MAX if escape else k - 1
        if sym.size and (sym.min() < 0 or sym.max() > hi):
            bad = sym[(sym < 0) | (sym > hi)][0]
            raise ShapeError(f"token {int(bad)} outside the alphabet 0..{hi} of table {t}")
        if escape:
            esc = sym >= k - 1
            overflow.append(sym[esc] - (k - 1))
            sym = np.where(esc, k - 1, sym)
        groups.append((t, sym))
    if escape:
        ov = np.concatenate(overflow) if overflow else np.zeros(0, np.int64)
        limbs = ((ov[:, None] >> np.array([0, 16, 32, 48])) & 0xFFFF).reshape(-1).astype(np.int32)
        if limbs.size:
            coder.encode_reverse(limbs, _concrete(_LIMB_TABLE))
    for t, sym in reversed(groups):
        if len(prior.tables[t]) > 1 and sym.size:
            coder.encode_reverse(sym.astype(np.int32), _table_model(prior, t))


def _pop_groups(coder, of: np.ndarray, prior: TablePrior, sels, flat_mode: bool, escape: bool) -> None:
    """Inverse of :func:`_push_groups`: pops into ``of`` (written in place)."""
    for t, sel in sels:
        k = len(prior.tables[t])
        n = of[sel].size
        if k == 1 or n == 0:
            continue
        sym = coder.decode(_table_model(prior, t), n)
        if flat_mode:
            of[sel] = sym
        else:
            of[sel] = sym.reshape(of[sel].shape)
    if escape:
        esc_pos = [sel[of[sel] == len(prior.tables[t]) - 1] for t, sel in sels]
        pos = np.concatenate(esc_pos) if esc_pos else np.zeros(0, np.int64)
        if pos.size:
            limbs = coder.decode(_concrete(_LIMB_TABLE), 4 * pos.size).astype(np.int64).reshape(-1, 4)
            if (limbs[:, 3] >= 1 << 14).any():
                raise FormatError("escaped value out of range")
            ov = limbs[:, 0] | (limbs[:, 1] << 16) | (limbs[:, 2] << 32) | (limbs[:, 3] << 48)
            if (ov > _ESCAPE_MAX).any():
                raise FormatError("escaped value out of range")
            of[pos] += ov


def _flat_selectors(idx: np.ndarray, n_tables: int) -> list[tuple[int, np.ndarray]]:
    flat = idx.reshape(-1)
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(n_tables + 1))
    return [(t, order[bounds[t] : bounds[t + 1]]) for t in range(n_tables)]


def _encode_tables(x: np.ndarray, prior: TablePrior, shape: tuple[int, ...]) -> bytes:
    coder = _stack.AnsCoder()
    if isinstance(prior, FrameIndexedPrior):  # frame by frame along axis 2, the first frame on top
        for k in reversed(range(shape[2])):
            idx = np.ascontiguousarray(prior.index[:, :, k])
            _push_groups(coder, x[:, :, k].reshape(-1), prior, _flat_selectors(idx, len(prior.tables)), True)
        return _to_bytes(coder.get_compressed())
    flat_mode = prior.table_index(shape) is not None
    xf = x.reshape(-1) if flat_mode else x
    _push_groups(coder, xf, prior, _table_selectors(prior, shape), bool(getattr(prior, "escape", False)))
    return _to_bytes(coder.get_compressed())


def _decode_tables(words: np.ndarray, prior: TablePrior, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64)
    coder = _stack.AnsCoder(words)
    if isinstance(prior, FrameIndexedPrior):
        index = np.zeros(shape, dtype=np.int64)
        for k in range(shape[2]):
            idx = prior.frame_index(k, out[:, :, :k], index[:, :, :k])
            if idx.shape != (*shape[:2], *shape[3:]):
                raise ShapeError(f"frame {k}: table index of shape {idx.shape} for frames of {shape}")
            if idx.size and (idx.min() < 0 or idx.max() >= len(prior.tables)):
                raise ShapeError(f"frame {k}: table index outside 0..{len(prior.tables) - 1}")
            index[:, :, k] = idx
            frame = np.zeros(idx.size, dtype=np.int64)
            _pop_groups(coder, frame, prior, _flat_selectors(idx, len(prior.tables)), True, True)
            out[:, :, k] = frame.reshape(idx.shape)
        prior = prior.with_index(index)  # what the canonical re-encoding below uses
    else:
        flat_mode = prior.table_index(shape) is not None
        of = out.reshape(-1) if flat_mode else out
        sels = _table_selectors(prior, shape)
        _pop_groups(coder, of, prior, sels, flat_mode, bool(getattr(prior, "escape", False)))
    if not coder.is_empty():
        raise FormatError(
            "entropy-coded stream does not end where the tokens end "
            f"({coder.num_valid_bits()} bits left over)"
        )
    # ANS decoding past the end keeps yielding symbols from an empty coder, so a stream declared longer
    # than it is would pass the check above; re-encoding (several times faster than decoding) and
    # comparing makes every accepted payload the canonical coding of the tokens returned.
    if _to_bytes(words) != _encode_tables(out, prior, shape):
        raise FormatError("entropy-coded stream is not the canonical coding of its tokens (too short?)")
    return out


# ------------------------------------------------------------------------------------------ sequential


def wavefront_plan(item_shape: tuple[int, ...]) -> list[tuple[int, np.ndarray]]:
    """Coding order for one item ``(S, *spatial)``: a list of ``(stream, positions (m, 1 + r))`` batches.

    Batches go by wavefront ``d = s + c_1 + ... + c_r`` and, within one, by stream; positions within a
    batch are in C order.  Every neighbour a sequential prior may use lies on an earlier wavefront.
    """
    n = int(np.prod(item_shape))
    if n == 0:
        return []
    coords = np.indices(item_shape, dtype=np.int64).reshape(len(item_shape), -1)
    d = coords.sum(axis=0)
    key = d * item_shape[0] + coords[0]
    order = np.argsort(key, kind="stable")
    ks = key[order]
    cuts = np.flatnonzero(np.diff(ks)) + 1
    plan = []
    for grp in np.split(order, cuts):
        plan.append((int(coords[0, grp[0]]), np.ascontiguousarray(coords[:, grp].T)))
    return plan


#: Information (bits) a valid range-coded stream can still hold once the decoder has read its last word:
#: the coder's 64-bit state plus a word of look-ahead, with margin.  Only a bound for rejecting garbage.
_PAST_END_BITS = 160.0

#: Table entries computed per call to a sequential prior (bounds memory for large alphabets: 32 MiB).
_MAX_ROW_ELEMENTS = 1 << 22


def _row_batches(prior: SequentialPrior, state, known, s, pos):
    """Tables for ``pos`` in slices of at most _MAX_ROW_ELEMENTS entries (all from the same state)."""
    k = prior.alphabet[s]
    step = max(1, _MAX_ROW_ELEMENTS // k)
    for i in range(0, len(pos), step):
        sub = pos[i : i + step]
        rows = np.asarray(prior.rows(state, known, s, sub))
        if rows.shape != (len(sub), k):
            raise ValueError(f"prior gave tables of shape {rows.shape}, expected {(len(sub), k)}")
        yield i, i + len(sub), (rows - 1).astype(np.float32)


def _encode_sequential(x: np.ndarray, prior: SequentialPrior, shape: tuple[int, ...]) -> bytes:
    for s, k in enumerate(prior.alphabet):
        xs = x[:, s]
        if xs.size and (xs.min() < 0 or xs.max() >= k):
            raise ShapeError(f"stream {s} has tokens outside 0..{k - 1}")
    enc = _queue.RangeEncoder()
    plan = wavefront_plan(shape[1:])
    for b in range(shape[0]):
        item = x[b]
        known = np.full(item.shape, -1, dtype=np.int64)
        state = prior.start(item.shape)
        for s, pos in plan:
            idx = tuple(pos.T)
            sym = item[idx]
            if prior.alphabet[s] > 1:
                sym32 = sym.astype(np.int32)
                for a, b_, probs in _row_batches(prior, state, known, s, pos):
                    enc.encode(sym32[a:b_], _family(), probs)
            known[idx] = sym
            prior.update(state, s, pos, sym, known)
    return _to_bytes(enc.get_compressed())


def _decode_sequential(words: np.ndarray, prior: SequentialPrior, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64)
    dec = _queue.RangeDecoder(words)
    # Re-encode in lockstep (cheap next to computing the tables): the payload must be exactly what the
    # encoder writes for these tokens, so trailing words or bits that happen to decode are rejected.
    check = _queue.RangeEncoder()
    n_words = len(words)
    past_end_bits = 0.0
    plan = wavefront_plan(shape[1:])
    for b in range(shape[0]):
        known = np.full(shape[1:], -1, dtype=np.int64)
        state = prior.start(known.shape)
        for s, pos in plan:
            idx = tuple(pos.T)
            if prior.alphabet[s] > 1:
                sym = np.empty(len(pos), dtype=np.int64)
                for a, b_, probs in _row_batches(prior, state, known, s, pos):
                    part = dec.decode(_family(), probs)
                    check.encode(part, _family(), probs)
                    sym[a:b_] = part
                    # Garbage or truncated data: stop as soon as no valid stream can explain what is
                    # decoded, instead of decoding up to 2**24 tokens from zeros past the end.
                    if check.num_words() > n_words + 2:
                        raise FormatError("entropy-coded stream is shorter than its tokens need")
                    if dec.maybe_exhausted():
                        f = probs[np.arange(len(part)), part].astype(np.float64) + 1.0
                        past_end_bits += float(np.sum(PRECISION - np.log2(f)))
                        if past_end_bits > _PAST_END_BITS:
                            raise FormatError("entropy-coded stream ends before its tokens do")
            else:
                sym = np.zeros(len(pos), dtype=np.int64)
            known[idx] = sym
            prior.update(state, s, pos, sym, known)
        out[b] = known
    again = check.get_compressed()
    if len(again) != len(words) or not np.array_equal(again, words):
        raise FormatError("entropy-coded stream is not the canonical coding of its tokens (data left over?)")
    return out
