"""The inter-frame (P) model: conditional residual coding on a motion-compensated prediction.

A P-frame ``x`` is coded given its prediction ``p`` (the decoded reference, block-motion compensated,
:mod:`ncodec.codecs.video.motion`):

* the analysis transform sees the residual and the prediction, ``y = g_a([x - p, p])``, so the encoder
  can spend bits where the prediction fails and skip where it holds;
* ``y`` goes through the image codec's bottleneck (mean-scale hyperprior with the checkerboard context
  and gain units: the same integer entropy path, so P-frame tokens decode bit-exactly everywhere);
* the decoder synthesises a residual ``r`` and a gate ``a`` from ``ŷ``, ``[r, a] = g_s(ŷ)``, adds the
  gated prediction, ``s = clamp(1 + a, 0, 1) · p + r``, and refines the sum with a small network that
  also sees the prediction: ``x̂ = s + f([p, s])``.  Where the prediction holds (``a = 0``) this is
  residual coding; where it fails (a scene cut, an object faster than the motion search) the encoder
  can close the gate and code the frame itself, as the intra codec would.

The model starts from a trained image model (:func:`from_image_model`): the residual channels of the
first convolution take the image analysis' weights, the prediction channels, the gate and the
refinement start at zero, so at step 0 it is the image codec applied to the residual.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from ncodec.codecs.image.models import HyperpriorModel, ImageModelConfig
from ncodec.codecs.image.nets import analysis, conv, synthesis

__all__ = ["ConditionalModel", "from_image_model", "refinement", "widen_synthesis"]

REFINE_CH = 32
#: The entropy models' integer tables (rebuilt or stored by the codec, not trained).
CDF_KEYS = ("_quantized_cdf", "_offset", "_cdf_length")


def refinement(ch: int = REFINE_CH) -> nn.Sequential:
    """``[p, s]`` (6 channels) → a correction of ``s``; the last layer starts at zero."""
    net = nn.Sequential(
        conv(6, ch, 3, 1), nn.LeakyReLU(inplace=True), conv(ch, ch, 3, 1), nn.LeakyReLU(inplace=True),
        conv(ch, 3, 3, 1),
    )  # fmt: skip
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class ConditionalModel(HyperpriorModel):
    """P-frame coder (see the module docstring).  ``cfg.bottleneck`` is ``"conditional"``."""

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__(replace(cfg, bottleneck="hyperprior"))
        self.cfg = cfg
        self.g_a = analysis(cfg.n, cfg.m, cin=6)
        self.g_s = synthesis(cfg.n, cfg.m, cout=4)  # residual and gate
        self.refine = refinement()

    def analyse(self, x: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        return self.g_a(torch.cat([x - pred, pred], 1))

    def reconstruct(self, y_hat: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """The frame from the dequantized, unscaled latent and the prediction."""
        out = self.g_s(y_hat)
        s = (1 + out[:, 3:4]).clamp(0, 1) * pred + out[:, :3]
        return s + self.refine(torch.cat([pred, s], 1))

    def forward(self, x: torch.Tensor, pred: torch.Tensor, q: int | float) -> dict[str, torch.Tensor]:
        y_hat, bits_y, bits_z = self.bottleneck(self.analyse(x, pred), q)
        return {"x_hat": self.reconstruct(y_hat, pred), "bits_y": bits_y, "bits_z": bits_z}


@torch.no_grad()
def from_image_model(image: HyperpriorModel) -> ConditionalModel:
    """A conditional model initialised from a trained image model (see the module docstring)."""
    cfg = replace(image.cfg, bottleneck="conditional")
    model = ConditionalModel(cfg)
    last = f"g_s.{len(image.g_s) - 1}."
    state = {
        k: v
        for k, v in image.state_dict().items()
        if not k.startswith(("g_a.0.", last)) and not k.endswith(CDF_KEYS)
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(
        not k.startswith(("g_a.0.", last, "refine.")) and not k.endswith(CDF_KEYS) for k in missing
    ):
        raise ValueError(f"image model does not fit: missing {missing[:4]}, unexpected {unexpected[:4]}")
    w = image.g_a[0].weight
    model.g_a[0].weight.zero_()
    model.g_a[0].weight[:, :3] = w
    model.g_a[0].bias.copy_(image.g_a[0].bias)
    widen_synthesis(model, image.g_s[-1].weight, image.g_s[-1].bias)
    return model


@torch.no_grad()
def widen_synthesis(model: ConditionalModel, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Set the last synthesis layer from a 3-output one (an image model's, or an ungated P-frame
    model's): the residual channels take it, the gate channel starts at zero (gate open)."""
    last = model.g_s[-1]
    last.weight.zero_()
    last.bias.zero_()
    last.weight[:, :3] = weight
    last.bias[:3] = bias
