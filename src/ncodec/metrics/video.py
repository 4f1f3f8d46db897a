"""Video quality and rate: bpp over all frames, per-frame PSNR / MS-SSIM averaged over frames."""

from __future__ import annotations

import numpy as np

from ncodec.errors import ShapeError
from ncodec.metrics.image import bpp, ms_ssim, psnr, psnr_y


def _check(ref: np.ndarray, rec: np.ndarray) -> None:
    if np.shape(ref) != np.shape(rec):
        raise ShapeError(f"reference {np.shape(ref)} and reconstruction {np.shape(rec)} differ in shape")
    if np.ndim(ref) != 4:
        raise ShapeError(f"expected video [T, H, W, 3], got {np.shape(ref)}")


def video_bpp(num_bytes: int, frames: int, height: int, width: int) -> float:
    """Bits per pixel over the whole clip: ``8 * bytes / (frames * height * width)``."""
    return bpp(num_bytes, height, width, frames)


def video_psnr(ref: np.ndarray, rec: np.ndarray, data_range: float = 255.0, luma: bool = False) -> float:
    """Mean over frames of the per-frame PSNR (RGB, or BT.601 luma with ``luma=True``).

    Identical frames (infinite PSNR) are capped at 100 dB so that one perfect frame does not make the
    average infinite.
    """
    _check(ref, rec)
    f = psnr_y if luma else psnr
    return float(np.mean([min(f(a, b, data_range), 100.0) for a, b in zip(ref, rec, strict=True)]))


def video_ms_ssim(ref: np.ndarray, rec: np.ndarray, data_range: float = 255.0, batch: int = 16) -> float:
    """Mean over frames of the per-frame MS-SSIM."""
    _check(ref, rec)
    vals = []
    for i in range(0, len(ref), batch):
        n = len(ref[i : i + batch])
        vals.append(ms_ssim(ref[i : i + batch], rec[i : i + batch], data_range) * n)
    return float(np.sum(vals) / len(ref))
