"""Rate and quality metrics for images, audio and video, and Bjøntegaard deltas."""

from ncodec.metrics.audio import kbps, mel_distance, pesq_wb, si_sdr, stft_distance, stoi
from ncodec.metrics.bd import bd_psnr, bd_quality, bd_rate
from ncodec.metrics.image import bpp, ms_ssim, ms_ssim_db, psnr, psnr_y
from ncodec.metrics.video import video_bpp, video_ms_ssim, video_psnr

__all__ = [
    "bd_psnr",
    "bd_quality",
    "bd_rate",
    "bpp",
    "kbps",
    "mel_distance",
    "ms_ssim",
    "ms_ssim_db",
    "pesq_wb",
    "psnr",
    "psnr_y",
    "si_sdr",
    "stft_distance",
    "stoi",
    "video_bpp",
    "video_ms_ssim",
    "video_psnr",
]
