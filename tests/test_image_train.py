"""Image model training: every bottleneck trains on real photos; a resumed run equals an uninterrupted one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from conftest import skimage_photos as _photos
from ncodec.codecs.image.models import ImageModelConfig, build_model, rd_loss
from ncodec.codecs.image.train import TrainConfig, export_weights, train


def _cfg(tmp: Path, bottleneck: str, steps: int) -> TrainConfig:
    return TrainConfig(
        model=ImageModelConfig(bottleneck=bottleneck, n=16, m=16, nh=16, rvq_stages=3, rvq_codebook=32),
        images=_photos(), out_dir=str(tmp), steps=steps, batch=2, crop=64, lr=1e-3, ckpt_every=2,
        log_every=1, threads=1,
    )  # fmt: skip


def test_resume_reproduces_uninterrupted_run(tmp_path: Path) -> None:
    full = train(_cfg(tmp_path / "a", "hyperprior", 4), log=lambda *_: None)
    train(_cfg(tmp_path / "b", "hyperprior", 2), log=lambda *_: None)
    resumed = train(_cfg(tmp_path / "b", "hyperprior", 4), log=lambda *_: None)
    # same crops, qualities and noise after the restart: the logged losses agree (to float rounding:
    # a restored optimiser may differ from the live one in the last bit), and so do the weights
    logs = [
        [json.loads(line) for line in (tmp_path / d / "log.jsonl").read_text().splitlines()] for d in "ab"
    ]
    evals = [[r for r in log if "eval" in r] for log in logs]
    logs = [[r for r in log if "eval" not in r] for log in logs]
    assert [r["step"] for r in logs[1]] == [1, 2, 3, 4]
    assert [r["step"] for r in evals[1]] == [2, 4]
    assert set(evals[1][0]["eval"]) == {str(q) for q in range(6)}
    assert math.isclose(evals[0][1]["eval"]["3"]["loss"], evals[1][1]["eval"]["3"]["loss"], rel_tol=1e-4)
    for ra, rb in zip(*logs, strict=True):
        assert ra["q"] == rb["q"] and math.isclose(ra["loss"], rb["loss"], rel_tol=1e-5)
    for (k, v1), v2 in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(v1, v2, rtol=1e-5, atol=1e-7), k


@pytest.mark.parametrize("bottleneck", ["hyperprior", "fsq", "rvq", "bsq", "bmshj2018-hyperprior"])
def test_training_lowers_rd_loss_on_real_photos(tmp_path: Path, bottleneck: str) -> None:
    torch.manual_seed(0)
    cfg = _cfg(tmp_path, bottleneck, 30)
    from ncodec.codecs.image.train import CropPool

    x = CropPool(_photos(), 64).batch(4, torch.Generator().manual_seed(1))
    model = build_model(cfg.model).eval()
    with torch.no_grad():
        before = rd_loss(model, x, 0)[0]
    model = train(cfg, log=lambda *_: None).eval()
    with torch.no_grad():
        after = rd_loss(model, x, 0)[0]
    assert float(after) < 0.7 * float(before), (float(before), float(after))
    out = tmp_path / "w.safetensors"
    export_weights(model, out)
    with safe_open(str(out), "pt") as f:
        assert json.loads(f.metadata()["config"])["bottleneck"] == bottleneck
