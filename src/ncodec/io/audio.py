"""Audio files for the codec: streaming, checked reading and streaming, atomic writing.

:func:`open_audio` reads ``.wav/.flac/.ogg`` (and anything else libsndfile knows) with soundfile, in
blocks, and everything else (``.opus/.mp3/.m4a/.aac/.webm``) with PyAV, frame by frame, so a file of any
length is read with bounded memory.  The input policy: at least one sample, 1 to :data:`MAX_CHANNELS`
channels, a sample rate in ``[MIN_RATE, MAX_RATE]``, finite samples (NaN or Inf in a float file is
refused), and a file that ends before its header says it should is refused as truncated.  Every problem
raises :class:`ncodec.MediaError` naming the file.

:func:`write_audio_blocks` writes ``.wav`` (16-bit PCM) or ``.flac`` (16-bit) from blocks of samples
through :func:`ncodec.io.atomic.write_atomic`: nothing is left behind when writing fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ncodec.errors import MediaError
from ncodec.io.atomic import write_atomic

MIN_RATE = 1000
MAX_RATE = 384_000
MAX_CHANNELS = 8
#: Output formats the decoder writes, by suffix: (soundfile format, subtype).
WRITE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}


def check_rate_channels(path: object, rate: int, channels: int) -> None:
    if not MIN_RATE <= int(rate) <= MAX_RATE:
        raise MediaError(f"{path}: sample rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
    if not 1 <= int(channels) <= MAX_CHANNELS:
        raise MediaError(f"{path}: {channels} channels; the audio codecs take 1..{MAX_CHANNELS}")


def check_samples(path: object, block: np.ndarray) -> None:
    if not np.isfinite(block).all():
        raise MediaError(f"{path}: the audio holds NaN or infinite samples")


@dataclass
class AudioSource:
    """An opened audio file: its rate, channels, length (``None`` when the container does not say) and a
    block reader (:meth:`blocks`, float32 ``[n, channels]`` in [-1, 1], checked)."""

    path: Path
    sample_rate: int
    channels: int
    frames: int | None
    _reader: Callable[[int], Iterator[np.ndarray]]

    def blocks(self, frames: int = 1 << 16) -> Iterator[np.ndarray]:
        total = 0
        for b in self._reader(frames):
            if b.size:
                check_samples(self.path, b)
                total += b.shape[0]
                yield b
        if total == 0:
            raise MediaError(f"{self.path}: no audio samples")
        if self.frames is not None and total < self.frames:
            raise MediaError(f"{self.path}: truncated ({total} of {self.frames} samples)")
        self.frames = total

    def read(self) -> np.ndarray:
        """The whole file, ``[frames, channels]`` float32."""
        return np.concatenate(list(self.blocks()), axis=0)


def _wav_truncated(path: Path) -> str | None:
    """For a RIFF/WAVE file whose data chunk claims more bytes than the file holds: what is missing."""
    import struct

    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, n = struct.unpack("<4sI", f.read(8))
            if cid == b"data":
                have = size - pos - 8
                if n != 0xFFFFFFFF and n > have:
                    return f"its data chunk declares {n} bytes, the file holds {have}"
                return None
            pos += 8 + n + (n & 1)
    return None


def _soundfile_source(path: Path) -> AudioSource | None:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read audio ({exc})") from exc
    if info.frames <= 0 and info.format not in ("OGG",):
        raise MediaError(f"{path}: no audio samples")
    check_rate_channels(path, info.samplerate, info.channels)
    if info.format in ("WAV", "WAVEX"):
        why = _wav_truncated(path)
        if why:
            raise MediaError(f"{path}: truncated WAV file ({why})")

    def reader(n: int) -> Iterator[np.ndarray]:
        try:
            with sf.SoundFile(str(path)) as f:
                while True:
                    b = f.read(n, dtype="float32", always_2d=True)
                    if not b.shape[0]:
                        return
                    yield b
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise MediaError(f"{path}: cannot decode audio ({exc})") from exc

    frames = int(info.frames) if info.frames > 0 and info.format in ("WAV", "WAVEX", "FLAC", "AIFF") else None
    return AudioSource(path, int(info.samplerate), int(info.channels), frames, reader)


def _av_source(path: Path) -> AudioSource:
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.audio:
                kinds = [s.type for s in c.streams]
                raise MediaError(f"{path}: no audio stream (streams: {', '.join(kinds) or 'none'})")
            s = c.streams.audio[0]
            rate, channels = int(s.codec_context.sample_rate or 0), int(s.codec_context.channels or 0)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable audio file ({exc})") from exc
    check_rate_channels(path, rate, channels)

    def reader(n: int) -> Iterator[np.ndarray]:
        try:
            with av.open(str(path)) as c:
                for frame in c.decode(c.streams.audio[0]):
                    arr = frame.to_ndarray()
                    if not frame.format.is_planar:
                        arr = arr.reshape(-1, channels).T
                    if arr.dtype.kind in "iu":
                        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max + 1)
                    yield np.ascontiguousarray(arr.T, dtype=np.float32)
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: cannot decode audio ({exc})") from exc

    return AudioSource(path, rate, channels, None, reader)


def open_audio(path: str | os.PathLike[str]) -> AudioSource:
    """Open an audio file for block reading (module docstring); MediaError when it is not one."""
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise MediaError(f"{p}: empty file")
    src = _soundfile_source(p)
    return src if src is not None else _av_source(p)


def audio_format(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The (format, subtype) written for ``path``'s suffix; MediaError for a suffix not written."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise MediaError(f"{path}: decoded audio is written as {' or '.join(WRITE_FORMATS)}")
    return WRITE_FORMATS[suffix]


def write_audio_blocks(
    path: str | os.PathLike[str],
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    *,
    force: bool,
) -> int:
    """Write ``blocks`` (float ``[n, channels]``) to ``path`` atomically; returns the frames written."""
    import soundfile as sf

    fmt, subtype = audio_format(path)
    written = 0

    def writer(f) -> None:
        nonlocal written
        with sf.SoundFile(f, "w", samplerate=int(sample_rate), channels=int(channels), format=fmt,
                          subtype=subtype) as out:  # fmt: skip
            for b in blocks:
                out.write(np.clip(b, -1.0, 1.0))
                written += b.shape[0]

    write_atomic(path, writer, force=force)
    return written
