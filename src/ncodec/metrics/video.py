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


#: BT.601 limited-range RGB → Y'CbCr (8-bit scale), as FFmpeg's ``yuv420p`` conversion.
_YUV = np.array(
    [[0.256788, 0.504129, 0.097906], [-0.148223, -0.290993, 0.439216], [0.439216, -0.367788, -0.071427]]
)
_YUV_OFFSET = np.array([16.0, 128.0, 128.0])


def yuv420(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[H, W, 3]`` RGB → the unrounded BT.601 ``Y`` plane and the 2x2-averaged ``Cb``, ``Cr`` planes."""
    yuv = frame.astype(np.float64) @ _YUV.T + _YUV_OFFSET
    h, w = frame.shape[:2]
    c = np.pad(yuv[..., 1:], ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    c = c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2, 2).mean(axis=(1, 3))
    return yuv[..., 0], c[..., 0], c[..., 1]


def psnr_yuv420(ref: np.ndarray, rec: np.ndarray) -> float:
    """The video codecs' YUV 4:2:0 PSNR of one frame: ``(6 PSNR_Y + PSNR_U + PSNR_V) / 8`` (DCVC's test
    conditions), each plane's PSNR capped at 100 dB."""
    vals = []
    for a, b in zip(yuv420(ref), yuv420(rec), strict=True):
        mse = float(np.mean((a - b) ** 2))
        vals.append(min(100.0, 10 * np.log10(255.0**2 / mse)) if mse > 0 else 100.0)
    return (6 * vals[0] + vals[1] + vals[2]) / 8


def video_psnr_yuv420(ref: np.ndarray, rec: np.ndarray) -> float:
    """Mean over frames of :func:`psnr_yuv420`."""
    _check(ref, rec)
    return float(np.mean([psnr_yuv420(a, b) for a, b in zip(ref, rec, strict=True)]))


def video_ms_ssim(ref: np.ndarray, rec: np.ndarray, data_range: float = 255.0, batch: int = 16) -> float:
    """Mean over frames of the per-frame MS-SSIM."""
    _check(ref, rec)
    vals = []
    for i in range(0, len(ref), batch):
        n = len(ref[i : i + batch])
        vals.append(ms_ssim(ref[i : i + batch], rec[i : i + batch], data_range) * n)
    return float(np.sum(vals) / len(ref))
