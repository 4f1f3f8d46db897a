"""FSQ, RVQ and BSQ image codecs: tokens coded with static and adaptive integer priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ncodec
from conftest import skimage_photos as _photos
from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.image.tokens import TokenImageCodec
from ncodec.codecs.image.train import CropPool, TrainConfig, train
from ncodec.container import compress
from ncodec.entropy import UniformPrior
from ncodec.errors import FormatError, ShapeError


@pytest.fixture(scope="module", params=["fsq", "rvq", "bsq"])
def codec(request, tmp_path_factory) -> TokenImageCodec:
    model = ImageModelConfig(
        request.param, n=16, m=12, fsq_levels=7, rvq_stages=3, rvq_codebook=64, bsq_bits=24
    )
    cfg = TrainConfig(
        model=model,
        images=_photos(), out_dir=str(tmp_path_factory.mktemp("run")), steps=20, batch=4, crop=64, lr=2e-3,
        ckpt_every=1000, log_every=1000, eval_crops=0, threads=1,
    )  # fmt: skip
    c = TokenImageCodec(train(cfg, log=lambda *_: None), f"image-{request.param}-test")
    fit = CropPool(_photos()[1:], 128, scales=(2,)).batch(4, torch.Generator().manual_seed(1))
    c.fit_priors(list(fit))
    return c


def _crop() -> torch.Tensor:
    return CropPool(_photos()[:1], 128, scales=(2,)).batch(1, torch.Generator().manual_seed(5))[
        0, :, :90, :110
    ]


def test_static_and_adaptive_files_decode_exactly(codec: TokenImageCodec) -> None:
    x = _crop()
    q = codec.qualities - 1
    ref = codec.decode(codec.encode(x, q))
    sizes = {}
    for kind in ("static", "adaptive"):
        data = codec.compress(x, q, prior=kind)
        assert torch.equal(codec.decompress(data), ref)
        sizes[kind] = len(data)
    tokens = codec.encode(x, q).tokens
    uniform = compress(tokens, UniformPrior(codec.alphabet(q)), codec=codec.name, weights_hash=codec.digest)
    assert sizes["static"] < len(uniform)  # the fitted tables beat fixed-length codes
    assert ref.shape == (1, 3, 90, 110)


def test_weights_file_round_trip_and_wrong_weights(codec: TokenImageCodec, tmp_path: Path) -> None:
    path = tmp_path / f"{codec.name}.safetensors"
    codec.save(path)
    loaded = ncodec.load(str(path))
    assert isinstance(loaded, TokenImageCodec)
    x = _crop()
    data = codec.compress(x, 0)
    assert loaded.compress(x, 0) == data
    assert torch.equal(loaded.decompress(data), codec.decompress(data))
    # priors refit on other images: the file's hash covers the tables, so it is refused, not misdecoded
    loaded.fit_priors([x])
    assert loaded.digest != codec.digest
    with pytest.raises(FormatError, match="weights hash"):
        loaded.decompress(data)
    other = ncodec.load(str(path))
    with torch.no_grad():
        next(other.model.g_a.parameters()).add_(1e-3)
    other._weights_digest = b"\x01" * 32  # (what a changed file's digest is; see weights_digest)
    with pytest.raises(FormatError, match="weights hash"):
        other.decompress(data)


def test_quality_ladder_rates(codec: TokenImageCodec) -> None:
    x = _crop()
    sizes = [len(codec.compress(x, q, prior="static")) for q in range(codec.qualities)]
    counts = [codec.encode(x, q).tokens.size for q in range(codec.qualities)]
    if codec.model.quantizer_name != "FSQ":  # RVQ/BSQ: each quality adds a token stream, and bytes
        assert np.all(np.diff(counts) > 0) and np.all(np.diff(sizes) > 0)
    else:  # FSQ: the same token grid at every quality; the gain sets how many levels are used
        assert len(set(counts)) == 1


def test_cli_encode_decode_with_prior_choice(codec: TokenImageCodec, tmp_path: Path) -> None:
    from PIL import Image

    from ncodec.cli import main

    weights = tmp_path / f"{codec.name}.safetensors"
    codec.save(weights)
    src = tmp_path / "in.png"
    Image.fromarray((_crop() * 255).round().byte().permute(1, 2, 0).numpy()).save(src)
    m = ["--model", str(weights)]
    for kind in ("static", "adaptive"):
        out = tmp_path / f"{kind}.ncd"
        assert main(["encode", str(src), str(out), *m, "--prior", kind, "--quality", "0"]) == 0
        assert main(["decode", str(out), str(tmp_path / f"{kind}.png"), *m]) == 0
    a, b = (np.asarray(Image.open(tmp_path / f"{k}.png")) for k in ("static", "adaptive"))
    assert np.array_equal(a, b) and a.shape == (90, 110, 3)


def test_tokens_decode_to_the_training_forward(codec: TokenImageCodec) -> None:
    """What the tokens decode to is what the model was trained (and evaluated) to reconstruct."""
    m = codec.model.eval()
    x = _crop()[None, :, :64, :64]
    with torch.no_grad():
        for q in range(codec.qualities):
            tok = m.to_tokens(m.g_a(x), q)
            assert tuple(tok.shape[:2]) == (1, len(m.token_alphabet(q)))
            assert torch.allclose(m.g_s(m.from_tokens(tok, q)), m(x, q)["x_hat"], atol=1e-5)
            with pytest.raises(ShapeError):
                m.from_tokens(tok[:, :-1] if tok.shape[1] > 1 else tok[:, :0], q)
