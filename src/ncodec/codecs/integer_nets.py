"""Exact integer inference for the networks on the entropy-coding path (e.g. a hyper-decoder).

A hyperprior codec chooses each latent's probability table from the hyper-decoder's output.  Computed
in floating point, that output can differ in the last bits between machines, thread counts or devices,
and a value that lands on the other side of a table boundary makes the decoder pick another table and
desynchronise (compressai #279, #309).  :class:`IntegerConvNet` removes the problem by construction:
weights and activations are fixed-point integers, every convolution runs in float64 on integer-valued
tensors whose partial sums stay below 2^53 — so every sum is exact whatever the summation order — and
rescaling uses power-of-two divisions with floor, which are exact too.  The same input gives the same
output bits on any machine.  It always runs on the CPU (where float64 convolutions use exact
multiply-accumulate; GPU libraries may pick transform-based algorithms that round).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ncodec.errors import NcodecError, ShapeError

_EXACT = float(1 << 53)


class ExactRangeError(NcodecError, ValueError):
    """An activation left the range in which the integer network is exact (from a corrupt or foreign
    input: a decoder turns it into a FormatError naming the file)."""


#: The convolutions it runs exactly, with their spatial rank and functional form.
_CONVS = {
    nn.Conv1d: (1, F.conv1d, False),
    nn.Conv2d: (2, F.conv2d, False),
    nn.Conv3d: (3, F.conv3d, False),
    nn.ConvTranspose1d: (1, F.conv_transpose1d, True),
    nn.ConvTranspose2d: (2, F.conv_transpose2d, True),
    nn.ConvTranspose3d: (3, F.conv_transpose3d, True),
}


class IntegerConvNet(nn.Module):
    """Fixed-point, bit-exact version of a ``nn.Sequential`` of convolutions (``Conv1d/2d/3d`` and their
    transposes, all of one spatial rank) and (Leaky)ReLU: the hyper-decoder of an image codec, or an
    entropy-parameter network over audio frames or video latents.

    Args:
        net: the trained float network.
        weight_bits: fractional bits of the weights and biases (weights are ``round(w * 2**weight_bits)``).
        act_bits: fractional bits of the activations (resolution ``2**-act_bits``).
        max_abs_act: bound on activation magnitudes.  At construction it is checked that no partial
            sum can reach 2^53 while activations stay within it; at run time an activation beyond it
            raises instead of silently losing exactness.
    """

    def __init__(
        self,
        net: nn.Sequential,
        weight_bits: int = 14,
        act_bits: int = 10,
        max_abs_act: float = 2.0**16,
    ) -> None:
        super().__init__()
        self.weight_bits = int(weight_bits)
        self.act_bits = int(act_bits)
        self.max_abs_act_fixed = float(max_abs_act) * (1 << self.act_bits)
        self.ops: list[tuple[str, dict]] = []
        self.dims = 0  # spatial rank of the convolutions (input is (B, C, *spatial))
        scale_w = float(1 << self.weight_bits)
        for i, layer in enumerate(net):
            if type(layer) in _CONVS:
                dims, fn, transposed = _CONVS[type(layer)]
                if layer.padding_mode != "zeros":
                    raise TypeError(
                        f"layer {i}: padding mode {layer.padding_mode!r} (pad explicitly instead)"
                    )
                if self.dims and dims != self.dims:
                    raise TypeError(f"layer {i}: {dims}-D convolution in a {self.dims}-D network")
                self.dims = dims
                w = torch.round(layer.weight.detach().double() * scale_w)
                bias = layer.bias.detach().double() if layer.bias is not None else torch.zeros(w.shape[0])
                # bias at the scale of the accumulator: 2**(act_bits + weight_bits)
                b = torch.round(bias * scale_w * (1 << self.act_bits))
                self.register_buffer(f"w{i}", w)
                self.register_buffer(f"b{i}", b)
                fan_in = w[:, 0].numel() if transposed else w[0].numel()
                bound = fan_in * float(w.abs().max()) * self.max_abs_act_fixed + float(b.abs().max())
                if bound >= _EXACT:
                    raise ValueError(
                        f"layer {i}: partial sums may reach {bound:.3g} >= 2^53; lower weight_bits, act_bits "
                        "or max_abs_act"
                    )
                kind = "deconv" if transposed else "conv"
                args = {"stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation}
                if transposed:
                    args["output_padding"] = layer.output_padding
                if layer.groups != 1:
                    args["groups"] = layer.groups
                self.ops.append((kind, {"i": i, "fn": fn, **args}))
            elif isinstance(layer, nn.LeakyReLU):
                self.ops.append(("leaky", {"num": round(layer.negative_slope * (1 << 16)), "shift": 16}))
            elif isinstance(layer, nn.ReLU):
                self.ops.append(("relu", {}))
            else:
                raise TypeError(f"IntegerConvNet cannot run {type(layer).__name__} exactly")

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network on ``x`` (any float tensor, on any device); returns float32 on ``x``'s device.

        The input is first rounded to the activation grid, so inputs that agree to ``2**-act_bits``
        (such as integer hyper-latents) give identical outputs everywhere.
        """
        if x.dim() != self.dims + 2:
            raise ShapeError(f"expected (B, C) and {self.dims} spatial axes, got {tuple(x.shape)}")
        device = x.device
        a = torch.round(x.detach().to("cpu", torch.float64) * (1 << self.act_bits))
        shift = float(1 << self.weight_bits)
        for kind, p in self.ops:
            if kind in ("conv", "deconv"):
                if float(a.abs().max()) > self.max_abs_act_fixed:
                    raise ExactRangeError("activation outside IntegerConvNet's exact range (max_abs_act)")
                w, b = getattr(self, f"w{p['i']}"), getattr(self, f"b{p['i']}")
                kw = {k: v for k, v in p.items() if k not in ("i", "fn")}
                acc = p["fn"](a, w, b, **kw)
                a = torch.floor((acc + shift / 2) / shift)  # round to act_bits: exact power-of-two division
            elif kind == "leaky":
                neg = torch.floor(a * p["num"] / float(1 << p["shift"]))
                a = torch.where(a >= 0, a, neg)
            else:
                a = a.clamp_min(0)
        return (a / (1 << self.act_bits)).to(device=device, dtype=torch.float32)
