"""compressai's ``bmshj2018-hyperprior`` as the reference image codec: one trained model per rate, coded
with compressai's own range coder, so its numbers are compressai's (``net.compress`` / ``net.decompress``).

The models are trained by ``scripts/train_image.py --bottleneck bmshj2018-hyperprior --lmbda L`` on the
same data as ncodec's; a folder of their exported weights files (one per lambda) is one rate–distortion
curve: ``ncodec bench rd --codec path/to/folder``.  This is a measuring stick, not a shipped codec: the
scales come from a float hyper-decoder, so its files are not guaranteed to decode on another machine.

File layout (little-endian): ``b"CAIH"``, quality ``u8``, height ``u16``, width ``u16``, ``u32`` byte
counts of the ``y`` and ``z`` strings, then the two strings.  Every byte is counted in the rate.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import torch
import torch.nn.functional as F

from ncodec.codecs.image.base import image_config
from ncodec.codecs.image.models import CompressaiHyperprior
from ncodec.codecs.weights import load_float_weights, load_tensors, read_metadata
from ncodec.errors import FormatError, NcodecError

MAGIC = b"CAIH"
_HEAD = struct.Struct("<4sBHHII")


def load_baseline(path: str | os.PathLike[str]) -> CompressaiHyperprior:
    """One exported ``bmshj2018-hyperprior`` weights file → the model, ready to code (``update()`` done)."""
    cfg = image_config(read_metadata(path)["config"], path)
    if cfg.bottleneck != "bmshj2018-hyperprior":
        raise NcodecError(f"{path}: bottleneck {cfg.bottleneck!r} is not bmshj2018-hyperprior")
    model = CompressaiHyperprior(cfg)
    load_float_weights(model, load_tensors(path), path)
    model.eval()
    model.net.update(force=True)
    return model


class CompressaiLadder:
    """Several single-rate compressai hyperprior models, ordered by lambda, as one quality ladder."""

    def __init__(self, models: list[CompressaiHyperprior], name: str) -> None:
        if not models:
            raise NcodecError(f"{name}: no models")
        self.models = sorted(models, key=lambda m: m.lam(0))
        self.name = name

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str]) -> CompressaiLadder:
        paths = sorted(Path(folder).glob("*.safetensors"))
        if not paths:
            raise NcodecError(f"{folder}: no .safetensors weights files")
        return cls([load_baseline(p) for p in paths], Path(folder).name)

    @property
    def qualities(self) -> int:
        return len(self.models)

    @torch.no_grad()
    def compress(self, x: torch.Tensor, quality: int) -> bytes:
        if x.dim() == 3:
            x = x[None]
        if x.shape[0] != 1 or x.shape[1] != 3:
            raise NcodecError(f"expected one RGB image (1, 3, H, W), got {tuple(x.shape)}")
        h, w = x.shape[2:]
        ph, pw = -h % 64, -w % 64
        x = F.pad(x.float(), (0, pw, 0, ph), mode="replicate")
        out = self.models[int(quality)].net.compress(x)
        (y,), (z,) = out["strings"]
        return _HEAD.pack(MAGIC, int(quality), h, w, len(y), len(z)) + y + z

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        if len(data) < _HEAD.size:
            raise FormatError("truncated baseline file")
        magic, q, h, w, ny, nz = _HEAD.unpack_from(data)
        if magic != MAGIC or q >= self.qualities or len(data) != _HEAD.size + ny + nz:
            raise FormatError("not a baseline file of this ladder, or truncated")
        y = data[_HEAD.size : _HEAD.size + ny]
        z = data[_HEAD.size + ny :]
        shape = ((h + 63) // 64, (w + 63) // 64)
        x_hat = self.models[q].net.decompress([[y], [z]], shape)["x_hat"]
        return x_hat[..., :h, :w].clamp(0, 1)
