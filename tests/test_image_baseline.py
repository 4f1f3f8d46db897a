"""The compressai bmshj2018-hyperprior baseline (a ladder of single-rate models), the checkpoint exporter
for every bottleneck, and ``ncodec bench rd --codec FOLDER``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import skimage_photos as _photos
from ncodec.codecs.image.baseline import CompressaiLadder, load_baseline
from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.image.train import TrainConfig, train
from ncodec.errors import FormatError, NcodecError

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    """``main`` of ``scripts/NAME.py``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def _export():
    return _script("export_image_model")


def _checkpoint(tmp: Path, bottleneck: str, **model) -> Path:
    cfg = TrainConfig(
        model=ImageModelConfig(bottleneck=bottleneck, **model), images=_photos(), out_dir=str(tmp),
        steps=3, batch=2, crop=64, lr=1e-3, ckpt_every=3, log_every=10, eval_crops=0, threads=1,
    )  # fmt: skip
    train(cfg, log=lambda *_: None)
    return tmp / "last.pt"


@pytest.fixture(scope="module")
def ladder_dir(tmp_path_factory) -> Path:
    """Two single-rate baseline models (different lambdas), trained a few steps on real photos, exported."""
    out = tmp_path_factory.mktemp("ladder")
    for lam in (0.0067, 0.0018):
        ckpt = _checkpoint(out / f"run-{lam}", "bmshj2018-hyperprior", n=16, m=24, lambdas=(lam,))
        assert _export()([str(ckpt), str(out / f"base-{lam}.safetensors")]) == 0
    return out


def _image() -> torch.Tensor:
    from PIL import Image

    from ncodec.io import sample_photo

    img = np.array(Image.open(sample_photo()).convert("RGB"))[:100, :150]  # not a multiple of 64
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255


def test_ladder_round_trips_and_orders_by_lambda(ladder_dir: Path) -> None:
    ladder = CompressaiLadder.from_folder(ladder_dir)
    assert ladder.qualities == 2
    assert [m.lam(0) for m in ladder.models] == [0.0018, 0.0067]
    x = _image()
    for q in range(2):
        data = ladder.compress(x, q)
        y = ladder.decompress(data)
        assert y.shape == x.shape
        # the decoded image is what compressai's own forward pass reconstructs (no noise in eval mode)
        with torch.no_grad():
            pad = torch.nn.functional.pad(x, (0, 42, 0, 28), mode="replicate")
            ref = ladder.models[q].net(pad)["x_hat"][..., :100, :150].clamp(0, 1)
        assert (y - ref).abs().max() < 1e-4


def test_ladder_rejects_bad_files(ladder_dir: Path, tmp_path: Path) -> None:
    ladder = CompressaiLadder.from_folder(ladder_dir)
    data = ladder.compress(_image(), 0)
    for bad in (data[:5], data[:-1], b"XXXX" + data[4:], data[:4] + b"\x07" + data[5:]):
        with pytest.raises(FormatError):
            ladder.decompress(bad)
    with pytest.raises(NcodecError, match="no .safetensors"):
        CompressaiLadder.from_folder(tmp_path)


def test_export_every_bottleneck(tmp_path: Path) -> None:
    from ncodec.codecs.registry import load, model_card

    small = {"n": 16, "m": 12, "nh": 16, "fsq_levels": 5, "rvq_stages": 3, "rvq_codebook": 64, "bsq_bits": 24}
    variants = {"hyperprior": {}, "checkerboard": {"context": "checkerboard", "ste_decoder": True}}
    variants |= {b: {} for b in ("fsq", "rvq", "bsq")}
    for variant, extra in variants.items():
        bottleneck = "hyperprior" if variant == "checkerboard" else variant
        ckpt = _checkpoint(tmp_path / variant, bottleneck, **small, **extra)
        out = tmp_path / f"{variant}.safetensors"
        card = {"summary": "test"}
        assert _export()([str(ckpt), str(out), "--card", json.dumps(card), "--prior-crops", "2"]) == 0
        meta = model_card(out)
        assert meta["card"]["summary"] == "test" and meta["card"]["training_steps"] == 3
        codec = load(str(out))
        x = _image()
        assert codec.decompress(codec.compress(x, 1)).shape == x.shape
        if variant == "checkerboard":
            assert codec.context and codec.model.cfg.ste_decoder
    # the card can be rewritten later (new RD results) without touching the weights
    fsq = tmp_path / "fsq.safetensors"
    digest = load(str(fsq)).digest
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"limitations": "tiny"}))
    assert _script("update_model_card")([str(fsq), "--card-file", str(extra)]) == 0
    card = model_card(fsq)["card"]
    assert card["limitations"] == "tiny" and card["summary"] == "test"
    assert load(str(fsq)).digest == digest
    # a hyperprior file is not a baseline
    with pytest.raises(NcodecError, match="not bmshj2018"):
        load_baseline(tmp_path / "hyperprior.safetensors")


def test_bench_rd_runs_a_baseline_folder(ladder_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    from ncodec.cli import main
    from ncodec.io import sample_photo

    img = tmp_path / "in" / "photo.png"
    img.parent.mkdir()
    Image.open(sample_photo()).convert("RGB").crop((0, 0, 128, 128)).save(img)
    out = tmp_path / "rd"
    rc = main(["bench", "rd", str(img.parent), "--codec", f"jpeg,{ladder_dir}", "--anchor", "jpeg",
               "--out", str(out), "--no-plot", "--no-progress", "--points", "jpeg=20,50,80"])  # fmt: skip
    assert rc == 0
    doc = json.loads((out / "rd.json").read_text())
    curve = doc["curves"][ladder_dir.name]
    assert len(curve) == 2 and all(p["bpp"] > 0 for p in curve)


def test_timing_benchmark_script_writes_json(ladder_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """scripts/bench_image_codec.py runs end to end (on the bundled photo when no data is fetched)."""
    monkeypatch.setenv("NCODEC_DATA", str(tmp_path / "no-data"))
    out = tmp_path / "bench.json"
    golden = ROOT / "tests" / "golden" / "image" / "golden-hyperprior.safetensors"
    args = ["--model", str(golden), "--baseline", str(ladder_dir), "--repeat", "1", "--threads", "1"]
    large = ["--large", "200x136"]  # each large encode and decode runs in a fresh process
    assert _script("bench_image_codec")([*args, "--refine", "2", *large, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["images"].startswith("bundled sample photo")
    names = [r["codec"] for r in doc["results"]]
    assert names[0].startswith("golden-hyperprior") and names[1].startswith("golden-hyperprior@refine=2")
    assert "compressai" in names[2]
    assert all(r["encode_s"] > 0 and r["decode_s"] > 0 and r["bpp"] > 0 for r in doc["results"])
    big = doc["large"]
    assert [r["codec"][:9] for r in big] == ["golden-hy", "compressa"]
    assert all(r["size"] == "200x136" for r in big)
    assert all(r["encode_peak_mb"] >= r["base_mb"] > 0 and r["bpp"] > 0 and r["psnr"] > 0 for r in big)
