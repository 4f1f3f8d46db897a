"""Each classical anchor round-trips a small real sample into a real file and reports a plausible rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ncodec.datasets.media import load_audio, load_video
from ncodec.metrics import bpp, kbps, psnr, si_sdr, video_psnr
from ncodec.rd.anchors_audio import decode_audio_bytes, encode_audio
from ncodec.rd.anchors_video import encode_video
from ncodec.rd.codecs import Item, available_codecs, get_codec

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def photo() -> Item:
    from skimage import data

    img = np.ascontiguousarray(data.coffee()[:256, 100:420])  # 320x256 real photo
    return Item("coffee", "image", img)


@pytest.fixture(scope="module")
def speech() -> Item:
    x, rate = load_audio(DATA / "speech_hts1a_8k.wav")
    return Item("hts1a", "audio", x, sample_rate=rate)


@pytest.fixture(scope="module")
def music() -> Item:
    x, rate = load_audio(DATA / "music_hr3-caves_1s.flac")
    return Item("caves", "audio", x, sample_rate=rate)


@pytest.fixture(scope="module")
def clip() -> Item:
    v, fps = load_video(DATA / "video_bikes_16f.mp4", max_frames=8)
    return Item("bikes", "video", v, fps=fps)


def test_registry_lists_the_anchors() -> None:
    assert {"jpeg", "webp", "avif"} <= set(available_codecs("image"))
    assert {"opus", "mp3", "aac"} <= set(available_codecs("audio"))
    assert {"x264", "x265", "svtav1"} <= set(available_codecs("video"))


MAGIC = {"jpeg": (0, b"\xff\xd8\xff"), "webp": (8, b"WEBP"), "avif": (4, b"ftypavif")}


@pytest.mark.parametrize("name", ["jpeg", "webp", "avif"])
def test_image_anchor_round_trip(name: str, photo: Item) -> None:
    codec = get_codec(name)
    h, w = photo.data.shape[:2]
    lo_q, hi_q = min(codec.rate_points), max(codec.rate_points)
    n_lo, rec_lo = codec.encode_decode(photo, lo_q)
    n_hi, rec_hi = codec.encode_decode(photo, hi_q)
    assert rec_hi.shape == photo.data.shape and rec_hi.dtype == np.uint8
    assert 0.02 < bpp(n_lo, h, w) < bpp(n_hi, h, w) < 10.0
    assert psnr(photo.data, rec_lo) < psnr(photo.data, rec_hi)
    assert psnr(photo.data, rec_hi) > 35.0
    assert 20.0 < psnr(photo.data, rec_lo)


def test_image_anchor_bytes_are_the_real_file(photo: Item) -> None:
    import io

    from PIL import Image

    for name, (off, magic) in MAGIC.items():
        codec = get_codec(name)
        n, rec = codec.encode_decode(photo, 50)
        buf = io.BytesIO()
        kwargs = dict(codec.save_kwargs)
        Image.fromarray(photo.data).save(buf, format=codec.format, quality=50, **kwargs)
        data = buf.getvalue()
        assert n == len(data)
        assert data[off : off + len(magic)] == magic
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), rec)


@pytest.mark.parametrize(("name", "magic"), [("opus", b"OggS"), ("mp3", None), ("aac", b"ftyp")])
def test_audio_anchor_round_trip(name: str, magic: bytes | None, speech: Item, music: Item) -> None:
    codec = get_codec(name)
    for item, point in ((speech, 32), (music, 64)):
        n, rec = codec.encode_decode(item, point)
        assert rec.shape == item.data.shape
        rate = kbps(n, item.duration)
        # Real files of short clips carry headers: allow overhead, but the rate must be near the target.
        assert 0.5 * point < rate < 2.5 * point, (name, point, rate)
        assert si_sdr(item.data, rec) > 5.0, (name, item.id)
        assert abs(codec.last_lag) <= item.sample_rate // 100
    enc_rate = codec.encoder_rate(speech.sample_rate)
    data = encode_audio(
        speech.data, speech.sample_rate, codec.codec, codec.format, 32000, enc_rate, codec.options
    )
    if magic is not None:
        assert magic in data[:16]
    else:
        assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    back = decode_audio_bytes(data, speech.sample_rate, 1)
    assert back.shape[1] == 1 and abs(back.shape[0] - speech.data.shape[0]) < speech.sample_rate // 10


def test_opus_rate_follows_target(music: Item) -> None:
    codec = get_codec("opus")
    rates = [kbps(codec.encode_decode(music, p)[0], music.duration) for p in (12, 24, 48)]
    assert rates[0] < rates[1] < rates[2]


@pytest.mark.parametrize(
    ("name", "magic"), [("x264", b"ftyp"), ("x265", b"ftyp"), ("svtav1", b"\x1a\x45\xdf\xa3")]
)
def test_video_anchor_round_trip(name: str, magic: bytes, clip: Item) -> None:
    codec = get_codec(name)
    t, h, w = clip.data.shape[:3]
    lo, hi = max(codec.rate_points), min(codec.rate_points)  # CRF: high = low rate
    n_lo, rec_lo = codec.encode_decode(clip, lo)
    n_hi, rec_hi = codec.encode_decode(clip, hi)
    assert rec_hi.shape == clip.data.shape
    assert 0.002 < bpp(n_lo, h, w, t) < bpp(n_hi, h, w, t) < 4.0
    assert video_psnr(clip.data, rec_hi) > 33.0
    assert video_psnr(clip.data, rec_lo) < video_psnr(clip.data, rec_hi)
    data = encode_video(clip.data, clip.fps, codec.codec, codec.format, dict(codec.options, crf=str(hi)))
    assert magic in data[:40]
    assert abs(len(data) - n_hi) <= 64  # same settings, same file (up to muxer metadata)
