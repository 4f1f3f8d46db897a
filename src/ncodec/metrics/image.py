"""Image quality and rate: bpp from bytes on disk, PSNR (RGB and luma), MS-SSIM (pytorch-msssim).

Images are ``uint8`` arrays ``[H, W, 3]`` (or ``[N, H, W, 3]`` batches, e.g. video frames); float arrays
are taken to be on the same 0..``data_range`` scale.
"""

from __future__ import annotations

import math

import numpy as np

from ncodec.errors import ShapeError

#: MS-SSIM with the standard 5 scales and an 11-tap window needs a smaller side larger than this.
MS_SSIM_MIN_SIDE = 160


def _pair(ref: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(ref)
    b = np.asarray(rec)
    if a.shape != b.shape:
        raise ShapeError(f"reference {a.shape} and reconstruction {b.shape} differ in shape")
    if a.size == 0:
        raise ShapeError("empty image")
    return a.astype(np.float64), b.astype(np.float64)


def bpp(num_bytes: int, height: int, width: int, frames: int = 1) -> float:
    """Bits per pixel: ``8 * num_bytes / (height * width * frames)``."""
    if height <= 0 or width <= 0 or frames <= 0:
        raise ShapeError(f"bad size {height}x{width}x{frames}")
    return 8.0 * num_bytes / (height * width * frames)


def mse_to_psnr(mse: float, data_range: float = 255.0) -> float:
    """``10 log10(data_range² / mse)``; ``inf`` for ``mse == 0``."""
    return math.inf if mse <= 0 else 10.0 * math.log10(data_range**2 / mse)


def psnr(ref: np.ndarray, rec: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR in dB over all pixels and channels (the usual "RGB PSNR" of learned-compression papers)."""
    a, b = _pair(ref, rec)
    return mse_to_psnr(float(np.mean((a - b) ** 2)), data_range)


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Full-range BT.601 (JFIF) luma ``0.299 R + 0.587 G + 0.114 B`` of ``[..., 3]`` RGB, as float64."""
    x = np.asarray(img, dtype=np.float64)
    if x.shape[-1] != 3:
        raise ShapeError(f"expected RGB in the last axis, got shape {x.shape}")
    return x @ np.array([0.299, 0.587, 0.114])


def psnr_y(ref: np.ndarray, rec: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR in dB of the BT.601 luma channel (unrounded)."""
    a, b = _pair(ref, rec)
    return mse_to_psnr(float(np.mean((rgb_to_y(a) - rgb_to_y(b)) ** 2)), data_range)


def ms_ssim(ref: np.ndarray, rec: np.ndarray, data_range: float = 255.0) -> float:
    """MS-SSIM (Wang et al. 2003; pytorch-msssim, 5 scales, Gaussian 11-tap window σ=1.5).

    ``[H, W, 3]`` or ``[N, H, W, 3]``; for a batch the mean over the N images. Raises
    :class:`ncodec.ShapeError` when the smaller side is ≤ 160 pixels (too small for 5 scales).
    """
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    a, b = _pair(ref, rec)
    if a.ndim == 3:
        a, b = a[None], b[None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3):
        raise ShapeError(f"expected [H, W, C] or [N, H, W, C] images, got {a.shape}")
    if min(a.shape[1:3]) <= MS_SSIM_MIN_SIDE:
        raise ShapeError(f"MS-SSIM needs both sides > {MS_SSIM_MIN_SIDE} px, got {a.shape[2]}x{a.shape[1]}")
    ta = torch.from_numpy(a).permute(0, 3, 1, 2).float()
    tb = torch.from_numpy(b).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        vals = _ms_ssim(ta, tb, data_range=data_range, size_average=False)
    return float(vals.double().mean())


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on a dB scale, ``-10 log10(1 - value)`` (how compressai plots and BD-rates it)."""
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)
