"""Quantizers: VQ, RVQ, GRVQ, FSQ, BSQ and LFQ behind one interface (see :mod:`ncodec.quantizers.base`).

>>> import torch
>>> from ncodec.quantizers import FSQ
>>> q = FSQ(levels=[8, 5, 5, 5])
>>> z = torch.randn(2, 4, 16, 16)              # (B, C, H, W); audio (B, C, T) and video (B, C, T, H, W) alike
>>> out = q(z)                                 # straight-through z_q, indices, loss, stats
>>> out.indices.shape, q.alphabet
(torch.Size([2, 1, 16, 16]), (1000,))
>>> torch.equal(q.quantize(q.dequantize(out.indices)), out.indices)
True
"""

from typing import Any

from ncodec.quantizers.base import CodebookUsage, Quantizer, QuantizerOutput
from ncodec.quantizers.binary import BSQ, LFQ
from ncodec.quantizers.fsq import FSQ
from ncodec.quantizers.rfsq import ResidualFSQ
from ncodec.quantizers.rvq import GRVQ, RVQ
from ncodec.quantizers.vq import VQ, kmeans, rotate_to

QUANTIZERS: dict[str, type[Quantizer]] = {
    "VQ": VQ,
    "RVQ": RVQ,
    "GRVQ": GRVQ,
    "FSQ": FSQ,
    "BSQ": BSQ,
    "LFQ": LFQ,
    "ResidualFSQ": ResidualFSQ,
}


def build_quantizer(config: dict[str, Any]) -> Quantizer:
    """Build a quantizer from ``config`` (as returned by ``Quantizer.config()``): ``{"type": "FSQ", ...}``."""
    cfg = dict(config)
    kind = cfg.pop("type", None)
    if kind not in QUANTIZERS:
        raise ValueError(f"unknown quantizer type {kind!r}; known: {sorted(QUANTIZERS)}")
    return QUANTIZERS[kind](**cfg)


__all__ = [
    "BSQ",
    "FSQ",
    "GRVQ",
    "LFQ",
    "QUANTIZERS",
    "RVQ",
    "VQ",
    "ResidualFSQ",
    "CodebookUsage",
    "Quantizer",
    "QuantizerOutput",
    "build_quantizer",
    "kmeans",
    "rotate_to",
]
