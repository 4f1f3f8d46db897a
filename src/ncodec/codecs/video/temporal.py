"""Temporal context for P-frame latents: the previous frame's integer latents choose the coding tables.

The conditional model's hyperprior (with its checkerboard context) gives every latent element ``y[c, i, j]``
of a P-frame a Gaussian table index ``idx`` (a scale).  The previous frame's decoded symbols at and around
the same position say more: where the previous latent was busy, this one tends to be too.  A
:class:`TemporalTables` maps ``(previous frame's kind, checkerboard half, context bucket, idx)`` to the
table that codes the element; the bucket is the co-located magnitude (weight 2) plus its four neighbours'
in the same checkerboard half of the previous frame, cut at :data:`BUCKET_EDGES`.

Everything is integer: symbols, buckets and a lookup table fitted offline
(``scripts/fit_video_temporal_prior.py``), so the tables a decoder picks are exact on any machine.  The
tokens themselves do not change (the same symbols, written relative to another table): reconstruction is
untouched, only the bytes shrink.  Anchors take their context from the previous frame's anchors and the
other half from its other half, so each half decodes frame by frame within its own chunk
(:class:`ncodec.entropy.FrameIndexedPrior`); the first P-frame of a GOP looks at the I-frame (its own
map, since intra latents differ from residual ones).
"""

from __future__ import annotations

import numpy as np

from ncodec.errors import NcodecError

__all__ = ["BUCKET_EDGES", "N_BUCKETS", "TemporalTables", "context"]

#: Upper edges (exclusive) of the context buckets of ``2 |s| + sum of the 4 neighbours' |s|``.
BUCKET_EDGES = np.array([1, 2, 3, 5, 9], dtype=np.int64)
N_BUCKETS = len(BUCKET_EDGES) + 1
#: Previous frame kinds: the GOP's I-frame, or a P-frame.
PREV_I, PREV_P = 0, 1


def context(prev: np.ndarray) -> np.ndarray:
    """Context buckets ``int64`` shaped like ``prev``: the previous frame's symbols of one checkerboard
    half, ``(..., h, w)`` (positions outside count 0)."""
    a = np.abs(np.asarray(prev, dtype=np.int64))
    p = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)])
    win = 2 * a + p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]
    return np.searchsorted(BUCKET_EDGES, win, side="right")


class TemporalTables:
    """The fitted map ``(prev kind, half, bucket, idx) → table`` (see the module docstring)."""

    def __init__(self, table_map: np.ndarray, n_tables: int) -> None:
        m, want = np.asarray(table_map), (2, 2, N_BUCKETS, n_tables)
        if m.shape != want or not np.issubdtype(m.dtype, np.integer):
            raise NcodecError(f"temporal table map of shape {m.shape}, expected {want}")
        if m.min() < 0 or m.max() >= n_tables:
            raise NcodecError(f"temporal table map points outside 0..{n_tables - 1}")
        self.map = m.astype(np.int64)

    @classmethod
    def identity(cls, n_tables: int) -> TemporalTables:
        return cls(np.broadcast_to(np.arange(n_tables), (2, 2, N_BUCKETS, n_tables)).copy(), n_tables)

    def index(self, prev_kind: int, half: int, prev: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The coding tables of one frame's half: ``idx`` (the hyperprior's) remapped by the context of
        the previous frame's symbols ``prev`` of the same half (same shape)."""
        return self.map[prev_kind, half][context(prev), np.asarray(idx, dtype=np.int64)]

    def digest_bytes(self) -> bytes:
        return b"temporal-v1" + BUCKET_EDGES.tobytes() + self.map.astype("<i8").tobytes()
