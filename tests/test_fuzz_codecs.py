"""The codec fuzzer: mutated real image files reach each codec's decoder (and ``info --decode``) and are
refused with an NcodecError, decode identically, or are exactly another valid file; no traceback, no
hang.  10,000 cases for each image codec family on the golden models; the shipped models too."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ncodec.codecs.fuzz import mutate_codec_file, run_codec_case, run_codec_fuzz, seeds_for
from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.tokens import TokenImageCodec
from ncodec.codecs.registry import available_models, load

GOLDEN = Path(__file__).resolve().parent / "golden" / "image"
FAMILIES = {
    "hyperprior": lambda: ImageCodec.from_file(GOLDEN / "golden-hyperprior.safetensors", "golden-hyperprior"),
    "token": lambda: TokenImageCodec.from_file(GOLDEN / "golden-fsq.safetensors", "golden-fsq"),
}


def _check(rep) -> None:
    assert not rep.failures, "\n".join(f"{s} {k}: {e}" for s, k, e, _ in rep.failures[:5])
    assert rep.outcomes["refused"] > rep.cases // 2 and rep.outcomes["identical"] > 0
    assert rep.peak_rss_mb < 4096  # the process's peak, models and torch included


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_codec_fuzz_10k(family: str) -> None:
    rep = run_codec_fuzz(seeds_for(FAMILIES[family]()), 10_000, seed=11, time_limit=10)
    _check(rep)
    kinds = {k.split("-")[0] for k in rep.kinds}
    assert kinds == {"bytes", "header", "chunks"}


@pytest.mark.parametrize("name", sorted(available_models()))
def test_shipped_models_fuzz(name: str) -> None:
    rep = run_codec_fuzz(seeds_for(load(name)), 200, seed=5, time_limit=20)
    _check(rep)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(available_models()))
def test_shipped_models_fuzz_long(name: str) -> None:
    _check(run_codec_fuzz(seeds_for(load(name)), 5000, seed=6, time_limit=20))


def test_a_wrong_decode_is_caught() -> None:
    """The classifier itself: a decoder that returns other pixels for a file it should refuse fails."""
    codec = FAMILIES["hyperprior"]()
    seed = seeds_for(codec)[0]
    assert run_codec_case(seed, seed.data) == "identical"
    _, refused = mutate_codec_file(seed, random.Random(3))
    assert run_codec_case(seed, refused) in ("refused", "identical", "other-valid")

    class Liar:  # returns other pixels, for any file; its tokens and files are the real codec's
        media = codec.media
        compress_options = codec.compress_options
        decompress_tokens = codec.decompress_tokens
        compress_tokens = codec.compress_tokens

        def decompress(self, d):
            return codec.decompress(d) * 0.5

    seed.codec = Liar()
    with pytest.raises(AssertionError, match="unmodified file decoded to other media"):
        run_codec_case(seed, seed.data)

    def crash(d):
        raise IndexError("inside the decoder")

    Liar.decompress = lambda self, d: crash(d)
    with pytest.raises(AssertionError, match="IndexError: inside the decoder"):
        run_codec_case(seed, seed.data)
