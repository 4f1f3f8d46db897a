"""Networks of the image codec family: analysis/synthesis transforms and the hyperprior.

The transforms follow Ballé et al. (GDN, four stride-2 5x5 convolutions, 16x down-sampling) with a
mean-scale hyperprior (Minnen et al. 2018, without the autoregressive context).  A variable-rate model
multiplies the latent by a learned per-channel gain of the chosen quality before quantization and by a
learned inverse gain after ("gain units", Cui et al. 2021), so one network serves the whole quality
ladder (:class:`ncodec.codecs.layers.GainUnits`).
"""

from __future__ import annotations

import math

import torch
from compressai.layers import GDN
from torch import nn


def conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2, output_padding=stride - 1)


def analysis(n: int, m: int, cin: int = 3) -> nn.Sequential:
    """``(B, 3, H, W)`` → ``(B, m, H/16, W/16)``."""
    return nn.Sequential(conv(cin, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n), conv(n, m))


def synthesis(n: int, m: int, cout: int = 3) -> nn.Sequential:
    """``(B, m, h, w)`` → ``(B, 3, 16h, 16w)``."""
    return nn.Sequential(
        deconv(m, n), GDN(n, inverse=True), deconv(n, n), GDN(n, inverse=True), deconv(n, n),
        GDN(n, inverse=True), deconv(n, cout),
    )  # fmt: skip


#: Block side of the colour-DCT transform (``transform="dct8"``): one latent position per 8x8 pixels.
DCT_BLOCK = 8


def dct_basis() -> torch.Tensor:
    """``(192, 3, 8, 8)``: an orthonormal colour transform (luma ``(1,1,1)/sqrt 3`` and two orthogonal
    chroma axes) times the orthonormal 8x8 DCT-II.  Channel ``c * 64 + 8u + v`` is colour axis ``c``'s
    frequency ``(u, v)``."""
    b = DCT_BLOCK
    n = torch.arange(b, dtype=torch.float64)
    dct = torch.cos(math.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * b)) * math.sqrt(2 / b)
    dct[0] /= math.sqrt(2)
    colour = (
        torch.tensor([[1, 1, 1], [1, 0, -1], [1, -2, 1]], dtype=torch.float64)
        / torch.tensor([3, 2, 6], dtype=torch.float64).sqrt()[:, None]
    )
    basis2d = torch.einsum("ui,vj->uvij", dct, dct).reshape(b * b, b, b)
    return torch.einsum("ck,fij->cfkij", colour, basis2d).reshape(3 * b * b, 3, b, b).float()


def dct_analysis(m: int) -> nn.Conv2d:
    """``(B, 3, H, W)`` → ``(B, m, H/8, W/8)``: the first ``m`` channels of :func:`dct_basis` (``m = 192``
    is critically sampled, so the transform itself caps no quality), centred on mid-grey.  Fixed: its
    parameters do not train (a trained inverse drifts from the exact one and caps the top qualities)."""
    b = DCT_BLOCK
    net = nn.Conv2d(3, m, b, stride=b)
    with torch.no_grad():
        w = dct_basis()[:m]
        net.weight.copy_(w)
        net.bias.copy_(-0.5 * w.sum((1, 2, 3)))
    return net.requires_grad_(False)


def dct_synthesis(m: int) -> nn.ConvTranspose2d:
    """``(B, m, h, w)`` → ``(B, 3, 8h, 8w)``: the inverse (transpose) of :func:`dct_analysis`; fixed."""
    b = DCT_BLOCK
    net = nn.ConvTranspose2d(m, 3, b, stride=b)
    with torch.no_grad():
        net.weight.copy_(dct_basis()[:m])
        net.bias.fill_(0.5)
    return net.requires_grad_(False)


def hyper_analysis(m: int, nh: int) -> nn.Sequential:
    """``(B, m, h, w)`` → ``(B, nh, h/4, w/4)``."""
    return nn.Sequential(
        conv(m, nh, 3, 1), nn.LeakyReLU(inplace=True), conv(nh, nh), nn.LeakyReLU(inplace=True), conv(nh, nh)
    )


def hyper_synthesis(m: int, nh: int) -> nn.Sequential:
    """``(B, nh, h/4, w/4)`` → ``(B, 2m, h, w)``: scales and means of the latent."""
    mid = nh * 3 // 2
    return nn.Sequential(
        deconv(nh, nh), nn.LeakyReLU(inplace=True), deconv(nh, mid), nn.LeakyReLU(inplace=True),
        conv(mid, 2 * m, 3, 1),
    )  # fmt: skip


def context_net(m: int) -> nn.Sequential:
    """Checkerboard context: a 5x5 convolution over the anchors (other positions zero), ``m`` → ``2m``."""
    return nn.Sequential(conv(m, 2 * m, 5, 1))


def entropy_parameters(m: int) -> nn.Sequential:
    """1x1 network from the hyper-decoder's ``2m`` outputs and the context's ``2m`` to a ``2m`` correction
    of the scales and means.  The last layer starts at zero (no correction)."""
    net = nn.Sequential(
        conv(4 * m, 2 * m, 1, 1), nn.LeakyReLU(inplace=True), conv(2 * m, 2 * m, 1, 1),
        nn.LeakyReLU(inplace=True), conv(2 * m, 2 * m, 1, 1),
    )  # fmt: skip
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net
