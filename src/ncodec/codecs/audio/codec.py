"""The audio codec: media ⇄ integer tokens ``(B, n_q, T)`` ⇄ chunked ``.ncd`` files.

Input policy: any sample rate (resampled on a fixed grid to the model's rate, and back on decoding),
1 to 8 channels.  A ``mono`` model (speech) codes the mixdown and decodes it into every original
channel; a ``stereo`` model (music) codes each channel as its own token row.  The header carries the
original sample rate, channel count and exact length, so the decoded file has all three.

Files hold independent chunks of :data:`CHUNK_FRAMES` token frames (5 s at 50 Hz) behind an index:
``decompress(..., start=, duration=)`` decodes only the chunks a span needs (plus the one before, for
the decoder's left context), and a damaged chunk can be concealed (silence) without losing the rest.
Tokens are coded with integer tables (static per-stage priors fitted on training audio, the adaptive
context prior, or uniform codes), so a file decodes to the same tokens on every machine.  The default,
``prior="auto"``, codes the file with whichever of the static and the uniform tables codes its first
chunk in the fewest bytes (so a stream encoder can choose before the rest of the file exists).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ncodec.codecs.audio.models import POSITIVE_FIELDS, AudioModelConfig, AudioTokenModel
from ncodec.codecs.audio.stream import BlockResampler, StreamDecoder, StreamEncoder
from ncodec.codecs.header import check_header
from ncodec.codecs.registry import register_codec
from ncodec.codecs.tokens import PRIOR_KINDS, TokenCodec, Tokens
from ncodec.codecs.weights import config_from_dict, load_tensors, read_metadata
from ncodec.container import MediaInfo, NcdHeader, NcdReader, decompress_partial
from ncodec.entropy import StaticPrior
from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError
from ncodec.io.audio import MAX_CHANNELS, MAX_RATE, MIN_RATE, check_rate_channels

#: Token frames per container chunk (5 s at 50 Hz).
CHUNK_FRAMES = 250
#: Most samples (per channel, at the input rate) one API call codes in memory: 4 h at 48 kHz.
MAX_SAMPLES = 48000 * 3600 * 4


@dataclass
class AudioTokens(Tokens):
    """Tokens ``(rows, n_q, T)`` of a batch of audio items and what decoding them back needs.

    ``rows`` is ``B`` for a mono model and ``B * channels`` for a stereo one (channel rows of an item are
    consecutive).  ``lengths`` are the items' lengths in samples at ``sample_rate`` (their own rate).
    """

    sample_rate: int = 0
    channels: int = 1
    lengths: list[int] = field(default_factory=list)
    frame_rate: float = 0.0

    @property
    def codes(self) -> np.ndarray:
        return self.tokens


def _as_items(wav: Any) -> list[np.ndarray]:
    """``(N,)``, ``(C, N)``, ``(B, C, N)`` or a list of ``(N,)``/``(C, N)`` → list of float32 ``(C, N)``."""
    if isinstance(wav, (list, tuple)):
        items = [_as_items(w) for w in wav]
        if not items:
            raise ShapeError("an empty batch of audio")
        return [i for group in items for i in group]
    if isinstance(wav, torch.Tensor):
        wav = wav.detach().cpu().numpy()
    a = np.asarray(wav)
    if a.dtype.kind not in "fiu":
        raise ShapeError(f"audio must be a numeric array, got {a.dtype}")
    if a.dtype.kind in "iu":
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
    a = a.astype(np.float32, copy=False)
    if a.ndim == 1:
        return [a[None]]
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        return list(a)
    raise ShapeError(f"audio of shape {a.shape}: expected (N,), (C, N) or (B, C, N)")


@register_codec("audio", "rvq", "rfsq")
class AudioCodec(TokenCodec):
    """Audio token codec (module docstring).  ``codec.encode(wav, sample_rate=sr, bitrate=3)``."""

    media = "audio"
    compress_options = frozenset({"prior"})

    def __init__(self, model: AudioTokenModel, name: str, priors: list[StaticPrior] | None = None) -> None:
        super().__init__(model, name, priors)
        self.cfg = model.cfg

    # ------------------------------------------------------------------------------------------ rates
    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.cfg.sample_rate / self.cfg.frame_samples

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency: one token frame plus the overlap-add look-ahead."""
        return 1000.0 * (self.cfg.frame_samples + self.cfg.n_fft - self.cfg.hop) / self.cfg.sample_rate

    def nominal_kbps(self, quality: int) -> float:
        """Rate of quality ``quality`` before entropy coding (stages x log2(K) x frame rate)."""
        bits = sum(math.log2(a) for a in self.alphabet(quality))
        return bits * self.frame_rate / 1000.0

    def quality_for_bitrate(self, kbps: float) -> int:
        """The highest quality whose nominal rate is at most ``kbps``."""
        if not isinstance(kbps, (int, float)) or isinstance(kbps, bool) or not math.isfinite(kbps):
            raise ValueError(f"bitrate must be a number of kbps, got {kbps!r}")
        fits = [q for q in range(self.qualities) if self.nominal_kbps(q) <= kbps + 1e-9]
        if not fits:
            lo = self.nominal_kbps(0)
            raise ValueError(f"bitrate {kbps:g} kbps is below {self.name}'s lowest rate ({lo:.2f} kbps)")
        return fits[-1]

    def _quality(self, quality: int | None, bitrate: float | None) -> int:
        if quality is not None and bitrate is not None:
            raise ValueError("give quality or bitrate, not both")
        if bitrate is not None:
            return self.quality_for_bitrate(bitrate)
        return self.qualities - 1 if quality is None else self.check_quality(quality)

    @property
    def rows_per_channel(self) -> bool:
        return self.cfg.channels == "stereo"

    # --------------------------------------------------------------------------------------- encoding
    def stream_encoder(self, quality: int, sample_rate: int, channels: int = 1) -> AudioStreamEncoder:
        """A streaming encoder: feed ``[n, channels]`` blocks at ``sample_rate``, get tokens (see
        :class:`AudioStreamEncoder`)."""
        return AudioStreamEncoder(self, self.check_quality(quality), sample_rate, channels)

    def encode(
        self, wav: Any, quality: int | None = None, *, sample_rate: int | None = None,
        bitrate: float | None = None,
    ) -> AudioTokens:  # fmt: skip
        """Audio → tokens.  ``wav``: ``(N,)``, ``(C, N)``, ``(B, C, N)`` or a list of items of different
        lengths, at ``sample_rate`` (default: the model's).  ``bitrate`` (kbps) or ``quality`` picks the
        rate point (default: the highest)."""
        q = self._quality(quality, bitrate)
        rate = self.sample_rate if sample_rate is None else int(sample_rate)
        items = _as_items(wav)
        channels = items[0].shape[0]
        for it in items:
            check_rate_channels("audio", rate, it.shape[0])
            if it.shape[0] != channels:
                raise ShapeError("every item of a batch needs the same number of channels")
            if it.shape[1] == 0:
                raise MediaError("audio has no samples")
            if it.shape[1] > MAX_SAMPLES:
                raise MediaError(f"audio of {it.shape[1]} samples: longer than the API codes in memory "
                                 "(use the streaming encoder or the CLI)")  # fmt: skip
            if not np.isfinite(it).all():
                raise MediaError("audio holds NaN or infinite samples")
        rows = []
        for it in items:
            enc = self.stream_encoder(q, rate, channels)
            parts = [enc.feed(it.T), enc.flush()]
            rows.append(np.concatenate(parts, axis=-1))
        t = max(r.shape[-1] for r in rows)
        tokens = np.zeros((sum(r.shape[0] for r in rows), rows[0].shape[1], t), np.int64)
        k = 0
        for r in rows:
            tokens[k : k + r.shape[0], :, : r.shape[-1]] = r
            k += r.shape[0]
        return AudioTokens(tokens, q, rate, channels, [it.shape[1] for it in items], self.frame_rate)

    # --------------------------------------------------------------------------------------- decoding
    def _frames_for(self, length: int, rate: int) -> int:
        n = -(-length * self.sample_rate // rate)
        return StreamEncoder.frames_for(n, self.cfg.frame_samples, self.cfg.n_fft - self.cfg.hop)

    def _rows(self, channels: int) -> int:
        return channels if self.rows_per_channel else 1

    def _period(self, rate: int) -> int:
        """Model-rate samples per period of the resampling pattern to ``rate``."""
        return self.sample_rate // math.gcd(self.sample_rate, rate)

    def _out_start(self, model_start: int, rate: int) -> int:
        """First output sample (at ``rate``) a decoder run whose first sample is ``model_start`` gives."""
        p = self._period(rate)
        return (-(-model_start // p) * p) * rate // self.sample_rate

    def stream_decoder(
        self, sample_rate: int, channels: int = 1, *, begin: int = 0, end: int | None = None,
        context: np.ndarray | None = None, model_start: int = 0, start_frame: int = 0,
    ) -> AudioStreamDecoder:  # fmt: skip
        """A streaming decoder: feed token blocks ``(rows, S, t)``, get samples ``[n, channels]`` at
        ``sample_rate`` (see :class:`AudioStreamDecoder`)."""
        return AudioStreamDecoder(self, sample_rate, channels, begin, end, context, model_start, start_frame)

    def iter_decode(
        self, chunks: Iterable[np.ndarray], rate: int, channels: int, begin: int, end: int,
        context: np.ndarray | None = None, model_start: int = 0, start_frame: int = 0,
    ) -> Iterator[np.ndarray]:  # fmt: skip
        """Token blocks ``(rows, S, t)`` of one item, in order, → blocks ``[n, channels]`` holding the
        output samples ``[begin, end)`` at ``rate``."""
        dec = self.stream_decoder(rate, channels, begin=begin, end=end, context=context,
                                  model_start=model_start, start_frame=start_frame)  # fmt: skip
        for tok in chunks:
            y = dec.feed(tok)
            if y.shape[0]:
                yield y
            if dec.done:
                return
        y = dec.flush()
        if y.shape[0]:
            yield y

    def decode_rows(self, tokens: np.ndarray, rate: int, channels: int, length: int) -> np.ndarray:
        """The tokens ``(rows, S, T)`` of one item → float32 ``[length, channels]`` at ``rate``."""
        blocks = list(self.iter_decode([tokens], rate, channels, 0, length))
        return np.concatenate(blocks, axis=0) if blocks else np.zeros((0, channels), np.float32)

    def decode(self, t: AudioTokens) -> torch.Tensor | list[torch.Tensor]:
        """Tokens → audio at the items' own rate: a tensor ``(B, C, N)`` when every item has the same
        length, else a list of ``(C, N)`` tensors."""
        if not isinstance(t, AudioTokens):
            raise TypeError("decode takes the AudioTokens that encode returned")
        tokens = self.check_tokens(t.tokens, t.quality)
        rows = self._rows(t.channels)
        if tokens.shape[0] != rows * len(t.lengths):
            raise ShapeError(f"tokens hold {tokens.shape[0]} rows; {len(t.lengths)} items need "
                             f"{rows * len(t.lengths)}")  # fmt: skip
        out = []
        for i, n in enumerate(t.lengths):
            part = tokens[i * rows : (i + 1) * rows, :, : self._frames_for(n, t.sample_rate)]
            y = self.decode_rows(part, t.sample_rate, t.channels, n)
            out.append(torch.from_numpy(np.ascontiguousarray(y.T)))
        if len({y.shape[-1] for y in out}) == 1:
            return torch.stack(out)
        return out

    # ------------------------------------------------------------------------------------------ bytes
    def _media_info(self, t: Tokens, **kw: Any) -> MediaInfo:
        assert isinstance(t, AudioTokens)
        return MediaInfo(
            kind="audio", channels=t.channels, sample_rate=t.sample_rate,
            frame_rate=(self.cfg.sample_rate, self.cfg.frame_samples), length=t.lengths[0],
        )  # fmt: skip

    def resolve_prior(self, quality: int, prior: str, first_chunk: np.ndarray) -> str:
        """``prior``, or for ``"auto"`` the kind that codes ``first_chunk`` (the file's first chunk of
        token frames) in the fewest bytes."""
        if prior == "auto":
            return self.choose_prior(quality, np.asarray(first_chunk)[..., :CHUNK_FRAMES])
        return prior

    def compress_tokens(self, t: Tokens, prior: str = "auto", **media: Any) -> bytes:
        assert isinstance(t, AudioTokens)
        prior = self.resolve_prior(t.quality, prior, t.tokens)
        extra = [("lengths", ",".join(str(n) for n in t.lengths))] if len(t.lengths) > 1 else []
        return super().compress_tokens(t, prior, chunk_len=CHUNK_FRAMES, extra=extra, **media)

    def compress(
        self, wav: Any, quality: int | None = None, *, sample_rate: int | None = None,
        bitrate: float | None = None, prior: str = "auto",
    ) -> bytes:  # fmt: skip
        """Audio → a complete .ncd file (see :meth:`encode`)."""
        return self.compress_tokens(
            self.encode(wav, quality, sample_rate=sample_rate, bitrate=bitrate), prior
        )

    def _lengths(self, h: NcdHeader) -> list[int]:
        extra = dict(h.extra)
        if "lengths" not in extra:
            return [h.media.length]
        try:
            lengths = [int(v) for v in extra["lengths"].split(",")]
        except ValueError:
            raise FormatError("unreadable item lengths in the header") from None
        if not lengths or lengths[0] != h.media.length or min(lengths) < 1:
            raise FormatError("item lengths in the header disagree with the media length")
        return lengths

    def check_audio_header(self, h: NcdHeader) -> list[int]:
        """Check an audio header's media fields against this model; the item lengths."""
        m = h.media
        if not (MIN_RATE <= m.sample_rate <= MAX_RATE and 1 <= m.channels <= MAX_CHANNELS):
            raise FormatError(f"header: {m.sample_rate} Hz, {m.channels} channels is not valid audio")
        if tuple(m.frame_rate) != (self.cfg.sample_rate, self.cfg.frame_samples):
            raise FormatError(f"header frame rate {m.frame_rate} is not {self.name}'s")
        if m.length < 1:
            raise FormatError("header: audio of no samples")
        lengths = self._lengths(h)
        shape = h.sections[0].shape
        rows = self._rows(m.channels) * len(lengths)
        frames = max(self._frames_for(n, m.sample_rate) for n in lengths)
        if len(shape) != 3 or shape[0] != rows or shape[2] != frames:
            raise FormatError(f"header: tokens {shape} do not fit {len(lengths)} item(s) of "
                              f"{m.channels} channel(s), {lengths[0]} samples at "
                              f"{m.sample_rate} Hz")  # fmt: skip
        return lengths

    def _tokens_from_file(self, h: NcdHeader, tokens: np.ndarray, quality: int) -> AudioTokens:
        lengths = self.check_audio_header(h)
        return AudioTokens(tokens, quality, h.media.sample_rate, h.media.channels, lengths, self.frame_rate)

    def _kind(self, h: NcdHeader) -> str:
        kind = h.prior_name if h.prior_name in PRIOR_KINDS else ""
        if not kind:
            raise FormatError(f"unknown prior {h.prior_name!r}")
        return kind

    def decompress(
        self, data: bytes, *, start: float = 0.0, duration: float | None = None, conceal: bool = False
    ) -> torch.Tensor | list[torch.Tensor]:
        """A .ncd file → audio (as :meth:`decode`).  ``start``/``duration`` (seconds) decode a span of a
        single-item file, reading only its chunks; ``conceal`` decodes a file with damaged chunks (their
        seconds become silence) instead of refusing it."""
        if conceal:
            h, q = check_header(data, self.name, self.digest, media=self.media, qualities=self.qualities,
                                strict=False)  # fmt: skip
        else:
            h, q = self.check_file(data)
        lengths = self.check_audio_header(h)
        if start or duration is not None:
            if len(lengths) != 1:
                raise NcodecError("start/duration decode a single-item file")
            y = np.concatenate(list(self.iter_span(data, start, duration)), axis=0)
            return torch.from_numpy(np.ascontiguousarray(y.T))[None]
        prior = self.prior(q, self._kind(h))
        tokens, _, damaged = decompress_partial(data, prior)
        if damaged and not conceal:
            what = "; ".join(f"chunk {k} ({self._chunk_seconds(k)}): {e}" for k, e in sorted(damaged.items()))
            raise FormatError(f"damaged file: {what} (decode with conceal=True / --conceal to get the rest)")
        t = self._tokens_from_file(h, tokens, q)
        if damaged:
            return self._decode_concealed(t, damaged)
        return self.decode(t)

    def _chunk_seconds(self, k: int) -> str:
        a = k * CHUNK_FRAMES / self.frame_rate
        return f"{a:.1f}-{a + CHUNK_FRAMES / self.frame_rate:.1f} s"

    def _decode_concealed(self, t: AudioTokens, damaged: dict[int, str]) -> torch.Tensor:
        if len(t.lengths) != 1:
            raise NcodecError("concealment decodes single-item files")
        rate, n, frames = t.sample_rate, t.lengths[0], t.tokens.shape[-1]
        out = np.zeros((n, t.channels), np.float32)
        runs: list[list[int]] = []
        for k in range(-(-frames // CHUNK_FRAMES)):
            if k in damaged:
                continue
            if runs and runs[-1][-1] == k - 1:
                runs[-1].append(k)
            else:
                runs.append([k])
        fs = self.cfg.frame_samples
        for run in runs:
            a, b = run[0] * CHUNK_FRAMES, min(frames, (run[-1] + 1) * CHUNK_FRAMES)
            begin = self._out_start(a * fs, rate)  # no context: decoding restarts at frame a
            stop = n if b >= frames else min(n, self._out_start(b * fs, rate))
            if stop <= begin:
                continue
            blocks = list(self.iter_decode([t.tokens[:, :, a:b]], rate, t.channels, begin, stop,
                                           model_start=a * fs, start_frame=a))  # fmt: skip
            y = np.concatenate(blocks, axis=0)
            out[begin : begin + y.shape[0]] = y
        return torch.from_numpy(np.ascontiguousarray(out.T))[None]

    def iter_span(
        self, source: Any, start: float = 0.0, duration: float | None = None
    ) -> Iterator[np.ndarray]:
        """Blocks ``[n, channels]`` of ``duration`` seconds from ``start`` of a single-item file (bytes or a
        path), reading and decoding only the chunks the span needs."""
        import io

        f = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        with NcdReader(f) as r:
            h = r.header
            self.check_file(bytes(source) if isinstance(source, (bytes, bytearray)) else _head_bytes(r))
            q = int(dict(h.extra).get("quality", "0"))
            self.check_quality(q)
            lengths = self.check_audio_header(h)
            if len(lengths) != 1:
                raise NcodecError("a span is decoded from a single-item file")
            rate, n, channels = h.media.sample_rate, lengths[0], h.media.channels
            if not (math.isfinite(start) and start >= 0) or (
                duration is not None and not (math.isfinite(duration) and duration > 0)
            ):
                raise ValueError("start must be >= 0 and duration > 0 seconds")
            a = min(n, int(round(start * rate)))
            b = n if duration is None else min(n, a + int(round(duration * rate)))
            if a >= b:
                raise ValueError(f"the span starts at {start:g} s, past the end ({n / rate:.2f} s)")
            prior = self.prior(q, self._kind(h))
            fs, tail = self.cfg.frame_samples, self.cfg.n_fft - self.cfg.hop
            # the chunk holding the first frame needed (with room for the resampling grid), one chunk of
            # context before it
            a_model = a * self.sample_rate // rate
            frame = max(0, (a_model - self._period(rate) - tail) // fs)
            k0 = frame // CHUNK_FRAMES
            ctx = r.read_chunk(k0 - 1, prior) if k0 > 0 else None
            model_start = k0 * CHUNK_FRAMES * fs - tail if k0 else 0

            def chunks() -> Iterator[np.ndarray]:
                for k in range(k0, len(r.entries)):
                    yield r.read_chunk(k, prior)

            yield from self.iter_decode(
                chunks(), rate, channels, a, b, context=ctx, model_start=model_start,
                start_frame=k0 * CHUNK_FRAMES,
            )  # fmt: skip

    # ------------------------------------------------------------------------------------------ priors
    @torch.no_grad()
    def fit_priors_from(self, signals: Iterable[np.ndarray], pseudo_count: int = 1) -> None:
        """Fit the static per-stage tables of every quality from the full-stage tokens of ``signals``
        (float arrays at the model's rate); each quality's stages are a prefix of the full ones."""
        top = self.qualities - 1
        n_streams = len(self.alphabet(top))
        counts = [np.zeros(a, np.int64) for a in self.alphabet(top)]
        for x in signals:
            tok = self.encode(x, top).tokens
            for s in range(n_streams):
                counts[s] += np.bincount(tok[:, s].ravel(), minlength=counts[s].shape[0])
        self.priors = [
            StaticPrior.from_counts([c + pseudo_count for c in counts[: len(self.alphabet(q))]])
            for q in range(self.qualities)
        ]

    # ------------------------------------------------------------------------------------------ files
    @classmethod
    def from_file(cls, path: Any, name: str | None = None) -> AudioCodec:
        meta = read_metadata(path)
        cfg = config_from_dict(AudioModelConfig, meta["config"], path, positive=POSITIVE_FIELDS)
        model = AudioTokenModel(cfg)
        state = load_tensors(path)
        return cls.from_state(model, state, path, name or meta.get("name") or str(path))


def _head_bytes(r: NcdReader) -> bytes:
    """The header bytes of an open file (what check_file needs)."""
    r._f.seek(0)
    return r._f.read(r.chunks_start)


class AudioStreamDecoder:
    """Streaming decoder of one audio item: ``feed`` token blocks ``(rows, stages, t)`` in order, get the
    samples ``[n, channels]`` (at ``sample_rate``) that are final; ``flush`` at the end of the tokens.

    Decoding runs ``n_fft - hop`` samples (30 ms at 16 kHz) behind the tokens fed, plus the resampler's
    few milliseconds when ``sample_rate`` is not the model's.  ``begin``/``end`` restrict the output to
    those samples (``end=None``: everything); ``context``, ``model_start`` and ``start_frame`` start
    mid-file (the codec's span decoding sets them).
    """

    def __init__(
        self, codec: AudioCodec, sample_rate: int, channels: int, begin: int = 0, end: int | None = None,
        context: np.ndarray | None = None, model_start: int = 0, start_frame: int = 0,
    ) -> None:  # fmt: skip
        check_rate_channels("audio", sample_rate, channels)
        self.channels = channels
        self.dec = StreamDecoder(codec.model, context, start_frame)
        self.rows = codec._rows(channels)
        self.resamplers = [BlockResampler(codec.sample_rate, sample_rate) for _ in range(self.rows)]
        p = codec._period(sample_rate)
        self.drop_model = -(-model_start // p) * p - model_start  # align the resampling grid
        self.skip = begin - codec._out_start(model_start, sample_rate)
        if self.skip < 0:
            raise RuntimeError("decoding starts after the first sample asked for")
        self.left = None if end is None else end - begin

    @property
    def done(self) -> bool:
        return self.left is not None and self.left <= 0

    def _out(self, y: np.ndarray, flush: bool = False) -> np.ndarray:
        if self.drop_model and y.shape[-1]:
            k = min(self.drop_model, y.shape[-1])
            y, self.drop_model = y[..., k:], self.drop_model - k
        parts = [r.feed(row) for r, row in zip(self.resamplers, y, strict=True)]
        if flush:
            parts = [np.concatenate([a, r.flush()]) for a, r in zip(parts, self.resamplers, strict=True)]
        rs = np.stack(parts, axis=1) if parts else np.zeros((0, self.rows), np.float32)
        if self.skip:
            k = min(self.skip, rs.shape[0])
            rs, self.skip = rs[k:], self.skip - k
        if self.left is not None:
            rs = rs[: max(self.left, 0)]
            self.left -= rs.shape[0]
        return rs if rs.shape[1] == self.channels else np.repeat(rs, self.channels, axis=1)

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim != 3 or tokens.shape[0] != self.rows:
            raise ShapeError(f"token blocks must be (rows={self.rows}, stages, t), got {tokens.shape}")
        return self._out(self.dec.feed(tokens))

    def flush(self) -> np.ndarray:
        """The last samples (the decoder's look-ahead filled with what the tokens end with)."""
        empty = (
            np.zeros((self.rows, 0, 0), np.int64) if self.dec.pending is None else self.dec.pending[..., :0]
        )
        return self._out(self.dec.feed(empty, final=True), flush=True)


class AudioStreamEncoder:
    """Streaming encoder of one audio item: ``feed`` blocks ``[n, channels]`` (or ``(n,)`` mono), get
    tokens ``(rows, stages, t)`` as they are final; ``flush`` at the end.  The tokens do not depend on
    how the input is cut (see :mod:`ncodec.codecs.audio.stream`)."""

    def __init__(self, codec: AudioCodec, quality: int, sample_rate: int, channels: int) -> None:
        check_rate_channels("audio", sample_rate, channels)
        self.codec, self.quality, self.sample_rate, self.channels = codec, quality, sample_rate, channels
        stages = len(codec.alphabet(quality))
        rows = codec._rows(channels)
        self.resamplers = [BlockResampler(sample_rate, codec.sample_rate) for _ in range(rows)]
        self.encoders = [StreamEncoder(codec.model, stages) for _ in range(rows)]
        self.samples = 0

    def _rows(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ShapeError(f"blocks must be [n, {self.channels}], got {x.shape}")
        if not np.isfinite(x).all():
            raise MediaError("audio holds NaN or infinite samples")
        self.samples += x.shape[0]
        if len(self.encoders) == 1:
            return [x.mean(axis=1) if self.channels > 1 else x[:, 0]]
        return [x[:, c] for c in range(self.channels)]

    def _stack(self, parts: list[np.ndarray]) -> np.ndarray:
        n = min(p.shape[-1] for p in parts)
        if any(p.shape[-1] != n for p in parts):  # channels advance together: same grid, same lengths
            raise RuntimeError("channel encoders out of step")
        return np.stack(parts)

    def feed(self, x: np.ndarray) -> np.ndarray:
        rows = self._rows(x)
        return self._stack(
            [e.feed(r.feed(v)) for e, r, v in zip(self.encoders, self.resamplers, rows, strict=True)]
        )

    def flush(self) -> np.ndarray:
        if self.samples == 0:
            raise MediaError("audio has no samples")
        parts = []
        for e, r in zip(self.encoders, self.resamplers, strict=True):
            a = e.feed(r.flush())
            parts.append(np.concatenate([a, e.flush()], axis=-1))
        return self._stack(parts)
