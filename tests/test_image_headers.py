"""Every check an image codec runs on a file's header, each with its named error.  The files are the
golden files with one header field changed and every CRC recomputed (``rewrite_header``): what a buggy
writer or an attacker produces, which the checksums alone cannot catch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.tokens import TokenImageCodec
from ncodec.container import MediaInfo, parse, rewrite_header
from ncodec.errors import FormatError

GOLDEN = Path(__file__).resolve().parent / "golden" / "image"
CODECS = {
    "hyperprior": (ImageCodec, "golden-hyperprior", "hyperprior_q3.ncd"),
    "fsq": (TokenImageCodec, "golden-fsq", "fsq_q2_adaptive.ncd"),
}


def _codec_and_file(kind: str):
    cls, name, file = CODECS[kind]
    return cls.from_file(GOLDEN / f"{name}.safetensors", name=name), (GOLDEN / file).read_bytes()


def _quality(q: str):
    return lambda h: replace(h, extra=tuple((k, q if k == "quality" else v) for k, v in h.extra))


def _media(**kw):
    return lambda h: replace(h, media=replace(h.media, **kw))


CASES = [
    ("another codec", lambda h: replace(h, codec="other-model"), "unknown codec 'other-model'"),
    ("other weights", lambda h: replace(h, weights_hash=bytes(32)), "other weights"),
    ("audio file", _media(kind="audio"), r"not an image file \(audio\)"),
    ("quality too high", _quality("9"), "bad quality field '9'"),
    ("quality negative", _quality("-1"), "bad quality field"),
    ("quality with a leading zero", _quality("03"), "bad quality field '03'"),
    ("quality in Arabic-Indic digits", _quality("٣"), "bad quality field"),
    ("quality superscript", _quality("²"), "bad quality field"),
    ("quality missing", lambda h: replace(h, extra=()), "bad quality field ''"),
    ("height zero", _media(height=0), "is empty"),
    ("width zero", _media(width=0), "is empty"),
    ("size beyond the latent", _media(height=4000), "exceeds the coded latent"),
    ("latent larger than the size needs", _media(width=8, height=8), "larger than a 8x8 image needs"),
]


@pytest.mark.parametrize("kind", sorted(CODECS))
@pytest.mark.parametrize("what,change,message", CASES, ids=[c[0] for c in CASES])
def test_header_check(kind: str, what: str, change, message: str) -> None:
    codec, data = _codec_and_file(kind)
    bad = rewrite_header(data, change(parse(data).header))
    assert parse(bad).ok  # CRC-valid: only the codec's own checks can refuse it
    with pytest.raises(FormatError, match=message):
        codec.decompress(bad)


def test_unmodified_rewrite_decodes() -> None:
    for kind in CODECS:
        codec, data = _codec_and_file(kind)
        assert rewrite_header(data, parse(data).header) == data


def test_hyperprior_section_count() -> None:
    codec, data = _codec_and_file("hyperprior")
    h = parse(data).header
    bad = rewrite_header(data, replace(h, sections=h.sections[:1]))
    with pytest.raises(FormatError, match="not a 2-section image file"):
        codec.decompress(bad)


def test_token_prior_kind() -> None:
    codec, data = _codec_and_file("fsq")
    h = parse(data).header
    bad = rewrite_header(data, replace(h, sections=(replace(h.sections[0], prior_name="other"),)))
    with pytest.raises(FormatError, match="unknown prior 'other'"):
        codec.decompress(bad)


def test_media_info_default_is_not_an_image() -> None:
    codec, data = _codec_and_file("fsq")
    bad = rewrite_header(data, replace(parse(data).header, media=MediaInfo()))
    with pytest.raises(FormatError, match="not an image file"):
        codec.decompress(bad)
