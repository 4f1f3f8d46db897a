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
* ``"bsq"`` — :class:`ncodec.quantizers.BSQ`: ``bsq_bits`` binary codes per latent position on the unit
  sphere, in groups of 8 bits; quality ``q`` keeps the first ``q + 1`` groups (nested dropout in
  training: one network, the rate chosen at encode time).  Rate model: the bits kept, uncoded.

The token models (``fsq``, ``rvq``, ``bsq``) share :class:`TokenModel`'s interface:
``token_alphabet(q)``, ``to_tokens(y, q)`` and ``from_tokens(tokens, q)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from torch import nn

from ncodec import kernels
from ncodec.codecs.image.nets import (
    analysis,
    context_net,
    dct_analysis,
    dct_synthesis,
    entropy_parameters,
    hyper_analysis,
    hyper_synthesis,
    synthesis,
)
from ncodec.codecs.layers import GainUnits
from ncodec.codecs.tokens import TokenModel as _TokenInterface
from ncodec.codecs.train import rate_distortion
from ncodec.quantizers import BSQ, FSQ, RVQ

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
    bsq_bits: int = 48  # binary codes per latent position (bsq); groups of 8 bits are the qualities
    # hyperprior: "none" (mean-scale hyperprior) or "checkerboard" (two-pass spatial context, He et al.
    # 2021: the second half of the latent is coded with parameters refined from the first half)
    context: str = "none"
    # hyperprior: the synthesis sees the hard-quantized latent (straight-through gradients) instead of the
    # noisy one ("mixed quantization", Minnen & Singh 2020); the rate still uses additive noise
    ste_decoder: bool = False
    # "gdn": four stride-2 5x5 convolutions with GDN (16x down-sampling, ``n`` channels inside);
    # "dct8": a fixed orthonormal colour DCT of 8x8 blocks (stride 8; no capacity ceiling: ``m = 192``
    # is critically sampled; the model of the high qualities, where the entropy model does the work)
    transform: str = "gdn"
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

    align = 16  # input sides are padded to a multiple of this
    stride = 16  # pixels per latent position along each side

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.transform == "gdn":
            self.g_a = analysis(cfg.n, cfg.m)
            self.g_s = synthesis(cfg.n, cfg.m)
        elif cfg.transform == "dct8":
            if not 0 < cfg.m <= 192:
                raise ValueError(f"the DCT transform has 1..192 latent channels, got m={cfg.m}")
            self.g_a = dct_analysis(cfg.m)
            self.g_s = dct_synthesis(cfg.m)
            self.stride = 8
            self.align = self.align // 2
        else:
            raise ValueError(f"unknown transform {cfg.transform!r} (gdn or dct8)")

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


def round_ste(v: torch.Tensor) -> torch.Tensor:
    """``round(v)`` with the identity's gradient (straight-through)."""
    return v + (torch.round(v) - v).detach()


def anchor_mask(h: int, w: int, device: torch.device | None = None) -> torch.Tensor:
    """``(1, 1, h, w)`` float mask of the checkerboard's anchors (``(i + j)`` even), coded first."""
    i = torch.arange(h, device=device)[:, None]
    j = torch.arange(w, device=device)[None, :]
    return ((i + j) % 2 == 0).float()[None, None]


class HyperpriorModel(ImageModel):
    """Mean-scale hyperprior with gain units (variable rate), optionally with a checkerboard context.

    With ``cfg.context == "checkerboard"`` the latent's positions split into anchors (``(i + j)`` even,
    coded first with the hyperprior's parameters alone) and the rest, whose parameters are the
    hyperprior's plus a correction ``ep(hyper, ctx(anchors))`` computed from the decoded anchors
    (:meth:`entropy_params`).  The correction's last layer starts at zero, so a context model
    initialised from a plain hyperprior starts out as exactly that model.
    """

    align = 64

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__(cfg)
        if cfg.context not in ("none", "checkerboard"):
            raise ValueError(f"unknown context {cfg.context!r} (none or checkerboard)")
        self.h_a = hyper_analysis(cfg.m, cfg.nh)
        self.h_s = hyper_synthesis(cfg.m, cfg.nh)
        self.entropy_bottleneck = EntropyBottleneck(cfg.nh)
        self.gaussian_conditional = GaussianConditional(scale_table().tolist())
        self.gains = GainUnits(self.qualities, cfg.m, _init_log_gains(cfg.lambdas, cfg.gain_init))
        if cfg.context == "checkerboard":
            self.ctx = context_net(cfg.m)
            self.ep = entropy_parameters(cfg.m)

    def aux_loss(self) -> torch.Tensor:
        return self.entropy_bottleneck.loss()

    def context_delta(self, hyper: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """The context correction of the latent's (unscaled) parameters at every position, from the
        hyper-decoder's output and the dequantized, unscaled latent with non-anchors set to zero.  Only
        its non-anchor positions are used."""
        return self.ep(torch.cat([hyper, self.ctx(anchors)], 1))

    def entropy_params(
        self, hyper: torch.Tensor, y_s: torch.Tensor, g: torch.Tensor, ig: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Unscaled ``(scales, means)`` of the latent from the hyper-decoder's output ``hyper`` and, for a
        context model, the scaled latent ``y_s`` (its anchors are quantized, straight-through, first)."""
        if self.cfg.context == "none":
            scales, means = hyper.chunk(2, 1)
            return scales, means
        mask = anchor_mask(*y_s.shape[2:], device=y_s.device)
        means_a = hyper[:, self.cfg.m :] * g
        anchors = (round_ste(y_s - means_a) + means_a) * ig * mask
        params = hyper + self.context_delta(hyper, anchors) * (1 - mask)
        scales, means = params.chunk(2, 1)
        return scales, means

    def forward(self, x: torch.Tensor, q: int | float) -> dict[str, torch.Tensor]:
        y_hat, bits_y, bits_z = self.bottleneck(self.g_a(x), q)
        return {"x_hat": self.g_s(y_hat), "bits_y": bits_y, "bits_z": bits_z}

    def bottleneck(self, y: torch.Tensor, q: int | float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The latent ``y`` through the hyperprior at quality ``q``: the (noisy or straight-through
        quantized) unscaled latent the synthesis takes, and the bits of ``y`` and ``z``."""
        z = self.h_a(y)
        z_hat, z_lik = self.entropy_bottleneck(z)
        g, ig = self.gains.gain(q), self.gains.inv_gain(q)
        y_s = y * g
        scales, means = self.entropy_params(self.h_s(z_hat), y_s, g, ig)
        y_hat_s, y_lik = self.gaussian_conditional(y_s, scales * g, means=means * g)
        if self.cfg.ste_decoder:
            y_hat_s = round_ste(y_s - means * g) + means * g
        return y_hat_s * ig, _bits(y_lik), _bits(z_lik)


class TokenModel(ImageModel, _TokenInterface):
    """A model whose bottleneck emits integer tokens ``(B, S, h, w)`` (the latent ``y = g_a(x)``)."""

    token_axes = "h, w"


class FSQModel(TokenModel):
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

    quantizer_name, token_form = "FSQ", 1

    def token_alphabet(self, q: int) -> tuple[int, ...]:
        return (self.cfg.fsq_levels,) * self.cfg.m

    def to_tokens(self, y: torch.Tensor, q: int) -> torch.Tensor:
        return self.fsq.quantize((y * self.gains.gain(q)).unsqueeze(1)).squeeze(1)

    def from_tokens(self, tokens: torch.Tensor, q: int) -> torch.Tensor:
        self._check_streams(tokens, q)
        return self.fsq.dequantize(tokens.unsqueeze(1)).squeeze(1) * self.gains.inv_gain(q)


class RVQModel(TokenModel):
    """RVQ bottleneck (factorised codes, quantizer dropout): the quality is the number of stages.

    The codebooks follow EMA statistics: with gradient-learned codebooks Adam moves a code by at most
    the learning rate per step, the encoder's output scale outruns them and the commitment loss explodes
    (seen at lr 5e-4: loss 10^5 within 100 steps; EMA stays at the distortion term)."""

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__(cfg)
        self.rvq = RVQ(
            cfg.m, cfg.rvq_stages, cfg.rvq_codebook, cfg.rvq_dim, quantizer_dropout=1.0,
            learning="ema", commitment_weight=0.25, kmeans_init=True, dead_code_threshold=0.0,
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

    quantizer_name, token_form = "RVQ", 0

    def token_alphabet(self, q: int) -> tuple[int, ...]:
        return self.rvq.alphabet[: q + 1]

    def to_tokens(self, y: torch.Tensor, q: int) -> torch.Tensor:
        return self.rvq.quantize(y, n_q=q + 1)

    def from_tokens(self, tokens: torch.Tensor, q: int) -> torch.Tensor:
        self._check_streams(tokens, q)
        return self.rvq.dequantize(tokens)


class BSQModel(TokenModel):
    """BSQ bottleneck with nested bit groups: quality ``q`` keeps the first ``q + 1`` groups of 8 bits."""

    quantizer_name, token_form = "BSQ", 1
    group = 8

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__(cfg)
        if cfg.bsq_bits % self.group or not 0 < cfg.bsq_bits <= 62:
            raise ValueError(f"bsq_bits must be a multiple of {self.group} in 8..56, got {cfg.bsq_bits}")
        self.bsq = BSQ(cfg.m, cfg.bsq_bits, group_size=self.group)

    @property
    def qualities(self) -> int:
        return self.cfg.bsq_bits // self.group

    def lam(self, q: int) -> float:
        return float(self.cfg.lambdas[-1])

    def _decode_codes(self, codes: torch.Tensor, groups: int) -> torch.Tensor:
        """Codes ``(..., bits)`` with only the first ``groups`` groups kept → latent ``(..., m)``."""
        keep = torch.arange(self.cfg.bsq_bits, device=codes.device) < groups * self.group
        return self.bsq.out_proj(codes * keep)

    def forward(self, x: torch.Tensor, q: int | float) -> dict[str, torch.Tensor]:
        y = self.g_a(x)
        loss = self.bsq(y).loss  # commitment and entropy terms of the full code
        u = self.bsq._project(y.movedim(1, -1))
        codes, _ = kernels.binary_quantize(u.detach().reshape(-1, self.cfg.bsq_bits), spherical=True)
        codes = codes.reshape(u.shape) + (u - u.detach())  # straight-through
        # nested dropout: in training each batch keeps a random number of groups, so every prefix decodes
        groups = int(torch.randint(1, self.qualities + 1, ())) if self.training else int(q) + 1
        x_hat = self.g_s(self._decode_codes(codes, groups).movedim(-1, 1))
        bits = y.new_tensor(float(y.shape[0] * y.shape[2] * y.shape[3] * groups * self.group))
        return {"x_hat": x_hat, "bits_y": bits, "bits_z": x.new_zeros(()), "vq_loss": loss}

    def token_alphabet(self, q: int) -> tuple[int, ...]:
        return (1 << self.group,) * (q + 1)

    def to_tokens(self, y: torch.Tensor, q: int) -> torch.Tensor:
        return self.bsq.indices_to_symbols(self.bsq.quantize(y))[:, : q + 1]

    def from_tokens(self, tokens: torch.Tensor, q: int) -> torch.Tensor:
        self._check_streams(tokens, q)
        b, _, h, w = tokens.shape
        full = tokens.new_zeros(b, self.qualities, h, w)
        full[:, : q + 1] = tokens
        packed = self.bsq.symbols_to_indices(full).reshape(-1)
        codes = kernels.binary_dequantize(packed, self.cfg.bsq_bits, spherical=True)
        return self._decode_codes(codes, q + 1).reshape(b, h, w, -1).movedim(-1, 1)


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
    "bsq": BSQModel,
    "bmshj2018-hyperprior": CompressaiHyperprior,
}


def build_model(cfg: ImageModelConfig) -> ImageModel:
    if cfg.bottleneck not in MODELS:
        raise ValueError(f"unknown bottleneck {cfg.bottleneck!r}; choose from {sorted(MODELS)}")
    return MODELS[cfg.bottleneck](cfg)


def rd_loss(model: ImageModel, x: torch.Tensor, q: int) -> tuple[torch.Tensor, dict[str, float]]:
    """``bpp + lambda_q * 255^2 * MSE`` (plus the quantizer's auxiliary loss), and logged values."""
    out = model(x, q)
    loss, bpp, mse = rate_distortion(out["bits_y"] + out["bits_z"], out["x_hat"], x, model.lam(q))
    if "vq_loss" in out:
        loss = loss + out["vq_loss"]
    psnr = -10 * math.log10(max(float(mse.detach()), 1e-10))
    return loss, {"loss": float(loss.detach()), "bpp": float(bpp.detach()), "psnr": psnr, "q": q}
