"""The video side of ``ncodec encode``, ``ncodec decode`` and ``ncodec demo``.

Both directions go frame by frame: the input is decoded one frame at a time and coded as it comes;
decoding reads one GOP's chunks at a time (``--start`` seeks to its GOP through the chunk index) and
writes the output as it goes.  The output appears (atomically) only when everything succeeded.
**Audio policy:** an input's (first) audio track is kept by default: coded with ncodec's general-audio
model (``--audio-model``, default ``audio-music-rvq-v1`` at its highest rate) into that model's own
``.ncd``, stored inside the video file, and muxed back (FLAC in ``.mkv``, AAC in ``.mp4``) when decoding;
``--audio drop`` codes the picture alone.  A ``.y4m`` output cannot hold audio: decoding a file with
an audio track to ``.y4m`` is refused unless ``--audio drop``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ncodec.codecs.registry import default_model, load
from ncodec.container import NcdHeader
from ncodec.errors import MediaError, NcodecError


def _progress(total: int | None, what: str):
    from tqdm import tqdm

    return tqdm(total=total or None, unit="frame", desc=what, disable=None, file=sys.stderr)


def _video_codec(name: str, allow_path: bool = True):
    codec = load(name, allow_path=allow_path)
    if codec.media != "video":
        raise NcodecError(f"{name} is an {codec.media} model; video needs a video model (ncodec models)")
    return codec


#: The audio model a video's audio track is coded with when none is named.
AUDIO_MODEL = "audio-music-rvq-v1"


def audio_track(path: str | Path, model: str | None) -> tuple[str, bytes]:
    """The first audio track of a video file coded by an ncodec audio model: ``(model name, .ncd)``."""
    from ncodec.codecs.registry import available_models
    from ncodec.io.audio import open_audio

    name = model or (AUDIO_MODEL if AUDIO_MODEL in available_models() else default_model("audio"))
    if name is None:
        raise NcodecError("no audio model is shipped to code the audio track: pass --audio drop")
    codec = load(name)
    if codec.media != "audio":
        raise NcodecError(f"--audio-model {name} is an {codec.media} model")
    src = open_audio(path)
    x = src.read()
    return codec.name, codec.compress(x.T, codec.qualities - 1, sample_rate=src.sample_rate)


def encode_file(codec, path: str | Path, out: Path, quality: int, gop: int | None, force: bool = False,
                progress: bool = True, audio: tuple[str, bytes] | None = None):  # fmt: skip
    """Code a video file or frame folder into ``out`` frame by frame (memory: the reference frame and
    one GOP's tokens): ``(bytes written, source, frames)``."""
    from ncodec.io.video import open_video

    src = open_video(path)
    bar = _progress(src.frames_hint, f"encode {Path(path).name}") if progress else None
    count = 0

    def frames():
        nonlocal count
        for f in src.frames():
            count += 1
            if bar is not None:
                bar.update(1)
            yield f

    try:
        size = codec.compress_to(
            out,
            frames(),
            quality,
            gop,
            fps=src.fps,
            channels=src.channels,
            force=force,
            audio=audio,
            time_base=src.time_base,
        )
    finally:
        if bar is not None:
            bar.close()
    return size, src, count


def decode_audio_span(reader, start: float, duration: float | None):
    """The audio track's samples ``(float [n, channels], rate)`` over ``[start, start + duration)``
    seconds (clipped to the track; ``duration=None``: to its end), or None when it has none there."""
    from ncodec.container import parse

    data = reader.audio_bytes()
    m = parse(data, strict=False).header.media
    length = m.length / m.sample_rate
    if start >= length:
        return None
    codec = load(reader.audio_model, allow_path=False)
    if duration is None and start == 0:
        y = codec.decompress(data)
    else:
        y = codec.decompress(data, start=start, duration=min(duration or length, length - start))
    return y[0].numpy().T, int(m.sample_rate)


class VideoCommands:
    """``encode``/``decode``/``demo`` for video files."""

    media = "video"

    def add_encode_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--gop", type=int, metavar="N",
            help="video: frames per GOP, an I-frame every N (default 32; 1 = all intra)",
        )  # fmt: skip
        p.add_argument(
            "--audio", choices=["ncodec", "drop"],
            help="video: the input's audio track is coded by an ncodec audio model (default) or dropped",
        )  # fmt: skip
        p.add_argument(
            "--audio-model", help=f"video: the audio model of the audio track (default {AUDIO_MODEL})"
        )

    def add_decode_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--frames", type=int, metavar="N", help="video: decode N frames (from --start)")
        p.add_argument(
            "--audio", choices=["keep", "drop"], help="video: write the audio track (default) or not"
        )

    def encode(self, args: argparse.Namespace, out: Path) -> int:
        from ncodec.io.video import open_video

        for opt in ("refine", "bitrate"):
            if getattr(args, opt, None):
                raise NcodecError(f"--{opt} is not a video option")
        model = args.model or default_model("video")
        if model is None:
            raise NcodecError("no video model is shipped: pass --model WEIGHTS.safetensors")
        src = open_video(args.input)  # refuse what is not video before any work
        codec = _video_codec(model)
        quality = codec.qualities - 1 if args.quality is None else args.quality
        try:
            quality = codec.check_quality(quality)
            codec._gop(args.gop)
        except ValueError as exc:
            raise NcodecError(str(exc)) from None
        t0 = time.perf_counter()
        audio = None
        if src.audio_streams and getattr(args, "audio", None) != "drop":
            audio = audio_track(args.input, getattr(args, "audio_model", None))
        size, src, n = encode_file(codec, args.input, out, quality, args.gop, force=args.force, audio=audio)
        dt = time.perf_counter() - t0
        secs = n / float(src.fps)
        bpp = 8 * size / (n * src.width * src.height)
        kbps = 8 * size / secs / 1000
        print(f"{args.input} -> {out}: {size} bytes, {bpp:.4f} bpp, {kbps:.1f} kbps "
              f"({n} frames {src.width}x{src.height} at {src.fps} fps, {codec.name}, quality {quality}, "
              f"GOP {codec._gop(args.gop)}, {n / dt:.2f} frames/s"
              + (f"; audio track: {len(audio[1])} bytes of {audio[0]}" if audio else "") + ")")  # fmt: skip
        return 0

    def decode(self, args: argparse.Namespace, out: Path, data: bytes, header: NcdHeader) -> int:
        from ncodec.io.video import output_format, write_video

        _, _, _, _, _, exact = output_format(out)  # refused before decoding
        codec = _video_codec(args.model) if args.model else _video_codec(header.codec, allow_path=False)
        r = codec.open(data)
        start_s = getattr(args, "start", 0.0) or 0.0
        start = int(round(start_s * r.fps))
        count = getattr(args, "frames", None)
        if getattr(args, "duration", None) is not None:
            if count is not None:
                raise NcodecError("give --frames or --duration, not both")
            count = max(1, int(round(args.duration * r.fps)))
        try:
            frames = r.frames(start, count, conceal=getattr(args, "conceal", False))
            first = next(frames)  # argument errors surface before the output is opened
        except ValueError as exc:
            raise NcodecError(str(exc)) from None
        n_out = (r.n - start) if count is None else count
        audio = None
        if r.audio_model is not None and getattr(args, "audio", None) != "drop":
            if out.suffix.lower() == ".y4m":
                raise MediaError(f"{args.input} has an audio track and .y4m holds none: decode to .mkv or "
                                 ".mp4, or pass --audio drop")  # fmt: skip
            whole = start == 0 and count is None  # the whole track, however long; else the span's seconds
            audio = decode_audio_span(r, start / float(r.fps), None if whole else n_out / float(r.fps))
        total = (r.n - start) if count is None else count
        bar = _progress(total, f"decode {Path(args.input).name}")

        def chain():
            bar.update(1)
            yield first
            for f in frames:
                bar.update(1)
                yield f

        t0 = time.perf_counter()
        try:
            n = write_video(out, chain(), r.fps, r.channels, force=args.force, audio=audio)
        finally:
            bar.close()
            r.close()
        note = "" if exact else " (re-encoded: not the exact decoded pixels; .mkv is exact)"
        if audio is not None:
            note += f"; audio track {audio[0].shape[0] / audio[1]:.2f} s from {r.audio_model}"
        print(f"{args.input} -> {out}: {n} frames {r.width}x{r.height} at {r.fps} fps from frame {start} "
              f"({codec.name}, {n / (time.perf_counter() - t0):.2f} frames/s){note}")  # fmt: skip
        return 0

    def demo(self, args: argparse.Namespace, model: str) -> int:
        """A 16-frame camera pan over the bundled photo (192x128) → .ncd → .mkv, with bpp and PSNR of the
        inter codec and of all-intra coding at the same quality."""
        import numpy as np

        from ncodec.codecs.video.fuzz import pan
        from ncodec.io import write_atomic
        from ncodec.io.video import write_video

        out = Path(args.out)
        ncd, mkv = out / "pan.ncd", out / "pan.decoded.mkv"
        for p in (ncd, mkv):
            if p.exists() and not args.force:
                raise MediaError(f"{p} exists (use --force to overwrite)")
        codec = _video_codec(model)
        quality = codec.qualities - 1 if args.quality is None else args.quality
        try:
            quality = codec.check_quality(quality)
        except ValueError as exc:
            raise NcodecError(str(exc)) from None
        clip = pan(16, 128, 192, 1, 2)
        t0 = time.perf_counter()
        data = codec.compress(clip, quality, gop=16)
        t1 = time.perf_counter()
        rec = codec.decompress(data)
        t2 = time.perf_counter()
        intra = codec.compress(clip, quality, gop=1)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(ncd, data, force=args.force)
        write_video(mkv, iter(rec), 25, force=args.force)
        px = clip.shape[0] * clip.shape[1] * clip.shape[2]
        psnr = 10 * np.log10(255.0**2 / float(np.mean((rec.astype(np.float64) - clip) ** 2)))
        print(f"16-frame pan over the bundled photo (192x128) -> {ncd} ({len(data)} bytes, "
              f"{8 * len(data) / px:.4f} bpp, PSNR {psnr:.2f} dB) -> {mkv}")  # fmt: skip
        print(f"{codec.name} quality {quality}, GOP 16: encode {16 / (t1 - t0):.1f} frames/s, decode "
              f"{16 / (t2 - t1):.1f} frames/s; all intra at the same quality: {len(intra)} bytes "
              f"({8 * len(intra) / px:.4f} bpp)")  # fmt: skip
        return 0
