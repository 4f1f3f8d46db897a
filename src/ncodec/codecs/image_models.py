"""Trainable image codec models (the networks plus their rate models).

Every model maps an image ``x (B, 3, H, W)`` in ``[0, 1]`` (H, W multiples of :attr:`ImageModel.align`)
to a reconstruction and a differentiable estimate of the bits its bottleneck will cost, so training
minimises ``bits / pixels + lambda * 255^2 * MSE`` with the bottleneck's own rate model.

Bottlenecks:

* ``"hyperprior"`` — continuous latent, uniform scalar quantization, mean-scale Gaussian conditional
  prior from a hyper-latent coded with a factorised prior (compressai's entropy models).  Variable rate
  through gain units: one network, ``qualities`` rate points, fractional qualities in between.
* ``"fsq"`` — the latent bounded and rounded per channel by :class:`ncodec.quantizers.FSQ`; the rate
  model is a learned factorised categorical prior per channel (the same distribution the static
  integer table is later fitted to).  Variable rate through gain units in front of the FSQ bound.
* ``"rvq"`` — vectors of the latent quantized by :class:`ncodec.quantizers.RVQ` with quantizer dropout,
  so the number of stages (the rate) is chosen at encode time.  Rate model: ``log2 K`` bits per stage
  before entropy coding (the entropy coder then saves what the token statistics allow).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from torch import nn

from ncodec import kernels
from ncodec.codecs.image_nets import GainUnits, analysis, hyper_analysis, hyper_synthesis, synthesis
from ncodec.quantizers import FSQ, RVQ

#: Rate–distortion trade-offs of the MSE quality ladder (compressai's bmshj2018 lambdas q1..q6).
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483)

SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64


def scale_table() -> torch.Tensor:
    """The log-spaced Gaussian scale table (compressai's default: 64 levels from 0.11 to 256)."""
    return torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


@dataclass
class ImageModelConfig:
    """Everything needed to rebuild a model (stored with its weights)."""

    bottleneck: str = "hyperprior"
    n: int = 96  # transform channels
    m: int = 128  # latent channels
    nh: int = 96  # hyper-latent channels (hyperprior)
    lambdas: tuple[float, ...] = LAMBDAS
    fsq_levels: int = 15  # per-channel levels (fsq)
    rvq_stages: int = 8  # maximum stages (rvq)
    rvq_codebook: int = 1024
    rvq_dim: int = 8  # factorised code dimension (rvq)
    gain_init: float = 1.0  # gain of the highest quality at initialisation (gain units)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lambdas"] = list(self.lambdas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageModelConfig:
        d = dict(d)
        d["lambdas"] = tuple(d.get("lambdas", LAMBDAS))
        return cls(**d)


def _bits(likelihoods: torch.Tensor) -> torch.Tensor:
    return -torch.log2(likelihoods.clamp_min(1e-9)).sum()


class ImageModel(nn.Module):
    """Base: analysis, synthesis and a bottleneck; ``forward(x, q)`` returns reconstruction and bits."""

    align = 16

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.g_a = analysis(cfg.n, cfg.m)
        self.g_s = synthesis(cfg.n, cfg.m)

    @property
    def qualities(self) -> int:
        return len(self.cfg.lambdas)

    def lam(self, q: int) -> float:
        return float(self.cfg.lambdas[q])

    def aux_loss(self) -> torch.Tensor:
        return torch.zeros(())

    def forward(self, x: torch.Tensor, q: int) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


def _init_log_gains(lambdas: tuple[float, ...], top: float = 1.0) -> torch.Tensor:
    lam = torch.tensor(lambdas)
    return 0.5 * torch.log(lam / lam[-1]) + math.log(top)  # smaller gain (coarser steps) for lower quality


class HyperpriorModel(ImageModel):
    """Mean-scale hyperprior with gain units (variable rate)."""

    align = 64

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__(cfg)
        self.h_a = hyper_analysis(cfg.m, cfg.nh)
        self.h_s = hyper_synthesis(cfg.m, cfg.nh)
        self.entropy_bottleneck = EntropyBottleneck(cfg.nh)
        self.gaussian_conditional = GaussianConditional(scale_table().tolist())
        self.gains = GainUnits(self.qualities, cfg.m, _init_log_gains(cfg.lambdas, cfg.gain_init))

    def aux_loss(self) -> torch.Tensor:
        return self.entropy_bottleneck.loss()

    def forward(self, x: torch.Tensor, q: int | float) -> dict[str, torch.Tensor]:
        y = self.g_a(x)
        z = self.h_a(y)
        z_hat, z_lik = self.entropy_bottleneck(z)
        scales, means = self.h_s(z_hat).chunk(2, 1)
        g, ig = self.gains.gain(q), self.gains.inv_gain(q)
        y_hat_s, y_lik = self.gaussian_conditional(y * g, scales * g, means=means * g)
        x_hat = self.g_s(y_hat_s * ig)
        return {"x_hat": x_hat, "bits_y": _bits(y_lik), "bits_z": _bits(z_lik)}


class FSQModel(ImageModel):
    """FSQ bottleneck with a learned factorised categorical prior per channel, gain units for rate."""

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__(cfg)
        self.fsq = FSQ([cfg.fsq_levels])  # applied to every channel: (B, 1, M, h, w) tokens
        self.prior_logits = nn.Parameter(torch.zeros(cfg.m, cfg.fsq_levels))
        self.gains = GainUnits(self.qualities, cfg.m, _init_log_gains(cfg.lambdas, cfg.gain_init))

    def forward(self, x: torch.Tensor, q: int | float) -> dict[str, torch.Tensor]:
        y = self.g_a(x) * self.gains.gain(q)
        z_q = self.fsq(y.unsqueeze(1)).z_q.squeeze(1)  # on the FSQ grid, straight-through gradients
        levels = self.fsq._levels.expand(y.shape[1])
        # soft assignment of the bounded (unrounded) value to the grid gives the encoder a rate
        # gradient; the prior logits learn the symbol distribution (the static integer table is later
        # fitted from token counts)
        u = kernels.fsq_bound(y.movedim(1, -1), levels).movedim(-1, 1)  # in symbol units
        grid = torch.arange(self.cfg.fsq_levels, device=x.device).float() - self.cfg.fsq_levels // 2
        soft = torch.softmax(-((u[:, :, None] - grid[None, None, :, None, None]) ** 2), dim=2)
        # x10: the prior must track the symbol statistics faster than Adam's step size alone allows
        logp = torch.log_softmax(10.0 * self.prior_logits, dim=1)[None, :, :, None, None]
        bits = -(soft * logp).sum() / math.log(2)
        x_hat = self.g_s(z_q * self.gains.inv_gain(q))
        return {"x_hat": x_hat, "bits_y": bits, "bits_z": x.new_zeros(())}


class RVQModel(ImageModel):
    """RVQ bottleneck (factorised codes, quantizer dropout): the quality is the number of stages."""

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__(cfg)
        self.rvq = RVQ(
            cfg.m, cfg.rvq_stages, cfg.rvq_codebook, cfg.rvq_dim, quantizer_dropout=1.0,
            learning="grad", commitment_weight=0.25, kmeans_init=True, dead_code_threshold=0.0,
        )  # fmt: skip

    @property
    def qualities(self) -> int:
        return self.cfg.rvq_stages

    def lam(self, q: int) -> float:
        return float(self.cfg.lambdas[-1])

    def forward(self, x: torch.Tensor, q: int | float) -> dict[str, torch.Tensor]:
        y = self.g_a(x)
        n_q = int(q) + 1
        out = self.rvq(y, n_q=None if self.training else n_q)
        bits = y.new_tensor(
            float(y.shape[0] * y.shape[2] * y.shape[3] * n_q * math.log2(self.cfg.rvq_codebook))
        )
        x_hat = self.g_s(out.z_q)
        return {"x_hat": x_hat, "bits_y": bits, "bits_z": x.new_zeros(()), "vq_loss": out.loss}


class CompressaiHyperprior(ImageModel):
    """compressai's ``bmshj2018-hyperprior`` (``ScaleHyperprior(N, M)``), trained by ncodec's loop on the
    same data, as the reference our models are compared with; one model per lambda (``lambdas[0]``)."""

    align = 64

    def __init__(self, cfg: ImageModelConfig) -> None:
        nn.Module.__init__(self)
        from compressai.models import ScaleHyperprior

        self.cfg = cfg
        self.net = ScaleHyperprior(cfg.n, cfg.m)

    @property
    def qualities(self) -> int:
        return 1

    def lam(self, q: int) -> float:
        return float(self.cfg.lambdas[0])

    def aux_loss(self) -> torch.Tensor:
        return self.net.aux_loss()

    def forward(self, x: torch.Tensor, q: int | float) -> dict[str, torch.Tensor]:
        out = self.net(x)
        lik = out["likelihoods"]
        return {"x_hat": out["x_hat"], "bits_y": _bits(lik["y"]), "bits_z": _bits(lik["z"])}


MODELS: dict[str, type[ImageModel]] = {
    "hyperprior": HyperpriorModel,
    "fsq": FSQModel,
    "rvq": RVQModel,
    "bmshj2018-hyperprior": CompressaiHyperprior,
}


def build_model(cfg: ImageModelConfig) -> ImageModel:
    if cfg.bottleneck not in MODELS:
        raise ValueError(f"unknown bottleneck {cfg.bottleneck!r}; choose from {sorted(MODELS)}")
    return MODELS[cfg.bottleneck](cfg)


def rd_loss(model: ImageModel, x: torch.Tensor, q: int) -> tuple[torch.Tensor, dict[str, float]]:
    """``bpp + lambda_q * 255^2 * MSE`` (plus the quantizer's auxiliary loss), and logged values."""
    out = model(x, q)
    npix = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = (out["bits_y"] + out["bits_z"]) / npix
    mse = F.mse_loss(out["x_hat"], x)
    loss = bpp + model.lam(q) * 255**2 * mse
    if "vq_loss" in out:
        loss = loss + out["vq_loss"]
    psnr = -10 * math.log10(max(float(mse.detach()), 1e-10))
    return loss, {"loss": float(loss.detach()), "bpp": float(bpp.detach()), "psnr": psnr, "q": q}
