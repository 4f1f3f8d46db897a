"""Deterministic block motion: integer block matching on integer pixels, and motion compensation.

Everything here is integer arithmetic on ``uint8`` frames, so the encoder's search and the decoder's
compensation give the same result on any machine: the vectors are chosen by the encoder and coded in
the file, and the decoder only copies blocks.

Search (:func:`estimate`), per ``BLOCK``\\ x ``BLOCK`` block of the current frame against the (decoded)
reference, on the integer luma ``(77 R + 150 G + 29 B + 128) >> 8``, coarse to fine:

1. a full search of ``±COARSE_RANGE`` on both frames downscaled 4x (integer 2x2 means, twice);
2. at half resolution, the doubled vector and its 8 neighbours, and zero;
3. at full resolution, the doubled vector and its 8 neighbours, zero and the global-motion candidate
   (the component-wise median of the half-resolution vectors, doubled), each costing its sum of
   absolute differences plus ``LAMBDA_MV`` times its L1 distance to the nearer of zero and the global
   vector (a cheap stand-in for the vector's bits);
4. coherence: a block takes the median of its left, upper and upper-right neighbours' vectors when
   that costs no more than its own, so flat or static regions keep coherent vectors that the context
   prior codes in a fraction of a bit.

Every step is vectorised over the blocks; ties go to the earlier candidate, so the choice is a pure
function of the pixels.
Vectors reach ``±MAX_MV`` pixels (35).

Half-pixel motion (``precision=2``): vectors are in half pixels (``±2 MAX_MV``).  After step 4 each block
tries the 8 half-pixel neighbours of its vector, each costing its SAD plus ``LAMBDA_MV / 2`` per
half-pixel step away.  A half-pixel sample is the integer bilinear mean of the 2 or 4 nearest pixels,
``(a + b + 1) >> 1`` or ``(a + b + c + d + 2) >> 2`` (the reference edge-replicated), in the search (on
the luma) and in compensation (on each RGB channel) alike, so it is exact on every machine.
"""

from __future__ import annotations

import numpy as np

from ncodec.errors import ShapeError

__all__ = ["BLOCK", "MAX_MV", "compensate", "estimate", "luma", "mv_alphabet"]

BLOCK = 16
COARSE_RANGE = 8
MAX_MV = 4 * COARSE_RANGE + 3
LAMBDA_MV = 16
#: Cost of one half-pixel step away from the whole-pixel vector, in SAD units (``precision=2``).
LAMBDA_HALF = LAMBDA_MV // 2


def mv_alphabet(precision: int = 1) -> int:
    """Symbols per vector component (``-MAX_MV * precision .. MAX_MV * precision``)."""
    return 2 * MAX_MV * _check_precision(precision) + 1


def _check_precision(precision: int) -> int:
    if precision not in (1, 2):
        raise ValueError(f"motion precision is 1 (whole pixels) or 2 (half pixels), got {precision!r}")
    return int(precision)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Integer luma ``int32 (H, W)`` of ``uint8 (H, W, 3)`` (BT.601 weights in 1/256)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ShapeError(f"expected uint8 (H, W, 3) frames, got {rgb.dtype} {rgb.shape}")
    x = rgb.astype(np.int32)
    return (77 * x[..., 0] + 150 * x[..., 1] + 29 * x[..., 2] + 128) >> 8


def _half(y: np.ndarray) -> np.ndarray:
    h, w = y.shape
    v = y[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2)
    return (v.sum(axis=(1, 3)) + 2) >> 2


def _block_sad(cur: np.ndarray, ref_p: np.ndarray, pad: int, b: int, dy: int, dx: int) -> np.ndarray:
    """SAD of every ``b x b`` block of ``cur`` against ``ref`` shifted by ``(dy, dx)`` (``ref_p`` is the
    reference padded by ``pad``)."""
    h, w = cur.shape
    shifted = ref_p[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    d = np.abs(cur - shifted)
    return d.reshape(h // b, b, w // b, b).sum(axis=(1, 3))


def _median3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def _gather_sad(cur: np.ndarray, ref_p: np.ndarray, pad: int, b: int, v: np.ndarray) -> np.ndarray:
    """SAD of every ``b x b`` block of ``cur`` against the reference block its own vector ``v``
    ``(2, nby, nbx)`` points to (``ref_p``: the reference padded by ``pad``)."""
    nby, nbx = v.shape[1:]
    k = np.arange(b)
    rows = np.arange(nby)[:, None, None, None] * b + k[None, None, :, None] + pad + v[0][:, :, None, None]
    cols = np.arange(nbx)[None, :, None, None] * b + k[None, None, None, :] + pad + v[1][:, :, None, None]
    cur_b = cur.reshape(nby, b, nbx, b).transpose(0, 2, 1, 3)
    return np.abs(cur_b - ref_p[rows, cols]).sum(axis=(2, 3))


def _best(cur, ref_p, pad, b, cands, cost_of) -> np.ndarray:
    """Per block, the candidate vector (in order; ties keep the earlier) of least SAD + ``cost_of(v)``."""
    best_v, best_c = None, None
    for v in cands:
        v = np.clip(v, -pad, pad)
        c = _gather_sad(cur, ref_p, pad, b, v) + cost_of(v)
        if best_c is None:
            best_v, best_c = v.copy(), c
        else:
            better = c < best_c
            best_v = np.where(better[None], v, best_v)
            best_c = np.where(better, c, best_c)
    return best_v


def _around(v: np.ndarray) -> list[np.ndarray]:
    return [v + np.array([a, b])[:, None, None] for a in (-1, 0, 1) for b in (-1, 0, 1)]


def _half_samples(ref_p: np.ndarray, pad: int, b: int, v: np.ndarray) -> np.ndarray:
    """The reference samples of every ``b x b`` block displaced by its half-pixel vector ``v``
    ``(2, nby, nbx)``: ``int32 (nby, nbx, b, b, ...)`` (``ref_p``: the reference padded by ``pad`` > the
    largest whole-pixel displacement)."""
    nby, nbx = v.shape[1:]
    k = np.arange(b)
    iy, fy = v[0] >> 1, v[0] & 1  # floor and remainder, negative vectors included
    ix, fx = v[1] >> 1, v[1] & 1
    rows = np.arange(nby)[:, None, None, None] * b + k[None, None, :, None] + pad + iy[:, :, None, None]
    cols = np.arange(nbx)[None, :, None, None] * b + k[None, None, None, :] + pad + ix[:, :, None, None]
    a = ref_p[rows, cols].astype(np.int32)
    right = ref_p[rows, cols + 1].astype(np.int32)
    down = ref_p[rows + 1, cols].astype(np.int32)
    diag = ref_p[rows + 1, cols + 1].astype(np.int32)
    extra = (1,) * (a.ndim - 4)
    fy = fy.reshape(nby, nbx, 1, 1, *extra)
    fx = fx.reshape(nby, nbx, 1, 1, *extra)
    both = (a + right + down + diag + 2) >> 2
    horiz = (a + right + 1) >> 1
    vert = (a + down + 1) >> 1
    return np.where(fy & fx, both, np.where(fx, horiz, np.where(fy, vert, a)))


def _refine_half(cy: np.ndarray, ry: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Step 5 (``precision=2``): the best of each whole-pixel vector and its 8 half-pixel neighbours."""
    nby, nbx = own.shape[1:]
    pad = MAX_MV + 2
    ry_p = np.pad(ry, pad, mode="edge")
    cur_b = cy.reshape(nby, BLOCK, nbx, BLOCK).transpose(0, 2, 1, 3)
    best = 2 * own
    best_c = np.abs(cur_b - _half_samples(ry_p, pad, BLOCK, best)).sum(axis=(2, 3))
    for a in (-1, 0, 1):
        for b in (-1, 0, 1):
            if a == b == 0:
                continue
            v = np.clip(2 * own + np.array([a, b])[:, None, None], -2 * MAX_MV, 2 * MAX_MV)
            c = np.abs(cur_b - _half_samples(ry_p, pad, BLOCK, v)).sum(axis=(2, 3))
            c = c + LAMBDA_HALF * (abs(a) + abs(b))
            better = c < best_c
            best = np.where(better[None], v, best)
            best_c = np.where(better, c, best_c)
    return best


def estimate(ref: np.ndarray, cur: np.ndarray, precision: int = 1) -> np.ndarray:
    """Motion of ``cur`` relative to ``ref`` (``uint8 (H, W, 3)``, sides multiples of ``BLOCK``):
    ``int64 (2, H/BLOCK, W/BLOCK)``, ``(dy, dx)`` per block in ``1/precision`` pixels; the block at
    ``(i, j)`` is predicted by the reference block at ``(i * BLOCK + dy, j * BLOCK + dx)``
    (edge-replicated outside the frame; half-pixel positions interpolated, see the module docstring)."""
    precision = _check_precision(precision)
    if ref.shape != cur.shape:
        raise ShapeError(f"reference {ref.shape} and frame {cur.shape} differ in size")
    h, w = cur.shape[:2]
    if h % BLOCK or w % BLOCK or h == 0 or w == 0:
        raise ShapeError(f"frame sides must be multiples of {BLOCK}, got {w}x{h}")
    ry, cy = luma(ref), luma(cur)
    nby, nbx = h // BLOCK, w // BLOCK
    r1, c1 = _half(ry), _half(cy)
    r2, c2 = _half(r1), _half(c1)
    # 1. quarter resolution: full search of +-COARSE_RANGE, blocks of BLOCK / 4
    r = COARSE_RANGE
    r2_p = np.pad(r2, r, mode="edge")
    best = np.full((nby, nbx), np.iinfo(np.int64).max, dtype=np.int64)
    v = np.zeros((2, nby, nbx), dtype=np.int64)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            cost = _block_sad(c2, r2_p, r, BLOCK // 4, dy, dx) + (abs(dy) + abs(dx))
            better = cost < best
            best = np.where(better, cost, best)
            v[0][better], v[1][better] = dy, dx
    # 2. half resolution: the doubled vector and its neighbours, and zero
    pad1 = 2 * r + 1
    r1_p = np.pad(r1, pad1, mode="edge")
    zero = np.zeros_like(v)
    lam1 = LAMBDA_MV // 4
    v = _best(c1, r1_p, pad1, BLOCK // 2, _around(2 * v) + [zero], lambda u: lam1 * np.abs(u).sum(axis=0))
    # 3. full resolution: the doubled vector and its neighbours, zero and the global candidate
    glob = np.array([2 * int(np.median(v[0])), 2 * int(np.median(v[1]))], dtype=np.int64)
    g = np.broadcast_to(glob[:, None, None], v.shape)
    pad = MAX_MV
    ry_p = np.pad(ry, pad, mode="edge")

    def rate(u: np.ndarray, p: np.ndarray) -> np.ndarray:
        return LAMBDA_MV * np.abs(u - p).sum(axis=0)

    own = _best(
        cy, ry_p, pad, BLOCK, _around(2 * v) + [zero, g], lambda u: np.minimum(rate(u, 0), rate(u, g))
    )
    # 4. coherence, twice: a block takes the median of its left, upper and upper-right neighbours'
    # vectors when that costs no more than its own vector plus the own vector's distance to the median
    for _ in range(2):
        left = np.concatenate([np.zeros((2, nby, 1), np.int64), own[:, :, :-1]], axis=2)
        up = np.concatenate([np.zeros((2, 1, nbx), np.int64), own[:, :-1]], axis=1)
        ur = np.concatenate([up[:, :, 1:], up[:, :, -1:]], axis=2)
        med = _median3(left, up, ur)
        take = _gather_sad(cy, ry_p, pad, BLOCK, med) <= _gather_sad(cy, ry_p, pad, BLOCK, own) + rate(
            own, med
        )
        own = np.where(take[None], med, own)
    return own if precision == 1 else _refine_half(cy, ry, own)


def compensate(ref: np.ndarray, mv: np.ndarray, precision: int = 1) -> np.ndarray:
    """The prediction ``uint8 (H, W, 3)``: each block copied from ``ref`` displaced by its vector (in
    ``1/precision`` pixels; half-pixel samples interpolated, see the module docstring)."""
    precision = _check_precision(precision)
    h, w = ref.shape[:2]
    nby, nbx = h // BLOCK, w // BLOCK
    if mv.shape != (2, nby, nbx):
        raise ShapeError(f"vectors {mv.shape} do not fit a {w}x{h} frame ({(2, nby, nbx)})")
    if np.abs(mv).max(initial=0) > MAX_MV * precision:
        raise ShapeError(f"motion vectors beyond ±{MAX_MV * precision}")
    if precision == 2:
        pad = MAX_MV + 2
        ref_p = np.pad(ref, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        blocks = _half_samples(ref_p, pad, BLOCK, np.asarray(mv, dtype=np.int64)).astype(np.uint8)
        return blocks.transpose(0, 2, 1, 3, 4).reshape(h, w, 3)
    pad = MAX_MV
    ref_p = np.pad(ref, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    k = np.arange(BLOCK)
    rows = (np.arange(nby)[:, None, None, None] * BLOCK + k[None, None, :, None] + pad
            + mv[0][:, :, None, None])  # fmt: skip
    cols = (np.arange(nbx)[None, :, None, None] * BLOCK + k[None, None, None, :] + pad
            + mv[1][:, :, None, None])  # fmt: skip
    blocks = ref_p[rows, cols]  # (nby, nbx, B, B, 3)
    return blocks.transpose(0, 2, 1, 3, 4).reshape(h, w, 3)
