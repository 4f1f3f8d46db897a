"""Audio datasets: random training segments and fixed evaluation excerpts.

Segments are resampled to ``sample_rate`` (torchaudio's band-limited sinc resampler), mixed to the channel
policy (``"mono"``: average; ``"stereo"``: mono files duplicated, stereo kept), optionally normalised to a
loudness (ITU-R BS.1770 integrated loudness, torchaudio), and zero-padded when a file is shorter than the
segment. Items are float tensors ``[channels, samples]``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ncodec.errors import MediaError
from ncodec.io.media import load_audio, probe_audio


def _read(path: Path, start_s: float, seconds: float | None) -> tuple[np.ndarray, int]:
    """Read ``seconds`` from ``start_s`` (seeking where soundfile can; PyAV decodes the whole file)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            if f.seekable() and f.frames > 0:
                f.seek(min(int(start_s * rate), max(0, f.frames - 1)))
                n = -1 if seconds is None else int(math.ceil(seconds * rate))
                data = f.read(n, dtype="float32", always_2d=True)
                if data.shape[0]:
                    return data, rate
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    data, rate = load_audio(path)
    a = int(start_s * rate)
    b = data.shape[0] if seconds is None else a + int(math.ceil(seconds * rate))
    return data[a:b], rate


def apply_channel_policy(x: torch.Tensor, channels: str) -> torch.Tensor:
    """``[C, T]`` → ``[1, T]`` (``"mono"``) or ``[2, T]`` (``"stereo"``)."""
    if channels == "mono":
        return x.mean(dim=0, keepdim=True)
    if channels == "stereo":
        if x.shape[0] == 1:
            return x.expand(2, -1).clone()
        return x[:2]
    raise ValueError(f"channels must be 'mono' or 'stereo', not {channels!r}")


def normalize_loudness(x: torch.Tensor, rate: int, target_lufs: float, peak: float = 0.99) -> torch.Tensor:
    """Scale ``[C, T]`` audio to ``target_lufs`` (BS.1770 integrated loudness), limiting the peak to ``peak``.

    Silent or too-short signals (loudness undefined) are returned unchanged.
    """
    import torchaudio.functional as AF

    if x.shape[-1] < int(0.4 * rate):  # BS.1770 gating blocks are 400 ms
        return x
    loud = float(AF.loudness(x, rate))
    if not math.isfinite(loud):
        return x
    y = x * (10.0 ** ((target_lufs - loud) / 20.0))
    m = float(y.abs().max())
    return y * (peak / m) if m > peak else y


def _prepare(
    data: np.ndarray, rate: int, sample_rate: int, channels: str, loudness: float | None
) -> torch.Tensor:
    import torchaudio.functional as AF

    x = torch.from_numpy(np.ascontiguousarray(data.T)).float()
    x = apply_channel_policy(x, channels)
    if rate != sample_rate:
        x = AF.resample(x, rate, sample_rate)
    if loudness is not None:
        x = normalize_loudness(x, sample_rate, loudness)
    return x


class AudioSegments(Dataset):
    """Random fixed-length segments of audio files for training.

    Each item picks file ``index % len(paths)`` and a uniformly random start (torch RNG), reads only that
    part where the format allows seeking, and returns ``[channels, round(seconds * sample_rate)]``.
    Files shorter than ``min_seconds`` are left out.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        sample_rate: int = 24000,
        seconds: float = 1.0,
        channels: str = "mono",
        loudness: float | None = None,
        min_seconds: float = 0.1,
        samples_per_epoch: int | None = None,
        durations: Sequence[float] | None = None,
    ) -> None:
        if channels not in ("mono", "stereo"):
            raise ValueError(f"channels must be 'mono' or 'stereo', not {channels!r}")
        if seconds <= 0 or sample_rate <= 0:
            raise ValueError("seconds and sample_rate must be positive")
        self.sample_rate, self.seconds, self.channels, self.loudness = (
            sample_rate,
            seconds,
            channels,
            loudness,
        )
        self.length = int(round(seconds * sample_rate))
        durs = list(durations) if durations is not None else [probe_audio(p).duration for p in paths]
        keep = [(Path(p), d) for p, d in zip(paths, durs, strict=True) if d >= min_seconds]
        if not keep:
            raise MediaError("AudioSegments: no audio file is long enough")
        self.paths = [p for p, _ in keep]
        self.durations = [d for _, d in keep]
        self.samples_per_epoch = samples_per_epoch or len(self.paths)

    @classmethod
    def from_manifest(cls, records: Sequence[dict], **kwargs: object) -> AudioSegments:
        """Build from manifest records (uses their durations instead of probing every file)."""
        return cls(
            [r["abspath"] for r in records], durations=[float(r["duration"]) for r in records], **kwargs
        )  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        i = index % len(self.paths)
        span = max(0.0, self.durations[i] - self.seconds)
        start = span * float(torch.rand(()))
        data, rate = _read(self.paths[i], start, self.seconds + 0.05)
        x = _prepare(data, rate, self.sample_rate, self.channels, self.loudness)
        if x.shape[1] < self.length:
            x = torch.nn.functional.pad(x, (0, self.length - x.shape[1]))
        return x[:, : self.length]


class AudioExcerpts(Dataset):
    """Fixed evaluation excerpts: ``seconds`` from ``offset`` (moved earlier for short files; whole file if
    shorter than the excerpt), resampled and channel-mixed as :class:`AudioSegments` but never padded.
    Items are ``(name, [channels, samples])``."""

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        sample_rate: int = 44100,
        seconds: float = 10.0,
        offset: float = 0.0,
        channels: str = "stereo",
        loudness: float | None = None,
    ) -> None:
        if not paths:
            raise MediaError("AudioExcerpts: no audio files")
        self.paths = [Path(p) for p in paths]
        self.sample_rate, self.seconds, self.offset = sample_rate, seconds, offset
        self.channels, self.loudness = channels, loudness

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor]:
        p = self.paths[index]
        dur = probe_audio(p).duration
        start = min(self.offset, max(0.0, dur - self.seconds))
        data, rate = _read(p, start, self.seconds)
        return p.name, _prepare(data, rate, self.sample_rate, self.channels, self.loudness)
