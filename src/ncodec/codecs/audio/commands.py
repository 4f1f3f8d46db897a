"""The audio side of ``ncodec encode``, ``ncodec decode`` and ``ncodec demo``.

Both directions stream: the input is read in blocks and encoded as it comes (memory flat in the
length), and decoding reads the file's chunks one at a time and writes the output in blocks; the
output appears (atomically) only when everything succeeded.  Networks load only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ncodec.codecs.registry import default_model, load
from ncodec.container import NcdHeader
from ncodec.errors import MediaError, NcodecError
from ncodec.io import write_atomic
from ncodec.io.audio import audio_format, open_audio, write_audio_blocks

BLOCK_SECONDS = 1.0


def _progress(total: float | None, what: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="s", desc=what, disable=None, file=sys.stderr,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]"
                if total else "{desc}: {n:.0f} s [{elapsed}]")  # fmt: skip


def _audio_codec(name: str, allow_path: bool = True):
    codec = load(name, allow_path=allow_path)
    if codec.media != "audio":
        raise NcodecError(f"{name} is an {codec.media} model; audio needs an audio model (ncodec models)")
    return codec


def _pick_quality(codec, args: argparse.Namespace) -> int:
    if args.quality is not None and getattr(args, "bitrate", None) is not None:
        raise NcodecError("give --quality or --bitrate, not both")
    try:
        if getattr(args, "bitrate", None) is not None:
            return codec.quality_for_bitrate(float(args.bitrate))
        return codec.qualities - 1 if args.quality is None else codec.check_quality(args.quality)
    except ValueError as exc:
        raise NcodecError(f"{exc} (ladder: {_ladder(codec)})") from None


def _ladder(codec) -> str:
    return ", ".join(f"q{q}={codec.nominal_kbps(q):g}" for q in range(codec.qualities)) + " kbps"


def encode_file(codec, path: str | Path, quality: int, prior: str = "auto", progress: bool = True):
    """Stream an audio file through ``codec`` at ``quality``: ``(file bytes, source)``.  Each chunk of
    the file is entropy-coded as soon as its token frames are there (the container's spool writer), so
    memory holds a chunk of tokens, not the file's: the bytes equal ``codec.compress`` of the whole
    (``prior="auto"`` is resolved on the first chunk, as ``compress`` does)."""
    from ncodec.codecs.audio.codec import CHUNK_FRAMES
    from ncodec.container import MediaInfo, NcdSpoolWriter, TokenSection

    src = open_audio(path)
    enc = codec.stream_encoder(quality, src.sample_rate, src.channels)
    writer: NcdSpoolWriter | None = None
    table = None
    pending: list[np.ndarray] = []

    def add(chunk: np.ndarray) -> None:
        nonlocal writer, table
        if writer is None:  # the first chunk settles the prior
            kind = codec.resolve_prior(quality, prior, chunk)
            table = codec.prior(quality, kind)
            q_name, form = codec.model.quantizer_name, codec.model.token_form
            writer = NcdSpoolWriter([TokenSection(None, None, q_name, form, CHUNK_FRAMES, kind)])
        writer.add(0, chunk, table)

    def take(part: np.ndarray, last: bool = False) -> None:
        pending.append(part)
        have = sum(p.shape[-1] for p in pending)
        if have < CHUNK_FRAMES and not (last and have):
            return
        tokens = np.concatenate(pending, axis=-1)
        pending.clear()
        n = tokens.shape[-1] if last else tokens.shape[-1] // CHUNK_FRAMES * CHUNK_FRAMES
        for i in range(0, n, CHUNK_FRAMES):
            add(tokens[..., i : min(i + CHUNK_FRAMES, n)])
        if n < tokens.shape[-1]:
            pending.append(tokens[..., n:])

    bar = _progress(src.frames / src.sample_rate if src.frames else None, f"encode {Path(path).name}") \
        if progress else None  # fmt: skip
    try:
        for block in src.blocks(int(BLOCK_SECONDS * src.sample_rate)):
            take(enc.feed(block))
            if bar is not None:
                bar.update(block.shape[0] / src.sample_rate)
        take(enc.flush(), last=True)
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    finally:
        if bar is not None:
            bar.close()
    rate = (codec.cfg.sample_rate, codec.cfg.frame_samples)
    media = MediaInfo(kind="audio", channels=src.channels, sample_rate=src.sample_rate, frame_rate=rate,
                      length=int(src.frames))  # fmt: skip
    if writer is None:
        raise MediaError(f"{path}: no token frames (empty audio)")
    data = writer.finish(codec=codec.name, weights_hash=codec.digest, media=media,
                         extra=[("quality", str(quality))])  # fmt: skip
    return data, src


class AudioCommands:
    """``encode``/``decode``/``demo`` for audio files."""

    media = "audio"

    def add_encode_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--bitrate", type=float, metavar="KBPS",
                       help="audio: the highest rate point at or below KBPS (nominal, before entropy "
                       "coding)")  # fmt: skip

    def add_decode_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--start", type=float, default=0.0, metavar="SECONDS",
                       help="audio, video: decode from here")  # fmt: skip
        p.add_argument("--duration", type=float, metavar="SECONDS",
                       help="audio, video: decode this many seconds")  # fmt: skip
        p.add_argument("--conceal", action="store_true",
                       help="audio: decode a file with damaged chunks, their seconds as silence; video: a "
                       "damaged GOP's frames repeat the last good frame")  # fmt: skip

    def encode(self, args: argparse.Namespace, out: Path) -> int:
        if getattr(args, "refine", 0):
            raise NcodecError("--refine is for image models")
        model = args.model or default_model("audio")
        if model is None:
            raise NcodecError("no audio model is shipped: pass --model WEIGHTS.safetensors")
        codec = _audio_codec(model)
        quality = _pick_quality(codec, args)
        open_audio(args.input)  # refuse what is not audio before any work
        t0 = time.perf_counter()
        data, src = encode_file(codec, args.input, quality, args.prior or "auto")
        write_atomic(out, data, force=args.force)
        dur = src.frames / src.sample_rate
        print(f"{args.input} -> {out}: {len(data)} bytes, {8 * len(data) / dur / 1000:.3f} kbps "
              f"({dur:.2f} s, {src.sample_rate} Hz, {src.channels} ch, {codec.name}, quality {quality}, "
              f"{time.perf_counter() - t0:.2f} s)")  # fmt: skip
        return 0

    def decode(self, args: argparse.Namespace, out: Path, data: bytes, header: NcdHeader) -> int:
        audio_format(out)  # refused before decoding
        codec = _audio_codec(args.model) if args.model else _audio_codec(header.codec, allow_path=False)
        codec.check_file(data)
        lengths = codec.check_audio_header(header)
        if len(lengths) != 1:
            raise NcodecError(
                f"{args.input}: holds a batch of {len(lengths)} items; decode it with the Python API"
            )
        m = header.media
        start, duration = getattr(args, "start", 0.0) or 0.0, getattr(args, "duration", None)
        t0 = time.perf_counter()
        if getattr(args, "conceal", False):
            if start or duration is not None:
                raise NcodecError("--conceal decodes the whole file (no --start/--duration)")
            y = codec.decompress(data, conceal=True)[0].numpy().T
            blocks = iter([y])
        else:
            try:
                span_blocks = codec.iter_span(data, start, duration)
                first = next(span_blocks)  # argument errors surface before the output is opened
            except ValueError as exc:
                raise NcodecError(str(exc)) from None

            def chain():
                yield first
                yield from span_blocks

            blocks = chain()
        span = (m.length / m.sample_rate - start) if duration is None else duration
        bar = _progress(max(0.0, span), f"decode {Path(args.input).name}")

        def counted():
            for b in blocks:
                bar.update(b.shape[0] / m.sample_rate)
                yield b

        try:
            n = write_audio_blocks(out, counted(), m.sample_rate, m.channels, force=args.force)
        finally:
            bar.close()
        print(f"{args.input} -> {out}: {n / m.sample_rate:.2f} s, {m.sample_rate} Hz, {m.channels} ch "
              f"({codec.name}, {time.perf_counter() - t0:.2f} s)")  # fmt: skip
        return 0

    def demo(self, args: argparse.Namespace, model: str) -> int:
        from ncodec.io.samples import sample_speech
        from ncodec.metrics.audio import mel_distance, pesq_available, pesq_wb

        src = Path(getattr(args, "audio", None) or sample_speech())
        out = Path(args.out)
        ncd, wav = out / (src.stem + ".ncd"), out / (src.stem + ".decoded.wav")
        for p in (ncd, wav):
            if p.exists() and not args.force:
                raise MediaError(f"{p} exists (use --force to overwrite)")
        codec = _audio_codec(model)
        if args.quality is None and getattr(args, "bitrate", None) is None:
            quality = codec.quality_for_bitrate(6.0)  # the demo's default: Opus's lowest rate
        else:
            quality = _pick_quality(codec, args)
        x = open_audio(src).read()
        rate = open_audio(src).sample_rate
        t0 = time.perf_counter()
        data = codec.compress(x.T, quality, sample_rate=rate)
        t1 = time.perf_counter()
        y = codec.decompress(data)[0].numpy().T
        t2 = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(ncd, data, force=args.force)
        write_audio_blocks(wav, [y], rate, y.shape[1], force=args.force)
        dur = x.shape[0] / rate
        kbps = 8 * len(data) / dur / 1000
        scores = [f"mel distance {mel_distance(x, y, rate):.2f}"]
        if pesq_available():
            scores.insert(0, f"PESQ-WB {pesq_wb(x, y, rate):.2f}")
        print(f"{src.name} ({dur:.2f} s, {rate} Hz) -> {ncd} ({len(data)} bytes, {kbps:.2f} kbps) -> {wav}")
        print(f"{', '.join(scores)}; {codec.name} quality {quality}, encode {t1 - t0:.2f} s, "
              f"decode {t2 - t1:.2f} s ({dur / max(t2 - t0, 1e-9):.0f}x real time)")  # fmt: skip
        return 0
