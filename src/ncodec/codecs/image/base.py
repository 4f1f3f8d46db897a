"""What both image codecs (the hyperprior and the token models) share: the medium, the input checks,
the padding and reading a weights file into an image model."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from ncodec.codecs.base import Codec
from ncodec.codecs.image.models import ImageModel, ImageModelConfig, build_model
from ncodec.codecs.weights import load_tensors, read_metadata
from ncodec.errors import FormatError, MediaError, ShapeError

#: Largest image side accepted (pixels).
MAX_SIDE = 1 << 16


class ImageCodecBase(Codec):
    """Base of the image codecs: images ``(B, 3, H, W)`` (or one ``(3, H, W)``) in [0, 1]."""

    media = "image"
    model: ImageModel

    def check_image(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as a float batch ``(B, 3, H, W)``; ShapeError/MediaError for anything else."""
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != 3:
            raise ShapeError(f"expected an RGB image (3, H, W) or batch (B, 3, H, W), got {tuple(x.shape)}")
        if min(x.shape[2:]) < 1 or max(x.shape[2:]) > MAX_SIDE:
            raise MediaError(f"image size {x.shape[3]}x{x.shape[2]} outside 1..{MAX_SIDE} pixels per side")
        return x.float()

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Edge-replicate ``x`` to a multiple of the model's alignment (decoding crops it back)."""
        h, w = x.shape[2:]
        align = self.model.align
        ph, pw = (-h) % align, (-w) % align
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def padding(self, latent_hw: tuple[int, int], height: int, width: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) pixels added before the transform, from the latent's size."""
        s = self.model.stride
        return (0, latent_hw[0] * s - height, 0, latent_hw[1] * s - width)

    def check_coded_size(self, height: int, width: int, latent_hw: tuple[int, ...]) -> None:
        """A file's image size against its decoded latent: FormatError unless the latent is exactly what
        encoding an image of that size gives (padding to the alignment, ``stride`` pixels a position)."""
        if height < 1 or width < 1:
            raise FormatError(f"image size {width}x{height} in the header is empty")
        a, s = self.model.align, self.model.stride
        expected = (-(-height // a) * a // s, -(-width // a) * a // s)
        got = tuple(int(n) for n in latent_hw)
        if got[0] < expected[0] or got[1] < expected[1]:
            raise FormatError("image size in the header exceeds the coded latent")
        if got != expected:
            raise FormatError(f"coded latent {got} is larger than a {width}x{height} image needs {expected}")

    @staticmethod
    def read_model(path: str | os.PathLike[str]) -> tuple[ImageModel, dict[str, torch.Tensor]]:
        """A weights file → the image model its configuration builds (untrained) and the file's tensors."""
        cfg = ImageModelConfig.from_dict(read_metadata(path)["config"])
        return build_model(cfg), load_tensors(path)
