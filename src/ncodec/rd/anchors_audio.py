"""Classical audio anchors through PyAV (FFmpeg): Opus in Ogg (libopus), MP3 (LAME) and AAC-LC in MP4
(FFmpeg's native AAC encoder), swept over the target bitrate in kbps.

The item is resampled to a rate the encoder accepts (Opus: 48 kHz; MP3: the item's rate if MPEG-1 allows
it, else 16/24 kHz; AAC: the item's rate), encoded into a complete file in memory, decoded, resampled back
to the item's rate and aligned to it (the containers carry the encoder delay; a bounded cross-correlation
search corrects any residual offset of up to 10 ms, and the offset is recorded).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

from ncodec.errors import NcodecError
from ncodec.rd.codecs import Item, register_codec

_MP3_MPEG1 = (32000, 44100, 48000)


def _layout(channels: int) -> str:
    if channels == 1:
        return "mono"
    if channels == 2:
        return "stereo"
    raise NcodecError(f"audio anchors take mono or stereo, got {channels} channels")


def _frames_from(data: np.ndarray, rate: int, layout: str, chunk: int = 4096):
    """Yield float-planar AudioFrames of ``data [frames, channels]``."""
    pts = 0
    for i in range(0, data.shape[0], chunk):
        block = np.ascontiguousarray(data[i : i + chunk].T.astype(np.float32))
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        pts += block.shape[1]
        yield frame


def _collect(frames, channels: int) -> np.ndarray:
    out = []
    for fr in frames:
        if fr is None:
            continue
        arr = fr.to_ndarray()
        out.append(arr.reshape(channels, -1) if arr.shape[0] == channels else arr.reshape(-1, channels).T)
    return np.concatenate(out, axis=1).T if out else np.zeros((0, channels), np.float32)


def encode_audio(
    data: np.ndarray,
    rate: int,
    codec: str,
    fmt: str,
    bitrate: int,
    enc_rate: int,
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode ``data [frames, channels]`` at ``rate`` with FFmpeg ``codec`` into a ``fmt`` file in memory."""
    layout = _layout(data.shape[1])
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=enc_rate, layout=layout)
        stream.bit_rate = int(bitrate)
        if options:
            stream.options = dict(options)
        want_fmt = (
            stream.codec_context.codec.audio_formats[0].name
            if stream.codec_context.codec.audio_formats
            else "fltp"
        )
        resampler = av.AudioResampler(format=want_fmt, layout=layout, rate=enc_rate)
        for frame in _frames_from(data, rate, layout):
            for rf in resampler.resample(frame):
                for pkt in stream.encode(rf):
                    out.mux(pkt)
        for rf in resampler.resample(None):
            for pkt in stream.encode(rf):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    return buf.getvalue()


def decode_audio_bytes(data: bytes, rate: int, channels: int) -> np.ndarray:
    """Decode an in-memory audio file into ``float32 [frames, channels]`` at ``rate``."""
    layout = _layout(channels)
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    frames = []
    with av.open(io.BytesIO(data), mode="r") as inp:
        for frame in inp.decode(audio=0):
            frame.pts = None
            frames.extend(resampler.resample(frame))
        frames.extend(resampler.resample(None))
    return _collect(frames, channels).astype(np.float32)


def align(ref: np.ndarray, rec: np.ndarray, max_lag: int) -> tuple[np.ndarray, int]:
    """Shift ``rec`` by the lag in [-max_lag, max_lag] that best matches ``ref``; trim/pad to its length.

    Returns the aligned signal and the lag applied (positive: ``rec`` was late).
    """
    n = ref.shape[0]
    a = ref.mean(axis=1)
    b = rec.mean(axis=1)
    lag = 0
    if max_lag > 0 and np.any(a) and b.shape[0] > 0:
        m = min(n, b.shape[0])
        fa = np.fft.rfft(a[:m], 2 * m)
        fb = np.fft.rfft(b[:m], 2 * m)
        xc = np.fft.irfft(fb * np.conj(fa), 2 * m)
        cand = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
        lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
        lag = int(lags[int(np.argmax(cand))])
    if lag > 0:
        rec = rec[lag:]
    elif lag < 0:
        rec = np.concatenate([np.zeros((-lag, rec.shape[1]), rec.dtype), rec])
    if rec.shape[0] < n:
        rec = np.concatenate([rec, np.zeros((n - rec.shape[0], rec.shape[1]), rec.dtype)])
    return rec[:n], lag


class PyAVAudioAnchor:
    """One FFmpeg audio encoder in one container, swept over bitrate (kbps)."""

    media = "audio"
    point_label = "kbps"
    point_range = (1.0, 1024.0)
    point_integer = False

    def __init__(
        self,
        name: str,
        codec: str,
        fmt: str,
        rate_points: Sequence[float],
        options: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.codec = codec
        self.format = fmt
        self.rate_points = list(rate_points)
        self.options = options or {}
        self.config = (
            f"pyav-{av.__version__}-ffmpeg-{av.library_versions.get('libavcodec')}-{codec}-{fmt}-"
            f"{sorted(self.options.items())}"
        )
        self.last_lag = 0

    def encoder_rate(self, rate: int) -> int:
        """The sample rate the encoder is fed for an item at ``rate``."""
        if self.codec == "libopus":
            return 48000
        if self.codec == "libmp3lame":
            if rate in _MP3_MPEG1:
                return rate
            return 16000 if rate <= 16000 else 24000
        return rate

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        """Encode at ``point`` kbps; return the file size and the aligned reconstruction."""
        if item.sample_rate is None:
            raise NcodecError(f"{item.id}: audio item without a sample rate")
        try:
            data = encode_audio(
                item.data,
                item.sample_rate,
                self.codec,
                self.format,
                int(point * 1000),
                self.encoder_rate(item.sample_rate),
                self.options,
            )
            rec = decode_audio_bytes(data, item.sample_rate, item.data.shape[1])
        except av.error.FFmpegError as exc:
            raise NcodecError(f"{self.name} at {point} kbps failed on {item.id}: {exc}") from exc
        rec, self.last_lag = align(item.data, rec, max_lag=item.sample_rate // 100)
        return len(data), rec


OPUS_POINTS = (6, 8, 12, 16, 24, 32, 48, 64)
MP3_POINTS = (24, 32, 48, 64, 96, 128)
AAC_POINTS = (16, 24, 32, 48, 64, 96, 128)

register_codec(
    "opus",
    lambda: PyAVAudioAnchor("opus", "libopus", "ogg", OPUS_POINTS, {"application": "audio", "vbr": "on"}),
)
register_codec("mp3", lambda: PyAVAudioAnchor("mp3", "libmp3lame", "mp3", MP3_POINTS))
register_codec("aac", lambda: PyAVAudioAnchor("aac", "aac", "ipod", AAC_POINTS))
