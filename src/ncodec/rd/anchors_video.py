"""Classical video anchors through PyAV (FFmpeg): x264 and x265 in MP4, SVT-AV1 in Matroska, swept over
CRF. Frames are converted to 8-bit 4:2:0 (``yuv420p``, BT.601) by FFmpeg's swscale, encoded into a
complete file in memory, decoded and converted back to RGB. Presets: x264/x265 ``medium``, SVT-AV1 8.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

from ncodec.errors import NcodecError
from ncodec.rd.codecs import Item, register_codec


def encode_video(frames: np.ndarray, fps: float, codec: str, fmt: str, options: dict[str, str]) -> bytes:
    """Encode RGB ``frames [T, H, W, 3] uint8`` into an in-memory ``fmt`` file with FFmpeg ``codec``."""
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise NcodecError(f"4:2:0 video needs even sizes, got {w}x{h}")
    rate = Fraction(fps).limit_denominator(1001)
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr unless told otherwise
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = dict(options)
        for i in range(t):
            frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            for pkt in stream.encode(frame.reformat(format="yuv420p")):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    return buf.getvalue()


def decode_video_bytes(data: bytes) -> np.ndarray:
    """Decode an in-memory video file into RGB ``[T, H, W, 3] uint8``."""
    with av.open(io.BytesIO(data), mode="r") as inp:
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]
    if not frames:
        raise NcodecError("decoded no frames")
    return np.stack(frames)


class PyAVVideoAnchor:
    """One FFmpeg video encoder swept over CRF (lower CRF: higher rate)."""

    media = "video"
    point_label = "crf"
    point_range = (0.0, 63.0)  # x264/x265 use 0..51, SVT-AV1 0..63
    point_integer = False

    def __init__(
        self, name: str, codec: str, fmt: str, rate_points: Sequence[float], options: dict[str, str]
    ) -> None:
        self.name = name
        self.codec = codec
        self.format = fmt
        self.rate_points = list(rate_points)
        self.options = options
        self.config = (
            f"pyav-{av.__version__}-ffmpeg-{av.library_versions.get('libavcodec')}-{codec}-{fmt}-"
            f"{sorted(options.items())}"
        )

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        """Encode at CRF ``point``; return the file size and the decoded RGB frames."""
        opts = dict(self.options, crf=str(int(point)))
        try:
            data = encode_video(item.data, item.fps or 25.0, self.codec, self.format, opts)
            rec = decode_video_bytes(data)
        except av.error.FFmpegError as exc:
            raise NcodecError(f"{self.name} at CRF {point} failed on {item.id}: {exc}") from exc
        if rec.shape != item.data.shape:
            raise NcodecError(f"{self.name}: decoded {rec.shape}, expected {item.data.shape}")
        return len(data), rec


X264_POINTS = (18, 23, 28, 33, 38, 43)
X265_POINTS = (18, 23, 28, 33, 38, 43)
SVTAV1_POINTS = (25, 32, 39, 46, 53, 60)

register_codec("x264", lambda: PyAVVideoAnchor("x264", "libx264", "mp4", X264_POINTS, {"preset": "medium"}))
register_codec(
    "x265",
    lambda: PyAVVideoAnchor(
        "x265", "libx265", "mp4", X265_POINTS, {"preset": "medium", "x265-params": "log-level=error"}
    ),
)
register_codec(
    "svtav1", lambda: PyAVVideoAnchor("svtav1", "libsvtav1", "matroska", SVTAV1_POINTS, {"preset": "8"})
)
