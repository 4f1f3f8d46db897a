"""A quality ladder over several image models (:mod:`ncodec.codecs.image.ladder`): one quality scale, each
rung's bitstream exactly its part model's, the ladder's identity in the header, weights files checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.ladder import LadderCodec
from ncodec.codecs.image.models import ImageModelConfig, build_model
from ncodec.codecs.weights import read_metadata, write_weights
from ncodec.container import parse
from ncodec.errors import FormatError, NcodecError

GOLDEN = Path(__file__).resolve().parent / "golden" / "image"


@pytest.fixture(scope="module")
def parts() -> tuple[ImageCodec, ImageCodec]:
    low = ImageCodec.from_file(GOLDEN / "golden-hyperprior.safetensors", "golden-hyperprior")
    torch.manual_seed(0)
    cfg = ImageModelConfig(transform="dct8", m=192, nh=16, context="checkerboard", lambdas=(0.05, 0.1, 0.2))
    high = ImageCodec(build_model(cfg), "dct-test")
    return low, high


@pytest.fixture(scope="module")
def ladder(parts) -> LadderCodec:
    return LadderCodec(list(parts), [(0, 0), (0, 3), (1, 0), (1, 2)], "image-ladder-test")


def _x() -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(GOLDEN / "input.png"))).permute(2, 0, 1).float() / 255


def test_each_rung_is_its_part_models_bitstream(ladder: LadderCodec, parts) -> None:
    x = _x()
    assert ladder.qualities == 4
    for fq, (i, q) in enumerate(ladder.rungs):
        part = parts[i]
        data = ladder.compress(x, fq)
        own = part.compress(x, q)
        h = parse(data, strict=True).header
        assert h.codec == "image-ladder-test" and h.weights_hash == ladder.digest
        assert dict(h.extra)["quality"] == str(fq)
        # the same sections, byte for byte: only the header's identity differs
        payloads = [[c.payload for c in parse(d, strict=True).chunks] for d in (data, own)]
        assert payloads[0] == payloads[1]
        assert torch.equal(ladder.decompress(data), part.decompress(own))
        t = ladder.encode(x, fq)
        assert t.quality == fq and ladder.compress_tokens(t) == data
        back = ladder.decompress_tokens(data)
        assert back.quality == fq and np.array_equal(back.y, t.y) and np.array_equal(back.z, t.z)
        assert torch.equal(ladder.decode(t), ladder.decompress(data))
        assert ladder.read_header(data) == (fq, x.shape[1], x.shape[2])
    assert parts[0].name == "golden-hyperprior" and parts[0].rungs is None  # the parts are untouched


def test_files_of_the_parts_and_of_other_ladders_are_refused(ladder: LadderCodec, parts) -> None:
    x = _x()
    data = ladder.compress(x, 2)
    with pytest.raises(FormatError, match="unknown codec"):
        parts[1].decompress(data)
    with pytest.raises(FormatError, match="unknown codec"):
        ladder.decompress(parts[1].compress(x, 0))
    other = LadderCodec(list(parts), [(0, 0), (0, 3), (1, 1), (1, 2)], "image-ladder-test")
    assert other.digest != ladder.digest
    with pytest.raises(FormatError, match="other weights"):
        other.decompress(data)
    with pytest.raises(FormatError):
        ladder.decompress(data[:-5])
    with pytest.raises(ValueError, match="quality"):
        ladder.compress(x, 4)


def test_bad_rungs_are_refused(parts) -> None:
    for rungs in ([], [(0, 0), (0, 0)], [(2, 0)], [(1, 3)], [(0, -1)]):
        with pytest.raises(NcodecError):
            LadderCodec(list(parts), rungs, "bad")
    for default in (2, -1, 0.5, True):
        with pytest.raises(NcodecError, match="default quality"):
            LadderCodec(list(parts), [(0, 0), (0, 1)], "bad", default_quality=default)
    assert LadderCodec(list(parts), [(0, 0), (0, 1)], "l").default_quality == 1  # the top without one
    view = LadderCodec(list(parts), [(0, 1)], "l").views[0]
    with pytest.raises(NcodecError, match="of their own"):
        LadderCodec([view], [(0, 0)], "bad")


def test_weights_file_round_trip_and_refusals(tmp_path) -> None:
    from ncodec.codecs.registry import load

    v5 = load("image-hyperprior-v5")
    lad = LadderCodec([v5], [(0, 1), (0, 4), (0, 5)], "ladder-x", default_quality=1)
    path = tmp_path / "ladder-x.safetensors"
    lad.save(path, card={"summary": "test"})
    back = load(str(path))
    assert isinstance(back, LadderCodec) and back.digest == lad.digest and back.rungs == lad.rungs
    assert back.default_quality == 1
    x = _x()
    assert torch.equal(back.decompress(lad.compress(x, 1)), v5.decompress(v5.compress(x, 4)))
    config = read_metadata(path)["config"]

    def write(name: str, cfg: dict, tensors: dict | None = None) -> Path:
        p = tmp_path / f"{name}.safetensors"
        rungs = torch.tensor(cfg.get("rungs") or [[0, 0]], dtype=torch.int32)
        write_weights(p, {"ladder.rungs": rungs} if tensors is None else tensors, {"config": json.dumps(cfg)})
        return p

    i32 = torch.int32
    v5_other = [{"model": "image-hyperprior-v5", "digest": "00" * 32}]
    cases = {
        "digest": ({**config, "parts": v5_other}, None, "is not"),
        "token": ({**config, "parts": [{"model": "image-fsq-v0", "digest": "00"}]}, None, "not a hyperprior"),
        "unknown": ({**config, "parts": [{"model": "image-nope", "digest": "00"}]}, None, "image-nope"),
        "noparts": ({**config, "parts": []}, None, "parts"),
        "rungtype": ({**config, "rungs": [[0, 1.5]]}, None, "integers"),
        "range": ({**config, "rungs": [[0, 9]]}, None, "bad ladder rung"),
        "default": ({**config, "default_quality": 3}, None, "default quality"),
        "tensor": (config, {"ladder.rungs": torch.tensor([[0, 2], [0, 4]], dtype=i32)}, "does not match"),
        "extra": (config, {"ladder.rungs": torch.tensor(lad.rungs, dtype=i32), "x": torch.zeros(1)}, "only"),
    }  # fmt: skip
    for name, (cfg, tensors, msg) in cases.items():
        with pytest.raises(NcodecError, match=msg):
            LadderCodec.from_file(write(name, cfg, tensors))
