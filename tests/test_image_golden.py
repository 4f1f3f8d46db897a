"""Golden image-codec files: committed bytes decode to the committed tokens, whatever the thread count,
and the tokens code back to the same bytes (the entropy path, integer hyper-decoder included, is exact).

Regenerate with ``python tests/golden/image/generate.py`` only for an intended change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ncodec.codecs.image import ImageCodec, ImageTokens
from ncodec.codecs.image_tokens import TokenImage, TokenImageCodec

GOLDEN = Path(__file__).resolve().parent / "golden" / "image"


def _threads(n: int):
    class _Ctx:
        def __enter__(self):
            self.old = torch.get_num_threads()
            torch.set_num_threads(n)

        def __exit__(self, *exc):
            torch.set_num_threads(self.old)

    return _Ctx()


@pytest.mark.parametrize("threads", [1, 2])
def test_hyperprior_golden(threads: int) -> None:
    codec = ImageCodec.from_file(GOLDEN / "golden-hyperprior.safetensors", name="golden-hyperprior")
    data = (GOLDEN / "hyperprior_q3.ncd").read_bytes()
    ref = np.load(GOLDEN / "hyperprior_q3.tokens.npz")
    with _threads(threads):
        t = codec.decompress_tokens(data)
        assert np.array_equal(t.z, ref["z"]) and np.array_equal(t.y, ref["y"])
        assert codec.compress_tokens(ImageTokens(ref["z"], ref["y"], 3, 56, 72)) == data
        rec = codec.decode(t)
    x = torch.from_numpy(np.asarray(Image.open(GOLDEN / "input.png"))).permute(2, 0, 1).float() / 255
    assert rec.shape == (1, 3, 56, 72) and float((rec[0] - x).pow(2).mean()) < 0.1


@pytest.mark.parametrize("threads", [1, 2])
def test_fsq_adaptive_golden(threads: int) -> None:
    codec = TokenImageCodec.from_file(GOLDEN / "golden-fsq.safetensors", name="golden-fsq")
    data = (GOLDEN / "fsq_q2_adaptive.ncd").read_bytes()
    ref = np.load(GOLDEN / "fsq_q2.tokens.npy")
    with _threads(threads):
        t = codec.decompress_tokens(data)
        assert np.array_equal(t.tokens, ref)
        assert codec.compress_tokens(TokenImage(ref, 2, 56, 72), "adaptive") == data
