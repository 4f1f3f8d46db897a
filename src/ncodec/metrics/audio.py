"""Audio quality and rate: kbps from bytes on disk, SI-SDR, DAC's multi-scale mel distance and multi-scale
STFT distance, and PESQ / STOI when their packages (``pesq``, ``pystoi``) are installed.

Audio is a float array ``[frames]`` or ``[frames, channels]`` in [-1, 1].
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ncodec.errors import ShapeError

#: DAC's evaluation configuration (descript-audio-codec, MelSpectrogramLoss): 7 scales.
DAC_MEL_WINDOWS: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
DAC_MEL_BANDS: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320)
#: DAC's MultiScaleSTFTLoss windows.
DAC_STFT_WINDOWS: tuple[int, ...] = (2048, 512)
#: Mel and STFT distances are computed at this rate (DAC's), so values are comparable across inputs.
METRIC_RATE = 44100


def kbps(num_bytes: int, duration_s: float) -> float:
    """Kilobits per second: ``8 * num_bytes / duration_s / 1000``."""
    if duration_s <= 0:
        raise ShapeError(f"duration must be positive, got {duration_s}")
    return 8.0 * num_bytes / duration_s / 1000.0


def _as_2d(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ShapeError(f"expected audio [frames] or [frames, channels], got {np.shape(x)}")
    return a


def _pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_2d(ref), _as_2d(est)
    if a.shape != b.shape:
        raise ShapeError(f"reference {a.shape} and estimate {b.shape} differ in shape")
    return a, b


def si_sdr(ref: np.ndarray, est: np.ndarray, eps: float = 1e-12) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), zero-mean, averaged over channels."""
    a, b = _pair(ref, est)
    vals = []
    for c in range(a.shape[1]):
        r = a[:, c] - a[:, c].mean()
        e = b[:, c] - b[:, c].mean()
        alpha = float(np.dot(e, r)) / (float(np.dot(r, r)) + eps)
        target = alpha * r
        noise = e - target
        vals.append(
            10.0 * math.log10((float(np.dot(target, target)) + eps) / (float(np.dot(noise, noise)) + eps))
        )
    return float(np.mean(vals))


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited polyphase resampling of ``[frames, ...]`` audio (scipy ``resample_poly``)."""
    if rate == target:
        return np.asarray(x)
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target))
    return resample_poly(np.asarray(x, dtype=np.float64), target // g, rate // g, axis=0)


@lru_cache(maxsize=32)
def _mel_transform(rate: int, win: int, n_mels: int):
    import torchaudio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty filters at the smallest windows, as in DAC
        return torchaudio.transforms.MelSpectrogram(
            sample_rate=rate,
            n_fft=win,
            win_length=win,
            hop_length=win // 4,
            n_mels=n_mels,
            power=1.0,
            center=True,
            pad_mode="reflect",
            norm="slaney",
            mel_scale="slaney",
        )


def _prepare(ref: np.ndarray, est: np.ndarray, rate: int, at_rate: int | None):
    import torch

    a, b = _pair(ref, est)
    if at_rate is not None and at_rate != rate:
        a, b = resample(a, rate, at_rate), resample(b, rate, at_rate)
        rate = at_rate
    # [channels, frames] float32
    return torch.from_numpy(a.T.copy()).float(), torch.from_numpy(b.T.copy()).float(), rate


def mel_distance(
    ref: np.ndarray,
    est: np.ndarray,
    sample_rate: int,
    windows: Sequence[int] = DAC_MEL_WINDOWS,
    n_mels: Sequence[int] = DAC_MEL_BANDS,
    at_rate: int | None = METRIC_RATE,
    clamp_eps: float = 1e-5,
) -> float:
    """Multi-scale mel distance as DAC reports it (lower is better).

    Sum over the scales of the mean absolute difference of ``log10(max(mel, 1e-5))`` where ``mel`` is a
    Slaney mel filterbank applied to the STFT magnitude (Hann window, hop = window / 4). Audio is first
    resampled to ``at_rate`` (44.1 kHz, DAC's rate) so values are comparable across inputs.
    """
    import torch

    if len(windows) != len(n_mels):
        raise ValueError("windows and n_mels must have the same length")
    a, b, rate = _prepare(ref, est, sample_rate, at_rate)
    total = 0.0
    with torch.no_grad():
        for win, m in zip(windows, n_mels, strict=True):
            t = _mel_transform(rate, win, m)
            xa, xb = t(a).clamp(min=clamp_eps).log10(), t(b).clamp(min=clamp_eps).log10()
            total += float((xa - xb).abs().mean())
    return total


def stft_distance(
    ref: np.ndarray,
    est: np.ndarray,
    sample_rate: int,
    windows: Sequence[int] = DAC_STFT_WINDOWS,
    at_rate: int | None = METRIC_RATE,
    clamp_eps: float = 1e-5,
) -> float:
    """Multi-scale STFT distance as DAC's ``MultiScaleSTFTLoss`` (lower is better).

    Sum over the windows of ``mean|log10(max(|X|,eps)²) - log10(max(|Y|,eps)²)| + mean||X| - |Y||``
    (Hann window, hop = window / 4), after resampling to ``at_rate``.
    """
    import torch

    a, b, _ = _prepare(ref, est, sample_rate, at_rate)
    total = 0.0
    with torch.no_grad():
        for win in windows:
            w = torch.hann_window(win)
            sa = torch.stft(
                a, win, win // 4, win, w, center=True, pad_mode="reflect", return_complex=True
            ).abs()
            sb = torch.stft(
                b, win, win // 4, win, w, center=True, pad_mode="reflect", return_complex=True
            ).abs()
            log_term = (
                (sa.clamp(min=clamp_eps).pow(2).log10() - sb.clamp(min=clamp_eps).pow(2).log10()).abs().mean()
            )
            total += float(log_term + (sa - sb).abs().mean())
    return total


def _mono16k(x: np.ndarray, rate: int) -> np.ndarray:
    a = _as_2d(x).mean(axis=1)
    return resample(a, rate, 16000)


def pesq_available() -> bool:
    """Whether the ``pesq`` package is importable."""
    try:
        import pesq  # noqa: F401
    except ImportError:
        return False
    return True


def stoi_available() -> bool:
    """Whether the ``pystoi`` package is importable."""
    try:
        import pystoi  # noqa: F401
    except ImportError:
        return False
    return True


def pesq_wb(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2, MOS-LQO 1.04..4.64) on the mono mix resampled to 16 kHz.

    Needs the ``pesq`` package; raises :class:`ncodec.ShapeError` for clips PESQ cannot score (too short or
    silent).
    """
    from pesq import PesqError
    from pesq import pesq as _pesq

    a, b = _mono16k(ref, sample_rate), _mono16k(est, sample_rate)
    try:
        return float(_pesq(16000, a.astype(np.float32), b.astype(np.float32), "wb"))
    except PesqError as exc:
        raise ShapeError(f"PESQ cannot score this clip: {exc}") from exc


def stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    """STOI (Taal et al. 2011; ``pystoi``, which resamples to 10 kHz itself) on the mono mix."""
    from pystoi import stoi as _stoi

    a, b = _as_2d(ref).mean(axis=1), _as_2d(est).mean(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(_stoi(a, b, sample_rate, extended=extended))
