"""Image codec inference: tokens, .ncd bytes, exact decoding, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import skimage_photos as _photos
from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.image.train import CropPool, TrainConfig, train
from ncodec.errors import FormatError, ShapeError

#: The models under test: a plain hyperprior, one with the checkerboard context, and the colour-DCT
#: model of the high qualities (stride 8, 192 latent channels, checkerboard context).
MODELS = {
    "none": {"context": "none"},
    "checkerboard": {"context": "checkerboard", "ste_decoder": True},
    "dct": {"context": "checkerboard", "ste_decoder": True, "transform": "dct8", "m": 192},
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def codec(tmp_path_factory, request) -> ImageCodec:
    cfg = TrainConfig(
        model=ImageModelConfig(**{"n": 16, "m": 24, "nh": 16, **MODELS[request.param]}),
        images=_photos(), out_dir=str(tmp_path_factory.mktemp("run")), steps=40, batch=4, crop=64,
        lr=3e-3, ckpt_every=1000, log_every=1000, threads=1,
    )  # fmt: skip
    return ImageCodec(train(cfg, log=lambda *_: None), "image-test")


def _photo_crop(h: int = 70, w: int = 101) -> torch.Tensor:
    return CropPool(_photos()[:1], 128, scales=(2,)).batch(1, torch.Generator().manual_seed(0))[0, :, :h, :w]


def test_compress_decompress_equals_encode_decode(codec: ImageCodec) -> None:
    x = _photo_crop()
    for q in (0, codec.qualities - 1):
        data = codec.compress(x, q)
        assert data == codec.compress_tokens(codec.encode(x, q))  # compress reuses encode's tables
        rec = codec.decompress(data)
        assert rec.shape == (1, 3, 70, 101)
        assert torch.equal(rec, codec.decode(codec.encode(x, q)))
        assert float(rec.min()) >= 0 and float(rec.max()) <= 1
    small, large = (len(codec.compress(x, q)) for q in (0, codec.qualities - 1))
    assert small < large  # quality ladder: more bytes at higher quality


def test_tokens_identical_across_threads_and_batches(codec: ImageCodec) -> None:
    x = _photo_crop()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = codec.encode(x, 2)
        data = codec.compress(x, 2)
        rec_one = codec.decompress(data)
        torch.set_num_threads(max(2, threads))
        batch = codec.encode(torch.stack([x.flip(2), x, x.flip(1)]), 2)
        decoded = codec.decompress_tokens(data)
        rec = codec.decompress(data)
    finally:
        torch.set_num_threads(threads)
    assert np.array_equal(one.y[0], batch.y[1]) and np.array_equal(one.z[0], batch.z[1])
    # another thread count decodes the same tokens, and pixels within the measured drift (one level, rarely)
    assert np.array_equal(decoded.y, one.y) and np.array_equal(decoded.z, one.z)
    diff = ((rec - rec_one).abs() * 255).round()
    assert rec.shape == rec_one.shape == (1, *x.shape)
    assert float(diff.max()) <= 1 and float((diff > 0).float().mean()) <= 2e-3


def test_bad_files_and_inputs(codec: ImageCodec) -> None:
    data = codec.compress(_photo_crop(), 1)
    with pytest.raises(FormatError):
        codec.decompress(data[:-7])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(FormatError):
        codec.decompress(bytes(flipped))
    other = ImageCodec(codec.model, "image-other")
    with pytest.raises(FormatError, match="unknown codec"):
        other.decompress(data)
    with pytest.raises(ShapeError):
        codec.encode(torch.rand(4, 10, 10), 0)
    with pytest.raises(ValueError):
        codec.encode(torch.rand(3, 10, 10), codec.qualities)


def test_tiled_transforms_match_whole_image(codec: ImageCodec, monkeypatch) -> None:
    import ncodec.codecs.image.codec as image_mod

    x = CropPool(_photos()[:1], 256, scales=(1,)).batch(1, torch.Generator().manual_seed(3))[0, :, :200, :250]
    whole = codec.encode(x, 2)
    rec_whole = codec.decode(whole)
    codec_bytes = codec.compress(x, 2)
    monkeypatch.setattr(image_mod, "TILE_LATENTS", 3)  # 48-pixel tiles: many tiles, interior and borders
    monkeypatch.setattr(image_mod, "BAND_ROWS", 2)  # the tables in bands of 2 latent rows
    monkeypatch.setattr(image_mod, "BAND_MARGIN", 2)
    monkeypatch.setattr(codec, "tile_above", 0)
    tiles = codec.encode(x, 2)
    rec_tiles = codec.decode(tiles)
    assert codec.compress(x, 2) == codec_bytes and torch.equal(codec.decompress(codec_bytes), rec_tiles)
    # the margins cover the receptive fields: the same tokens and the same pixels (no seams)
    assert np.array_equal(tiles.y, whole.y) and np.array_equal(tiles.z, whole.z)
    assert float((rec_whole - rec_tiles).abs().max()) < 1e-5


def test_files_are_split_into_independent_chunks(codec: ImageCodec, monkeypatch) -> None:
    import ncodec.codecs.image.codec as image_mod
    from ncodec.container import parse

    monkeypatch.setattr(image_mod, "CHUNK_TOKENS", 200)
    x = _photo_crop(128, 120)
    data = codec.compress(x, 1)
    h = parse(data, strict=True).header
    assert len(h.sections) == codec.sections
    for sec in h.sections[1:]:  # y (or its two halves): bands of latent rows
        assert sec.n_chunks == -(-sec.shape[2] // image_mod._rows(np.empty(sec.shape))) > 1
    assert torch.equal(codec.decompress(data), codec.decode(codec.encode(x, 1)))


def test_checkerboard_context_codes_the_rest_from_the_anchors(codec: ImageCodec) -> None:
    from ncodec.codecs.image.codec import checkerboard_merge, checkerboard_split

    a = np.arange(2 * 3 * 4 * 6).reshape(2, 3, 4, 6)
    anchors, rest = checkerboard_split(a)
    assert anchors[0, 0].tolist() == [[0, 2, 4], [7, 9, 11], [12, 14, 16], [19, 21, 23]]
    assert np.array_equal(checkerboard_merge(anchors, rest), a)
    if not codec.context:
        pytest.skip("the model under test has no checkerboard context")
    x = _photo_crop(128, 128)
    t = codec.encode(x, 3)
    hyper = codec._hyper(t.z)
    hyper_idx, _ = codec._tables(hyper, 3)
    ctx_idx, _ = codec._tables(hyper, 3, y_tok=t.y)
    a_h, r_h = checkerboard_split(hyper_idx)
    a_c, r_c = checkerboard_split(ctx_idx)
    assert np.array_equal(a_h, a_c)  # anchors: the hyperprior's tables
    assert not np.array_equal(r_h, r_c)  # the rest: refined by the decoded anchors
    # a changed anchor changes the rest's tables: the decoder must have the anchors first
    t2 = t.y.copy()
    t2[0, :, 0, 0] += 3
    assert not np.array_equal(checkerboard_split(codec._tables(hyper, 3, y_tok=t2)[0])[1], r_c)


def test_context_model_initialised_from_a_plain_one_starts_as_it(codec: ImageCodec, tmp_path) -> None:
    from ncodec.codecs.image.models import build_model
    from ncodec.codecs.image.train import init_weights

    if codec.context:
        pytest.skip("the model under test already has a context")
    torch.save({"model": codec.model.state_dict()}, tmp_path / "last.pt")
    cb = build_model(ImageModelConfig(bottleneck="hyperprior", n=16, m=24, nh=16, context="checkerboard"))
    added = init_weights(cb, tmp_path / "last.pt", torch.device("cpu"))
    assert added and all(k.startswith(("ctx.", "ep.")) for k in added)
    x = _photo_crop(64, 64)[None]
    cb.eval()
    with torch.no_grad():
        a, b = codec.model(x, 2), cb(x, 2)
    assert all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-4) for k in a), {
        k: (a[k] - b[k]).abs().max() for k in a
    }
    with pytest.raises(ValueError, match="does not fit"):
        init_weights(build_model(ImageModelConfig(bottleneck="fsq", n=16, m=24)), tmp_path / "last.pt", "cpu")


def test_weights_files_carry_the_integer_tables(codec: ImageCodec, tmp_path, monkeypatch) -> None:
    """Loading uses the stored CDF tables (no float ``update()``), so files decode on any machine."""
    from compressai.entropy_models import EntropyBottleneck, GaussianConditional
    from safetensors.torch import load_file, save_file

    from ncodec.codecs.image.codec import TABLE_KEYS
    from ncodec.errors import NcodecError

    path = tmp_path / "m.safetensors"
    codec.save(path)
    x = _photo_crop()
    data = codec.compress(x, 1)

    def refuse(*_a, **_k):
        raise AssertionError("update() must not run when the tables are stored")

    with monkeypatch.context() as m:
        m.setattr(EntropyBottleneck, "update", refuse)
        m.setattr(GaussianConditional, "update", refuse)
        m.setattr(GaussianConditional, "update_scale_table", refuse)
        loaded = ImageCodec.from_file(path, "image-test")
    assert loaded.digest == codec.digest
    assert torch.equal(loaded.decompress(data), codec.decompress(data))
    state = load_file(str(path))
    # another machine's different table would be a different model: refused, never mis-decoded
    cdf = state["codec.gaussian_conditional._quantized_cdf"]
    cdf[5, 3] += 1
    save_file(state, str(tmp_path / "t.safetensors"), metadata=_metadata(path))
    with pytest.raises(FormatError, match="weights"):
        ImageCodec.from_file(tmp_path / "t.safetensors", "image-test").decompress(data)
    del state[f"codec.{TABLE_KEYS[0]}"]
    save_file(state, str(tmp_path / "u.safetensors"), metadata=_metadata(path))
    with pytest.raises(NcodecError, match="incomplete entropy tables"):
        ImageCodec.from_file(tmp_path / "u.safetensors", "image-test")


def _metadata(path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.metadata()


def test_refitting_the_hyper_prior_keeps_the_latent_and_shrinks_z(codec: ImageCodec) -> None:
    """The density refit moves only the hyper-latent's density: the same y tokens, the same pixels."""
    import copy

    from ncodec.codecs.image.train import refit_hyper_prior

    x = _photo_crop(128, 128)
    model = copy.deepcopy(codec.model)
    crops = CropPool(_photos(), 128, scales=(2,)).batch(8, torch.Generator().manual_seed(1))
    fit = refit_hyper_prior(model.train(), crops, steps=60)
    assert fit["z_bits_after"] < fit["z_bits_before"]
    refit = ImageCodec(model.eval(), "image-test-refit")
    a, b = codec.encode(x, 2), refit.encode(x, 2)
    assert np.array_equal(a.y, b.y)
    assert torch.equal(refit.decompress(refit.compress(x, 2)), codec.decode(a))
