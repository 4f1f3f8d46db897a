"""Encoder-side latent refinement (``--refine``): a real RD gain with the shipped model, same decoder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import skimage_photos as _photos
from ncodec.cli import main
from ncodec.codecs.image.train import CropPool
from ncodec.codecs.registry import load
from ncodec.errors import MediaError, NcodecError
from ncodec.rd.codecs import get_codec


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return load("image-hyperprior-v5")


def _crop(size: int = 128, seed: int = 1) -> torch.Tensor:
    return CropPool(_photos()[:2], size, scales=(1,)).batch(1, torch.Generator().manual_seed(seed))


def _rd_loss(codec, x: torch.Tensor, data: bytes, q: int) -> tuple[float, float, float]:
    rec = (codec.decompress(data) * 255).round() / 255
    mse = float(((rec - x) ** 2).mean())
    bpp = 8 * len(data) / (x.shape[2] * x.shape[3])
    return bpp + codec.model.lam(q) * 255**2 * mse, bpp, -10 * math.log10(mse)


@pytest.mark.parametrize("q", [0, 4])
def test_refinement_lowers_the_real_rd_cost(shipped, q: int) -> None:
    x = _crop(256, seed=q)[:, :, :250, :190]  # padded inside: distortion counts on the real pixels only
    plain = shipped.compress(x, q)
    refined = shipped.compress(x, q, refine=20)
    assert shipped.compress(x, q, refine=0) == plain
    base, ref = _rd_loss(shipped, x, plain, q), _rd_loss(shipped, x, refined, q)
    # measured on the decoded file (real bits, real 8-bit reconstruction), not on the proxy
    # (v5, 20 steps: 0.42 % lower at q0, 0.97 % at q4; a no-op or harmful refinement fails)
    assert ref[0] < base[0] * 0.997, (base, ref)
    # the decoder is unchanged: the file's tokens code back to the same bytes
    assert shipped.compress_tokens(shipped.decompress_tokens(refined)) == refined


def test_refinement_input_checks(shipped, monkeypatch) -> None:
    x = _crop(64)
    with pytest.raises(ValueError, match="refine"):
        shipped.encode(x, 0, refine=-1)
    monkeypatch.setattr(shipped, "tile_above", 32 * 32)
    with pytest.raises(MediaError, match="without --refine"):
        shipped.encode(x, 0, refine=2)


def test_rd_codec_name_with_refinement(shipped) -> None:
    adapter = get_codec("image-hyperprior-v5@refine=2")
    assert adapter.name == "image-hyperprior-v5@refine=2" and "refine=2" in adapter.config
    with pytest.raises(NcodecError, match="positive"):
        get_codec("image-hyperprior-v5@refine=x")
    with pytest.raises(NcodecError, match="hyperprior"):
        get_codec("image-fsq-v0@refine=2")


def test_cli_refine(tmp_path: Path, capsys) -> None:
    img = tmp_path / "in.png"
    Image.fromarray((_crop(64)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(img)
    out = tmp_path / "out.ncd"
    assert main(["encode", str(img), str(out), "--quality", "1", "--refine", "3"]) == 0
    assert main(["decode", str(out), str(tmp_path / "rec.png")]) == 0
    assert Image.open(tmp_path / "rec.png").size == (64, 64)
    bad = tmp_path / "bad.ncd"
    assert main(["encode", str(img), str(bad), "--refine", "-1"]) != 0
    assert main(["encode", str(img), str(bad), "--model", "image-fsq-v0", "--refine", "2"]) != 0
    assert not bad.exists()
    assert "--refine" in capsys.readouterr().err
