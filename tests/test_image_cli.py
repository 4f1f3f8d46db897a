"""``ncodec encode`` / ``decode`` / ``models`` on real photos: round trips, the input policy, clean errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ncodec.cli import main
from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.image.train import TrainConfig, train
from ncodec.io import sample_photo


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    skimage = pytest.importorskip("skimage")
    root = Path(skimage.__file__).parent / "data"
    run = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(
        model=ImageModelConfig(bottleneck="hyperprior", n=16, m=24, nh=16),
        images=[str(root / "astronaut.png"), str(root / "coffee.png")], out_dir=str(run), steps=30, batch=4,
        crop=64, lr=3e-3, ckpt_every=1000, log_every=1000, threads=1,
    )  # fmt: skip
    path = run / "image-tiny.safetensors"
    ImageCodec(train(cfg, log=lambda *_: None), "image-tiny").save(path, card={"summary": "test model"})
    return path


def _photo(tmp: Path, mode: str = "RGB", name: str = "in.png", size=(90, 61)) -> Path:
    im = Image.open(sample_photo()).convert("RGB").crop((100, 50, 100 + size[0], 50 + size[1]))
    p = tmp / name
    if mode == "RGBA-opaque":
        im.putalpha(255)
    elif mode == "RGBA-transparent":
        im.putalpha(128)
    elif mode != "RGB":
        im = im.convert(mode)
    im.save(p)
    return p


def test_encode_decode_round_trip(tmp_path: Path, weights: Path, capsys) -> None:
    src = _photo(tmp_path)
    ncd, out = tmp_path / "a.ncd", tmp_path / "a.png"
    assert main(["encode", str(src), str(ncd), "--model", str(weights), "--quality", "3"]) == 0
    assert "bpp" in capsys.readouterr().out
    assert main(["decode", str(ncd), str(out), "--model", str(weights)]) == 0
    rec = np.asarray(Image.open(out))
    assert rec.shape == (61, 90, 3)
    # the decoded file is exactly what the Python API gives
    codec = ImageCodec.from_file(weights)
    x = torch.from_numpy(np.asarray(Image.open(src))).permute(2, 0, 1).float() / 255
    api = (codec.decompress(codec.compress(x, 3))[0] * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(rec, api)
    assert main(["info", str(ncd)]) == 0


@pytest.mark.parametrize(("mode", "channels_out"), [("L", "L"), ("RGBA-opaque", "RGBA")])
def test_grey_and_opaque_alpha_are_kept(tmp_path: Path, weights: Path, mode: str, channels_out: str) -> None:
    src = _photo(tmp_path, mode)
    ncd, out = tmp_path / "a.ncd", tmp_path / "a.png"
    assert main(["encode", str(src), str(ncd), "--model", str(weights)]) == 0
    assert main(["decode", str(ncd), str(out), "--model", str(weights)]) == 0
    dec = Image.open(out)
    assert dec.mode == channels_out and dec.size == (90, 61)
    if channels_out == "RGBA":
        assert (np.asarray(dec)[..., 3] == 255).all()


def _fails(args: list[str], capsys, text: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err


def test_bad_inputs_fail_cleanly_without_output(tmp_path: Path, weights: Path, capsys) -> None:
    m = ["--model", str(weights)]
    out = tmp_path / "o.ncd"
    _fails(["encode", str(_photo(tmp_path, "RGBA-transparent")), str(out), *m], capsys, "transparent")
    sixteen = tmp_path / "16.png"
    Image.fromarray(np.full((20, 20), 40000, dtype=np.uint16)).save(sixteen)
    _fails(["encode", str(sixteen), str(out), *m], capsys, "not supported")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    _fails(["encode", str(junk), str(out), *m], capsys, "cannot read image")
    good = _photo(tmp_path)
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(good.read_bytes()[:300])
    _fails(["encode", str(truncated), str(out), *m], capsys, "cannot read image")
    _fails(["encode", str(tmp_path / "missing.png"), str(out), *m], capsys, "no such file")
    _fails(["encode", str(good), str(out), "--model", "image-nope"], capsys, "unknown model")
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_overwrite_without_force_and_corrupt_ncd(tmp_path: Path, weights: Path, capsys) -> None:
    m = ["--model", str(weights)]
    src, ncd, png = _photo(tmp_path), tmp_path / "a.ncd", tmp_path / "a.png"
    png.write_bytes(b"keep me")
    assert main(["encode", str(src), str(ncd), *m]) == 0
    _fails(["encode", str(src), str(ncd), *m], capsys, "exists")
    _fails(["decode", str(ncd), str(png), *m], capsys, "exists")
    assert png.read_bytes() == b"keep me"
    data = ncd.read_bytes()
    bad = tmp_path / "bad.ncd"
    bad.write_bytes(data[: len(data) // 2])
    out = tmp_path / "b.png"
    _fails(["decode", str(bad), str(out), *m], capsys, "truncated")
    assert not out.exists()
    assert main(["decode", str(ncd), str(png), "--force", *m]) == 0
    assert Image.open(png).size == (90, 61)


def test_models_lists_shipped_models(capsys) -> None:
    assert main(["models"]) == 0
    assert capsys.readouterr().out.strip()


def test_bench_rd_runs_an_ncodec_model_next_to_jpeg(tmp_path: Path, weights: Path, capsys) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    _photo(photos, name="a.png", size=(128, 96))
    _photo(photos, name="b.png", size=(96, 128))
    out = tmp_path / "rd"
    codecs = f"jpeg,{weights},{weights}@refine=3"
    args = ["bench", "rd", str(photos), "--codec", codecs, "--anchor", "jpeg", "--out", str(out)]
    assert main([*args, "--points", "jpeg=20,50,80,95", "--no-progress"]) == 0
    import json

    doc = json.loads(next(out.glob("*.json")).read_text())
    curve = doc["curves"]["image-tiny"]
    assert [p["point"] for p in curve] == list(range(6))
    assert all(p["bpp"] > 0 and p["n"] == 2 and 5 < p["psnr"] < 60 for p in curve)
    assert doc["codecs"]["image-tiny"]["config"].startswith("ncodec:image-tiny:")
    # the same model with encoder-side refinement is its own curve (and its own cache key)
    refined = doc["curves"]["image-tiny@refine=3"]
    assert [p["point"] for p in refined] == list(range(6)) and all(p["bpp"] > 0 for p in refined)
    assert doc["codecs"]["image-tiny@refine=3"]["config"].startswith("ncodec:image-tiny@refine=3:")
    assert list(out.glob("*.png"))


def test_demo_codes_the_bundled_photo(tmp_path: Path, weights: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(weights), "--out", str(out), "--quality", "2"]) == 0
    text = capsys.readouterr().out
    assert "bpp" in text and "PSNR" in text
    ncd, png = out / "sample.ncd", out / "sample.decoded.png"
    assert Image.open(png).size == Image.open(sample_photo()).size
    assert main(["info", str(ncd)]) == 0
    _fails(["demo", "--model", str(weights), "--out", str(out)], capsys, "exists")


def test_decode_refuses_a_batch_file(tmp_path: Path, weights: Path, capsys) -> None:
    """A file holding a batch (``codec.compress`` of several images) is not cut to its first image."""
    codec = ImageCodec.from_file(weights, name="image-tiny")
    x = torch.rand(2, 3, 32, 40)
    ncd = tmp_path / "batch.ncd"
    ncd.write_bytes(codec.compress(x, 1))
    out = tmp_path / "out.png"
    _fails(["decode", str(ncd), str(out), "--model", str(weights)], capsys, "batch of 2 images")
    assert not out.exists()
