"""Weights files with a bad or mismatched configuration or tensors: one NcodecError naming what is
wrong, from ``ncodec.load`` and from the command line (exit 2, no traceback), never a TypeError,
RuntimeError or IndexError from inside the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import ncodec
from ncodec.cli import main
from ncodec.codecs.registry import available_models
from ncodec.codecs.weights import load_tensors, raw_metadata, write_weights
from ncodec.errors import NcodecError

GOLDEN = Path(__file__).resolve().parent / "golden" / "image"


def _variant(tmp_path: Path, base: str, config=None, tensors=None) -> Path:
    src = GOLDEN / f"{base}.safetensors"
    if not src.is_file():  # a shipped model (the golden ones store no entropy tables)
        src = available_models()[base]
    meta, state = raw_metadata(src), load_tensors(src)
    if config is not None:
        cfg = json.loads(meta["config"])
        meta["config"] = json.dumps(config(cfg))
    if tensors is not None:
        tensors(state)
    out = tmp_path / f"{base}-bad.safetensors"
    write_weights(out, state, meta)
    return out


def _set(key, value):
    def change(cfg):
        cfg[key] = value
        return cfg

    return change


def _tensor(name, fn):
    def change(state):
        state[name] = fn(state[name])

    return change


def _drop(name):
    return lambda state: state.pop(name)


HYPER = [
    ("unknown config key", _set("layers", 3), None, "unknown configuration keys \\['layers'\\]"),
    ("a list where the config belongs", lambda cfg: [cfg], None, "must be a JSON object"),
    ("negative size", _set("m", -24), None, "m=-24 must be positive"),
    ("a string for a size", _set("n", "16"), None, "is not a int"),
    ("empty lambda list", _set("lambdas", []), None, "lambdas=\\[\\] must be positive"),
    ("unknown bottleneck", _set("bottleneck", "vae"), None, "no inference codec for bottleneck 'vae'"),
    ("a tensor of another shape", None, _tensor("g_a.0.weight", lambda t: t[:, :, :3, :3].clone()),
     "g_a.0.weight is torch.float32"),
    ("a tensor of another dtype", None, _tensor("g_s.0.bias", lambda t: t.double()), "g_s.0.bias is torch.f"),
    ("a missing tensor", None, _drop("h_s.0.weight"), "missing from the weights file"),
    ("an extra tensor", None, lambda s: s.update(extra=torch.zeros(2)), "'extra' is not part"),
]  # fmt: skip
TABLES = [
    ("short CDF tables", None,
     _tensor("codec.gaussian_conditional._quantized_cdf", lambda t: t[:, :2].clone()), "entropy tables"),
    ("wrong gain shape", None, _tensor("codec.gain_table", lambda t: t[:, :3].clone()), "gain table"),
    ("incomplete entropy tables", None, _drop("codec.entropy_bottleneck._offset"), "incomplete entropy"),
]  # fmt: skip
FSQ = [
    ("incomplete prior tables", None, _drop("prior.q0.s0"), "prior tables of quality 0 are incomplete"),
    ("prior table of another length", None, _tensor("prior.q1.s0", lambda t: t[:3].clone()), ""),
    ("fsq levels of another type", _set("fsq_levels", 7.5), None, "fsq_levels=7.5 is not a int"),
]


@pytest.mark.parametrize(
    "base,what,config,tensors,message",
    [("golden-hyperprior", *c) for c in HYPER]
    + [("image-hyperprior-v5", *c) for c in TABLES]
    + [("golden-fsq", *c) for c in FSQ],
    ids=[c[0] for c in HYPER + TABLES + FSQ],
)
def test_bad_weights_are_refused_clearly(tmp_path, capsys, base, what, config, tensors, message) -> None:
    path = _variant(tmp_path, base, config, tensors)
    with pytest.raises(NcodecError, match=message):
        ncodec.load(str(path))
    photo = tmp_path / "in.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (120, 80, 40)).save(photo)
    out = tmp_path / "out.ncd"
    assert main(["encode", str(photo), str(out), "--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err and not out.exists()


TEMPORAL = [
    ("another base digest", _set("base_digest", "00" * 32), None, "not the base it was fitted on"),
    ("an unknown base", _set("base", "video-p-v0"), None, "unknown model"),
    ("other bucket edges", _set("temporal", {"bucket_edges": [1, 2]}), None, "another layout"),
    ("a map outside the tables", None, _tensor("temporal.map", lambda t: t + 64), "outside 0..63"),
    ("a map of another shape", None, _tensor("temporal.map", lambda t: t[:1].clone()), "of shape"),
    ("an extra tensor", None, lambda s: s.update(extra=torch.zeros(2)), "only the tensor"),
]  # fmt: skip


@pytest.mark.parametrize("what,config,tensors,message", TEMPORAL, ids=[c[0] for c in TEMPORAL])
def test_bad_temporal_context_files_are_refused(tmp_path, what, config, tensors, message) -> None:
    """A video model with a temporal context names its base model and digest and holds only the map."""
    with pytest.raises(NcodecError, match=message):
        ncodec.load(str(_variant(tmp_path, "video-p-v2", config, tensors)))
