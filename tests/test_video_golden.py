"""Golden video files of every shipped video model: the committed bytes decode to the committed tokens
on any thread count, the encoder makes those bytes again from the golden clip, and the decoded frames
match the committed ones (float reconstruction: within one 8-bit level).

Regenerate with ``python tests/golden/video/generate.py`` only for an intended change.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from ncodec.codecs.registry import available_models, load

GOLDEN = Path(__file__).resolve().parent / "golden" / "video"
_spec = importlib.util.spec_from_file_location("video_golden", GOLDEN / "generate.py")
_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen)

CASES = [(n, q) for n in sorted(available_models("video")) for q in (0, load(n).qualities - 1)]


def test_every_shipped_video_model_has_goldens() -> None:
    assert CASES, "no video model is shipped"
    for name, q in CASES:
        assert (GOLDEN / f"{name}.q{q}.ncd").is_file(), f"run {GOLDEN / 'generate.py'}"


@pytest.mark.parametrize("name,q", CASES)
@pytest.mark.parametrize("threads", [1, 2])
def test_video_golden(name: str, q: int, threads: int) -> None:
    codec = load(name)
    data = (GOLDEN / f"{name}.q{q}.ncd").read_bytes()
    ref = dict(np.load(GOLDEN / f"{name}.q{q}.tokens.npz"))
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t = codec.decompress_tokens(data)
        got = _gen.token_arrays(t)
        assert got.keys() == ref.keys() and all(np.array_equal(got[k], ref[k]) for k in ref)
        assert t.types == "IPPIP"
        assert codec.compress_tokens(t) == data
        again = codec.compress(_gen.golden_input(), q, gop=_gen.GOP)
        frames = codec.decompress(data)
    finally:
        torch.set_num_threads(old)
    assert again == data, "the encoder no longer makes the golden tokens from the golden clip"
    dec = np.load(GOLDEN / f"{name}.q{q}.decoded.npz")["frames"]
    assert frames.shape == dec.shape
    assert int(np.abs(frames.astype(int) - dec).max()) <= 1
