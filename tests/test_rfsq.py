"""Residual FSQ: nested stages (fewer stages = a prefix of the tokens), quantize/dequantize agree with
the training forward, error falls with stages once trained, quantizer dropout, refusals."""

from __future__ import annotations

import pytest
import torch

from ncodec.errors import ShapeError
from ncodec.quantizers import ResidualFSQ, build_quantizer


def test_prefix_and_forward_agree() -> None:
    torch.manual_seed(0)
    q = ResidualFSQ(16, [8, 5, 5, 5], 6).eval()
    z = torch.randn(3, 16, 20)
    full = q.quantize(z)
    assert full.shape == (3, 6, 20) and q.alphabet == (1000,) * 6
    for n in (1, 3, 6):
        assert torch.equal(q.quantize(z, n), full[:, :n])
        out = q(z, n_q=n)
        assert torch.equal(out.indices, full[:, :n])
        assert torch.allclose(out.z_q, q.dequantize(full[:, :n]), atol=1e-6)
    assert build_quantizer(q.config()).alphabet == q.alphabet


def test_training_makes_each_stage_shrink_the_residual() -> None:
    torch.manual_seed(0)
    q = ResidualFSQ(8, [5, 5, 5], 4)
    opt = torch.optim.Adam(q.parameters(), 1e-2)
    for _ in range(300):
        z = torch.randn(256, 8)
        out = q(z[..., None])
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    q.eval()
    z = torch.randn(512, 8, 1)
    errs = [float((q.dequantize(q.quantize(z, n)) - z).pow(2).mean()) for n in (1, 2, 4)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.3 * float(z.pow(2).mean())


def test_dropout_and_refusals() -> None:
    torch.manual_seed(0)
    q = ResidualFSQ(16, [4, 4], 5, quantizer_dropout=1.0).train()
    z = torch.randn(8, 16, 4)
    out = q(z, n_per_item=torch.tensor([1, 2, 3, 4, 5, 1, 1, 1]))
    q.eval()
    for i, n in enumerate([1, 2, 3, 4, 5]):
        assert torch.allclose(out.z_q[i], q.dequantize(q.quantize(z[i : i + 1], n))[0], atol=1e-5)
    with pytest.raises(ShapeError):
        q.quantize(z, 6)
    with pytest.raises(ShapeError):
        q.dequantize(torch.full((1, 2, 3), 16))
    with pytest.raises(ValueError):
        ResidualFSQ(2, [4, 4], 3)
