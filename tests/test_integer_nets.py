"""IntegerConvNet: bit-identical outputs whatever the summation order, close to the float network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ncodec.codecs.image.nets import hyper_synthesis
from ncodec.codecs.integer_nets import IntegerConvNet


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return hyper_synthesis(24, 16).eval()


def test_close_to_float_network() -> None:
    net = _net()
    x = torch.round(torch.randn(2, 16, 5, 7) * 4)  # integer hyper-latents
    with torch.no_grad():
        ref = net(x)
    out = IntegerConvNet(net)(x)
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) < 2e-2 * float(ref.abs().max())


def test_bit_identical_across_threads_batches_and_summation_order() -> None:
    net = _net()
    inet = IntegerConvNet(net)
    x = torch.round(torch.randn(4, 16, 6, 6) * 5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = inet(x[1:2])
        torch.set_num_threads(max(2, threads))
        batch = inet(x)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, batch[1:2])
    # permuting the input channels (and the first layer's weights alike) changes the order of every
    # first-layer sum; exact integer sums give the same bits
    perm = torch.randperm(16)
    net2 = _net()
    with torch.no_grad():
        net2[0].weight.copy_(net[0].weight[perm])  # ConvTranspose2d weight: (in, out, k, k)
    assert torch.equal(IntegerConvNet(net2)(x[:, perm]), batch)


def test_refuses_unsupported_layers_and_overflow() -> None:
    with pytest.raises(TypeError):
        IntegerConvNet(nn.Sequential(nn.Conv2d(2, 2, 3), nn.Sigmoid()))
    with pytest.raises(ValueError):
        IntegerConvNet(nn.Sequential(nn.Conv2d(2, 2, 3)), weight_bits=30, act_bits=20)
    inet = IntegerConvNet(nn.Sequential(nn.Conv2d(2, 2, 3)), max_abs_act=10.0)
    with pytest.raises(ValueError):
        inet(torch.full((1, 2, 4, 4), 100.0))
