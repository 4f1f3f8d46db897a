"""The medium-independent codec core: what an audio or video codec builds on works for other ranks
than images (1-D and 3-D integer nets, gain units and tiles), the registry dispatches on a config's
media, and the one atomic writer keeps file modes."""

from __future__ import annotations

import os
import stat

import pytest
import torch
from torch import nn

from ncodec.codecs import registry
from ncodec.codecs.integer_nets import IntegerConvNet
from ncodec.codecs.layers import GainUnits
from ncodec.codecs.tiling import rows_per_chunk, tiled
from ncodec.errors import MediaError, NcodecError, ShapeError
from ncodec.io import write_atomic


@pytest.mark.parametrize("dims", [1, 3])
def test_integer_net_is_exact_and_matches_float_in_other_ranks(dims: int) -> None:
    torch.manual_seed(dims)
    conv = {1: nn.Conv1d, 3: nn.Conv3d}[dims]
    deconv = {1: nn.ConvTranspose1d, 3: nn.ConvTranspose3d}[dims]
    net = nn.Sequential(conv(4, 6, 3, padding=1), nn.LeakyReLU(0.2), deconv(6, 3, 2, stride=2), nn.ReLU())
    x = torch.round(torch.randn(2, 4, *([5] * dims)) * 3)
    ref = net(x).detach()
    exact = IntegerConvNet(net)
    out = exact(x)
    assert out.shape == ref.shape and float((out - ref).abs().max()) < 0.05
    torch.set_num_threads(1)
    try:
        assert torch.equal(exact(x), out)  # bit-identical under another thread count
    finally:
        torch.set_num_threads(2)
    with pytest.raises(ShapeError):
        exact(x[0])


def test_integer_net_refuses_mixed_ranks_and_padding_modes() -> None:
    with pytest.raises(TypeError, match="2-D convolution in a 1-D"):
        IntegerConvNet(nn.Sequential(nn.Conv1d(2, 2, 1), nn.Conv2d(2, 2, 1)))
    with pytest.raises(TypeError, match="padding mode"):
        IntegerConvNet(nn.Sequential(nn.Conv1d(2, 2, 3, padding=1, padding_mode="reflect")))


def test_gain_units_broadcast_to_any_rank() -> None:
    g = GainUnits(3, 5, torch.tensor([-1.0, 0.0, 1.0]), spatial_dims=1)
    assert g.gain(2).shape == (1, 5, 1) and torch.allclose(g.gain(2), torch.full((1, 5, 1), torch.e))
    assert g.gain(torch.tensor([0, 2])).shape == (2, 5, 1)
    assert torch.allclose(g.gain(0.5) * g.inv_gain(0.5), torch.ones(1, 5, 1))
    assert GainUnits(2, 4, spatial_dims=3).inv_gain(1).shape == (1, 4, 1, 1, 1)


@pytest.mark.parametrize("shape", [(1, 2, 37), (1, 2, 9, 10, 11)])
def test_tiled_equals_whole_for_pointwise_and_strided_maps(shape) -> None:
    x = torch.randn(*shape)
    down = {3: nn.AvgPool1d, 5: nn.AvgPool3d}[len(shape)](2)  # scale_in 2 -> one output per 2 inputs
    n = [s // 2 for s in shape[2:]]
    whole = down(x[(slice(None), slice(None), *(slice(0, 2 * k) for k in n))])
    assert torch.allclose(tiled(down, x, 2, 1, tile=3, margin=1, out_ch=2), whole)


def test_rows_per_chunk() -> None:
    assert rows_per_chunk((1, 8, 100, 10), 800) == 10  # 80 tokens per row
    assert rows_per_chunk((2, 4, 1000), 100, axis=2) == 12
    assert rows_per_chunk((1, 8, 5, 1000), 10) == 1  # at least one row


def test_registry_dispatches_on_media_and_bottleneck(tmp_path) -> None:
    @registry.register_codec("testmedium", "toy")
    class Toy:
        @classmethod
        def from_file(cls, path, name=None):
            return (cls, name)

    registry.register_media("testmedium", modules=())
    try:
        assert registry.codec_class({"media": "testmedium", "bottleneck": "toy"}, "f") is Toy
        assert registry.config_media({"bottleneck": "hyperprior"}) == "image"  # files before the field
        with pytest.raises(NcodecError, match="no inference codec for bottleneck 'other'"):
            registry.codec_class({"media": "testmedium", "bottleneck": "other"}, "f")
        with pytest.raises(NcodecError, match="no codec for 'nomedium'"):
            registry.codec_class({"media": "nomedium", "bottleneck": "toy"}, "f")
    finally:
        registry._MEDIA.pop("testmedium")
        registry._CODECS.pop(("testmedium", "toy"))


def test_a_header_names_a_model_never_a_path(tmp_path) -> None:
    weights = tmp_path / "evil.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(NcodecError, match="unknown model"):
        registry.resolve(str(weights), allow_path=False)
    assert registry.resolve(str(weights))[1] == weights


def test_atomic_writer_respects_umask_and_keeps_modes(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.bin"
        write_atomic(new, b"abc")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644 and new.read_bytes() == b"abc"
        os.chmod(new, 0o640)
        write_atomic(new, lambda f: f.write(b"xyz"), force=True)
        assert stat.S_IMODE(new.stat().st_mode) == 0o640 and new.read_bytes() == b"xyz"
        with pytest.raises(MediaError, match="exists"):
            write_atomic(new, b"no")

        def fail(f):
            f.write(b"partial")
            raise RuntimeError("disk full")

        with pytest.raises(RuntimeError):
            write_atomic(tmp_path / "failed.bin", fail)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["new.bin"]  # no partial or temporary file
    finally:
        os.umask(old)


class _ToyAudioTask:
    """A 1-D task for the shared trainer: a tiny conv autoencoder on random 'audio' (B, 1, T)."""

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.Tanh(), nn.Conv1d(4, 1, 5, padding=2))

    def setup(self, model, device):
        return model

    def batch(self, gen, device):
        return torch.randn(4, 1, 64, generator=gen).to(device)

    def loss(self, net, x):
        loss = (net(x) - x).pow(2).mean()
        return loss, {"loss": float(loss.detach())}

    def evaluate(self, model):
        return {"weight_norm": float(sum(p.detach().norm() for p in model.parameters()))}

    def describe_eval(self, metrics):
        return f"|w|={metrics['weight_norm']:.3f}"


def test_shared_trainer_resumes_a_non_image_task_exactly(tmp_path) -> None:
    from ncodec.codecs.train import TrainerConfig, run_training

    def run(out, steps):
        cfg = TrainerConfig(out_dir=str(out), steps=steps, lr=1e-2, ckpt_every=3, log_every=1, device="cpu")
        return run_training(cfg, _ToyAudioTask(), {"steps": steps}, log=lambda *a: None)

    whole = run(tmp_path / "a", 6)
    run(tmp_path / "b", 3)
    resumed = run(tmp_path / "b", 6)  # continues from b/last.pt at step 3
    for p, q in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)
    log = (tmp_path / "a" / "log.jsonl").read_text().splitlines()
    assert sum('"eval"' in line for line in log) == 2 and (tmp_path / "a" / "config.json").is_file()
