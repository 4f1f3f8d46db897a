"""Bjøntegaard delta rate and delta quality (VCEG-M33), with the classic cubic fit or piecewise-cubic
(PCHIP) interpolation.

``bd_rate(anchor_rate, anchor_q, test_rate, test_q)`` is the average rate difference of the test codec
against the anchor at equal quality, in percent (negative: the test codec needs fewer bits);
``bd_quality`` (``bd_psnr``) the average quality difference at equal rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ncodec.errors import ShapeError


def _curve(rate: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.shape != q.shape or r.ndim != 1:
        raise ShapeError(f"{name}: rate and quality must be 1-D of equal length")
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    r, q = r[keep], q[keep]
    if len(r) < 4:
        raise ShapeError(f"{name}: Bjøntegaard needs at least 4 finite rate points, got {len(r)}")
    return np.log10(r), q


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Integral over [lo, hi] of y as a function of x."""
    order = np.argsort(x)
    x, y = x[order], y[order]
    if method == "cubic":
        p = np.polyint(np.polyfit(x, y, 3))
        return float(np.polyval(p, hi) - np.polyval(p, lo))
    if method == "pchip":
        from scipy.interpolate import PchipInterpolator

        if np.any(np.diff(x) <= 0):
            raise ShapeError("PCHIP needs strictly monotonic points; quality does not increase with rate")
        return float(PchipInterpolator(x, y).integrate(lo, hi))
    raise ValueError(f"method must be 'cubic' or 'pchip', not {method!r}")


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    method: str = "cubic",
) -> float:
    """Bjøntegaard delta rate of ``test`` against ``anchor`` in percent (negative = test saves bits).

    Log-rate is fitted as a function of quality (a cubic least-squares polynomial, VCEG-M33, or PCHIP)
    and integrated over the quality interval both curves cover.
    """
    lra, qa = _curve(anchor_rate, anchor_quality, "anchor")
    lrt, qt = _curve(test_rate, test_quality, "test")
    lo, hi = max(qa.min(), qt.min()), min(qa.max(), qt.max())
    if not hi > lo:
        raise ShapeError("the two curves do not overlap in quality")
    diff = (_integral(qt, lrt, lo, hi, method) - _integral(qa, lra, lo, hi, method)) / (hi - lo)
    return float((10.0**diff - 1.0) * 100.0)


def bd_quality(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    method: str = "cubic",
) -> float:
    """Bjøntegaard delta quality (e.g. BD-PSNR in dB) of ``test`` against ``anchor`` at equal rate."""
    lra, qa = _curve(anchor_rate, anchor_quality, "anchor")
    lrt, qt = _curve(test_rate, test_quality, "test")
    lo, hi = max(lra.min(), lrt.min()), min(lra.max(), lrt.max())
    if not hi > lo:
        raise ShapeError("the two curves do not overlap in rate")
    return float((_integral(lrt, qt, lo, hi, method) - _integral(lra, qa, lo, hi, method)) / (hi - lo))


bd_psnr = bd_quality
