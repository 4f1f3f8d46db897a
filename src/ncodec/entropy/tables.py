"""Integer frequency tables: the only thing the entropy coder ever sees.

Every table is a 1-D ``int64`` array ``f`` of length ``K`` (the alphabet size) with ``f[k] >= 1`` and
``f.sum() == TOTAL == 2**PRECISION`` (``PRECISION = 24``, constriction's default fixed-point precision for
its 32-bit-word coders).  Tables are built with integer arithmetic only (``//``, ``+``, stable sorts on
integers), so the same counts give the same table on every machine.

How a table reaches constriction exactly
----------------------------------------
constriction 0.5's ``Categorical(..., perfect=False)`` (and its lazy, per-symbol model family) turns a
float vector ``p`` into a fixed-point CDF as ``cdf[i] = floor(C_i * scale) + i`` with ``C_i = p[0] + ... +
p[i-1]`` and ``scale = (2**24 - K) / sum(p)``.  We pass ``p = f - 1`` as ``float32``: every ``p[i]``, every
partial sum and ``sum(p) = 2**24 - K`` are integers below ``2**24``, hence exact in ``float32``; ``scale`` is
then exactly ``1.0`` and ``cdf[i] = sum(f[:i])``, i.e. the coder uses *our integer table bit for bit*.  No
rounding happens anywhere, so encoder and decoder agree on any IEEE-754 machine.  ``tests/test_entropy.py``
checks this by probing constriction's decoder at every CDF boundary.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import ArrayLike

PRECISION = 24
TOTAL = 1 << PRECISION
#: Largest alphabet a stream may have (constriction needs K < 2**24 - 1; 2**20 leaves 16 units per symbol).
MAX_ALPHABET = 1 << 20

__all__ = [
    "MAX_ALPHABET",
    "PRECISION",
    "TOTAL",
    "check_alphabet",
    "freqs_from_counts",
    "freqs_from_probabilities",
    "ideal_bits",
    "tables_digest",
    "uniform_freqs",
    "validate_freqs",
]


def check_alphabet(k: int) -> int:
    """Return ``k`` as an int if it is a valid alphabet size (1..MAX_ALPHABET), else raise ValueError."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"alphabet size must be an integer, got {k!r}")
    k = int(k)
    if not 1 <= k <= MAX_ALPHABET:
        raise ValueError(f"alphabet size {k} out of range 1..{MAX_ALPHABET}")
    return k


def uniform_freqs(k: int) -> np.ndarray:
    """The fixed-length table: ``TOTAL // k`` for every symbol, the remainder spread over the first ones."""
    k = check_alphabet(k)
    f = np.full(k, TOTAL // k, dtype=np.int64)
    f[: TOTAL % k] += 1
    return f


def _quantize_rows(counts: np.ndarray, largest_remainders: bool = True) -> np.ndarray:
    """Integer rows (..., K) of non-negative weights -> tables with every entry >= 1 summing to TOTAL.

    ``f = 1 + floor(c * free / sum(c))`` with ``free = TOTAL - K``; the few units lost to flooring go to the
    symbols with the largest remainders (ties to the lower index), or, with ``largest_remainders=False``
    (O(K) instead of a sort; used per coded token by the adaptive prior), all to the first largest weight.
    All-zero rows become uniform.
    """
    c = np.asarray(counts, dtype=np.int64)
    k = c.shape[-1]
    free = TOTAL - k
    tot = c.sum(axis=-1, keepdims=True)
    # Keep c * free inside int64: shift rows whose total is large (deterministic, keeps the shape).
    big = int(tot.max(initial=0))
    if big >= (1 << 38):
        shift = big.bit_length() - 38
        c = c >> shift
        tot = c.sum(axis=-1, keepdims=True)
    zero = tot == 0
    if zero.any():
        c = np.where(zero, 1, c)
        tot = np.where(zero, k, tot)
    num = c * free
    q = num // tot
    rem = free - q.sum(axis=-1, keepdims=True)  # 0 <= rem < K
    if rem.any() and not largest_remainders:
        top = np.argmax(c, axis=-1)[..., None]
        np.put_along_axis(q, top, np.take_along_axis(q, top, axis=-1) + rem, axis=-1)
    elif rem.any():
        r = num - q * tot
        # Rank by remainder (descending), ties by index: stable argsort on -r.
        order = np.argsort(-r, axis=-1, kind="stable")
        rank = np.argsort(order, axis=-1, kind="stable")
        q = q + (rank < rem)
    return q + 1


def freqs_from_counts(counts: ArrayLike) -> np.ndarray:
    """Fit a table to symbol counts (integers >= 0); every symbol keeps a non-zero probability.

    Args:
        counts: 1-D integer array of length K (the alphabet size).
    Returns:
        ``int64`` table of length K, entries >= 1, summing to ``TOTAL``.
    """
    c = np.asarray(counts)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"counts must be integers, got dtype {c.dtype}")
    if (c < 0).any():
        raise ValueError("counts must be non-negative")
    check_alphabet(c.size)
    if c.size == 1:
        return np.array([TOTAL], dtype=np.int64)
    return _quantize_rows(c.astype(np.int64))


def freqs_from_probabilities(probs: ArrayLike, resolution: int = 1 << 16) -> np.ndarray:
    """Quantize float probabilities (e.g. a network's softmax) to integer tables, row-wise.

    The floats are first rounded to integers on a ``resolution`` grid, then handled in integer arithmetic
    by :func:`freqs_from_counts`' rule.  This step *is* float-dependent (it is the boundary where a learned
    prior enters), which is why :func:`ncodec.container.compress` can verify its own output.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError("probabilities need a non-empty last axis")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probabilities must be finite and non-negative")
    check_alphabet(p.shape[-1])
    s = p.sum(axis=-1, keepdims=True)
    s = np.where(s > 0, s, 1.0)
    ints = np.floor(p / s * resolution + 0.5).astype(np.int64)
    if p.shape[-1] == 1:
        return np.full(p.shape, TOTAL, dtype=np.int64)
    return _quantize_rows(ints)


def validate_freqs(f: ArrayLike, k: int | None = None) -> np.ndarray:
    """Check that ``f`` is a valid table (integers >= 1 summing to TOTAL, length ``k``); return int64."""
    a = np.asarray(f)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"a frequency table must be a 1-D integer array, got {a.dtype} {a.shape}")
    if k is not None and a.size != k:
        raise ValueError(f"frequency table has {a.size} entries for an alphabet of {k}")
    check_alphabet(a.size)
    a = a.astype(np.int64)
    if (a < 1).any():
        raise ValueError("every symbol needs a frequency >= 1")
    if int(a.sum()) != TOTAL:
        raise ValueError(f"frequency table sums to {int(a.sum())}, not 2**{PRECISION}")
    return a


def ideal_bits(symbols: ArrayLike, freqs: np.ndarray) -> float:
    """Cross-entropy of ``symbols`` under a table, in bits: ``sum(PRECISION - log2 f[x])``."""
    s = np.asarray(symbols).reshape(-1)
    return float(np.sum(PRECISION - np.log2(freqs[s].astype(np.float64))))


def tables_digest(tables: list[np.ndarray] | tuple[np.ndarray, ...]) -> bytes:
    """SHA-256 over the tables' little-endian int32 bytes with their lengths (identifies a static prior)."""
    h = hashlib.sha256(b"ncodec-tables-v1")
    for t in tables:
        a = np.asarray(t, dtype="<i4")
        h.update(len(a).to_bytes(4, "little"))
        h.update(a.tobytes())
    return h.digest()
