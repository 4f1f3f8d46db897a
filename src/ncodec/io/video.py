"""Streaming video input and output: frames one at a time (memory holds a frame, not the clip).

Input (:func:`open_video`): what PyAV reads (``.mp4 .mkv .webm .avi .mov .y4m`` …) and folders of
image frames (``.png .pgm .ppm .jpg`` …, read in name order at 25 fps).  Frames come out as RGB
``uint8 (H, W, 3)``; the frame rate is kept as a rational (``30000/1001``), with the stream's time
base and frame count.  **Grey policy:** a grey source (``gray*`` pixel formats, or frame folders whose
first frame is grey) is coded as RGB with three equal channels and reported as ``channels == 1``, so
its decoded file is written grey again.

Output (:func:`write_video`), by suffix, atomically (nothing is left behind on failure, nothing is
overwritten without ``force``):

* ``.mkv`` — FFV1 (lossless) in Matroska, RGB (``bgr0``) or grey: the exact decoded pixels;
* ``.y4m`` — raw YUV 4:4:4 (BT.601, 8 bits; exact for grey clips, an 8-bit colour conversion for RGB);
* ``.mp4`` — re-encoded with x264 (CRF 12, 4:2:0): playable everywhere, not exact.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ncodec.errors import MediaError
from ncodec.io.atomic import write_atomic
from ncodec.io.media import VIDEO_EXTS, frame_files, load_image

__all__ = ["OUTPUT_FORMATS", "VideoSource", "open_video", "write_video"]

#: Output suffix → (container format, codec, RGB pixel format, grey pixel format, options, exact).
OUTPUT_FORMATS = {
    ".mkv": ("matroska", "ffv1", "bgr0", "gray", {}, True),
    ".y4m": ("yuv4mpegpipe", "rawvideo", "yuv444p", "gray", {}, False),
    ".mp4": ("mp4", "libx264", "yuv420p", "yuv420p", {"crf": "12", "preset": "medium"}, False),
}
MAX_SIDE = 8192
MAX_PIXELS = 1 << 23


@dataclass
class VideoSource:
    """An opened video: its properties, and :meth:`frames` to read it once, frame by frame."""

    path: Path
    width: int
    height: int
    fps: Fraction
    time_base: Fraction | None
    frames_hint: int  # frames the container declares (0: unknown)
    channels: int  # 1 grey source, 3 colour
    audio_streams: int

    def frames(self) -> Iterator[np.ndarray]:
        """RGB ``uint8 (H, W, 3)`` frames, in order; MediaError if the file is corrupt or changes size."""
        n = 0
        for f in _frames_of(self.path):
            if f.shape[:2] != (self.height, self.width):
                raise MediaError(
                    f"{self.path}: frame {n} is {f.shape[1]}x{f.shape[0]}, not {self.width}x{self.height} "
                    "(size changes mid-stream are not supported)"
                )
            n += 1
            yield f
        if n == 0:
            raise MediaError(f"{self.path}: no video frames")


def _rgb(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim == 3 and a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3])
    if a.ndim == 3 and a.shape[2] == 2:
        return np.repeat(a[:, :, :1], 3, axis=2)
    return a


def _frames_of(path: Path) -> Iterator[np.ndarray]:
    if path.is_dir():
        for f in frame_files(path):
            yield _rgb(load_image(f))
        return
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot decode video ({exc})") from exc


def _check_size(path: Path, w: int, h: int) -> None:
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE) or w * h > MAX_PIXELS:
        raise MediaError(f"{path}: frame size {w}x{h} outside 1..{MAX_SIDE} per side, {MAX_PIXELS} pixels")


def open_video(path: str | os.PathLike[str]) -> VideoSource:
    """Probe a video file or frame folder (no frame is decoded yet, but one for folders)."""
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file or folder")
    if p.is_dir():
        files = frame_files(p)
        if not files:
            raise MediaError(f"{p}: no image frames in the folder")
        from PIL import Image

        h, w = load_image(files[0]).shape[:2]
        _check_size(p, w, h)
        with Image.open(files[0]) as im:
            grey = im.mode in ("1", "L", "LA", "I", "I;16", "F")
        return VideoSource(p, w, h, Fraction(25), None, len(files), 1 if grey else 3, 0)
    import av

    try:
        container = av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise MediaError(f"{p}: not a video file PyAV can read ({exc})") from exc
    with container:
        if not container.streams.video:
            kind = "audio" if container.streams.audio else "media"
            raise MediaError(f"{p}: no video stream (an {kind} file?)")
        s = container.streams.video[0]
        cc = s.codec_context
        w, h = int(cc.width), int(cc.height)
        if p.suffix.lower() not in VIDEO_EXTS and (w == 0 or s.frames == 1 or cc.name in ("png", "mjpeg")):
            raise MediaError(f"{p}: an image, not a video")
        _check_size(p, w, h)
        rate = s.average_rate or s.guessed_rate or s.base_rate
        fps = Fraction(rate) if rate else Fraction(25)
        if fps <= 0 or fps > 1000:
            raise MediaError(f"{p}: frame rate {fps} is not usable")
        fmt = cc.pix_fmt or ""
        grey = fmt.startswith("gray") or fmt in ("ya8", "monow", "monob")
        tb = Fraction(s.time_base) if s.time_base else None
        return VideoSource(
            p, w, h, fps, tb, int(s.frames or 0), 1 if grey else 3, len(container.streams.audio)
        )


#: Container format → (audio codec, sample format) of a muxed audio track.
AUDIO_CODECS = {"matroska": ("flac", "s16"), "mp4": ("aac", "fltp")}


class _AudioTrack:
    """An audio stream of an output file, fed up to a time as the frames go out (interleaving)."""

    def __init__(self, out, fmt: str, samples: np.ndarray, rate: int) -> None:
        import av

        codec, self.sample_fmt = AUDIO_CODECS[fmt]
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 2 or not 1 <= x.shape[1] <= 2:
            raise MediaError(f"audio track of shape {x.shape}: muxing takes mono or stereo")
        self.x, self.rate, self.pos = np.clip(x, -1, 1), int(rate), 0
        self.layout = "mono" if x.shape[1] == 1 else "stereo"
        self.out = out
        self.stream = out.add_stream(codec, rate=self.rate, layout=self.layout)
        self.av = av

    def until(self, seconds: Fraction | None) -> None:
        end = self.x.shape[0] if seconds is None else min(self.x.shape[0], int(seconds * self.rate))
        while self.pos < end:
            n = min(end - self.pos, 4096)
            block = self.x[self.pos : self.pos + n]
            if self.sample_fmt == "s16":
                data = np.ascontiguousarray((np.round(block * 32767)).astype(np.int16).reshape(1, -1))
            else:
                data = np.ascontiguousarray(block.T)
            af = self.av.AudioFrame.from_ndarray(data, format=self.sample_fmt, layout=self.layout)
            af.sample_rate, af.pts = self.rate, self.pos
            for pkt in self.stream.encode(af):
                self.out.mux(pkt)
            self.pos += n
        if seconds is None:
            for pkt in self.stream.encode(None):
                self.out.mux(pkt)


def output_format(path: str | os.PathLike[str]) -> tuple:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise MediaError(f"{path}: decoded video is written as {', '.join(OUTPUT_FORMATS)}")
    return OUTPUT_FORMATS[suffix]


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: Fraction,
    channels: int = 3,
    *,
    force: bool = False,
    audio: tuple[np.ndarray, int] | None = None,
) -> int:
    """Write RGB ``uint8 (H, W, 3)`` frames to ``path`` (format by suffix, see the module docstring)
    atomically; grey (``channels == 1``) clips are written as grey (the integer luma of each frame).
    ``audio`` = ``(samples float [n, channels] in [-1, 1], sample rate)`` is muxed as an audio track
    (FLAC in ``.mkv``, AAC in ``.mp4``), interleaved with the frames.  Returns the number of frames
    written; MediaError if there were none, or for audio in a ``.y4m``.  Frames are stamped ``t / fps``
    exactly; each muxer stores that in its own time base (Matroska's is 1 ms)."""
    import av

    fmt, codec, pix_rgb, pix_grey, options, _ = output_format(path)
    fps = Fraction(fps).limit_denominator(1 << 16)
    tb = Fraction(1, 1) / fps  # frame-count timestamps (the muxer rescales them to its own time base)
    written = 0
    if audio is not None and fmt not in AUDIO_CODECS:
        raise MediaError(f"{path}: {Path(path).suffix} holds no audio track (write .mkv or .mp4)")

    def writer(f) -> None:
        nonlocal written
        with av.open(f, mode="w", format=fmt) as out:
            stream = None
            sound = _AudioTrack(out, fmt, *audio) if audio is not None else None
            for frame in frames:
                if stream is None:
                    h, w = frame.shape[:2]
                    stream = out.add_stream(codec, rate=fps)
                    stream.width, stream.height = w, h
                    stream.pix_fmt = pix_grey if channels == 1 else pix_rgb
                    stream.time_base = tb
                    stream.options = dict(options)
                if channels == 1:
                    x = frame.astype(np.int32)
                    grey = ((77 * x[..., 0] + 150 * x[..., 1] + 29 * x[..., 2] + 128) >> 8).astype(np.uint8)
                    vf = av.VideoFrame.from_ndarray(grey, format="gray")
                else:
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                if vf.format.name != stream.pix_fmt:
                    vf = vf.reformat(format=stream.pix_fmt)
                vf.pts = written
                for pkt in stream.encode(vf):
                    out.mux(pkt)
                written += 1
                if sound is not None:
                    sound.until(written / fps)
            if stream is None:
                raise MediaError("no frames to write")
            for pkt in stream.encode(None):
                out.mux(pkt)
            if sound is not None:
                sound.until(None)

    try:
        write_atomic(path, writer, force=force)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot write video ({exc})") from exc
    return written
