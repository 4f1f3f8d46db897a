"""Reading real media into arrays: images (Pillow), audio (soundfile, PyAV fallback), video (PyAV, or a
folder of numbered still frames such as ViSP's PGM sequences).

All readers raise :class:`ncodec.MediaError` with the file name when a file cannot be used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ncodec.errors import MediaError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".g722")
VIDEO_EXTS = (".mp4", ".mkv", ".avi", ".webm", ".mov", ".y4m")
FRAME_EXTS = (".pgm", ".ppm", ".png")


def media_kind(path: str | os.PathLike[str]) -> str | None:
    """``"image"``, ``"audio"`` or ``"video"`` from the file name (a folder of frames is ``"video"``)."""
    p = Path(path)
    if p.is_dir():
        return "video" if frame_files(p) else None
    ext = p.suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in AUDIO_EXTS:
        return "audio"
    if ext in VIDEO_EXTS:
        return "video"
    return None


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image as ``uint8`` array ``[H, W, 3]`` (grey and alpha images are converted to RGB)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("RGB",):
                im = im.convert("RGB")
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaError(f"{path}: cannot read image ({exc})") from exc
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise MediaError(f"{path}: empty image")
    return arr


@dataclass(frozen=True)
class AudioInfo:
    """Stream properties of an audio file."""

    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _av_decode_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            chunks = []
            for frame in container.decode(stream):
                arr = frame.to_ndarray()
                fmt = frame.format
                if not fmt.is_planar:  # interleaved [1, n*ch]
                    arr = arr.reshape(-1, len(frame.layout.channels)).T
                if arr.dtype.kind == "i":
                    arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max + 1)
                chunks.append(arr.astype(np.float32))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot decode audio ({exc})") from exc
    if not chunks:
        raise MediaError(f"{path}: no audio samples")
    return np.concatenate(chunks, axis=1).T.copy(), int(rate)


def load_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Audio as ``float32`` array ``[frames, channels]`` in [-1, 1] and its sample rate."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        data, rate = _av_decode_audio(path)
    except OSError as exc:
        raise MediaError(f"{path}: cannot read audio ({exc})") from exc
    if data.shape[0] == 0:
        raise MediaError(f"{path}: no audio samples")
    return np.ascontiguousarray(data), int(rate)


def probe_audio(path: str | os.PathLike[str]) -> AudioInfo:
    """Sample rate, channels and length of an audio file (decodes it when the header does not say)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
        if info.frames > 0:
            return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    data, rate = load_audio(path)
    return AudioInfo(rate, data.shape[1], data.shape[0])


def frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The numbered still frames of a frame-sequence folder, in name order."""
    p = Path(folder)
    return sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in FRAME_EXTS)


@dataclass(frozen=True)
class VideoInfo:
    """Stream properties of a video (file or frame folder)."""

    width: int
    height: int
    frames: int
    fps: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.fps if self.fps else 0.0


def load_video(
    path: str | os.PathLike[str], max_frames: int | None = None, start: int = 0
) -> tuple[np.ndarray, float]:
    """Frames ``[T, H, W, 3] uint8`` (RGB) and the frame rate; frame folders are read at 25 fps."""
    p = Path(path)
    if p.is_dir():
        files = frame_files(p)[start:]
        if max_frames is not None:
            files = files[:max_frames]
        if not files:
            raise MediaError(f"{path}: no frames")
        return np.stack([load_image(f) for f in files]), 25.0
    import av

    frames = []
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            for i, frame in enumerate(container.decode(stream)):
                if i < start:
                    continue
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot decode video ({exc})") from exc
    if not frames:
        raise MediaError(f"{path}: no video frames")
    return np.stack(frames), rate


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Size, frame count and frame rate (counts frames by demuxing when the header does not say)."""
    p = Path(path)
    if p.is_dir():
        files = frame_files(p)
        if not files:
            raise MediaError(f"{path}: no frames")
        h, w = load_image(files[0]).shape[:2]
        return VideoInfo(w, h, len(files), 25.0)
    import av

    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            n = sum(1 for pkt in container.demux(stream) if pkt.size)
            return VideoInfo(stream.codec_context.width, stream.codec_context.height, n, rate)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot read video ({exc})") from exc


__all__ = [
    "AUDIO_EXTS",
    "FRAME_EXTS",
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "AudioInfo",
    "VideoInfo",
    "frame_files",
    "load_audio",
    "load_image",
    "load_video",
    "media_kind",
    "probe_audio",
    "probe_video",
]
