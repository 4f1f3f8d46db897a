"""What both image codecs (the hyperprior and the token models) share: the medium, the input checks,
the padding and reading a weights file into an image model."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from ncodec.codecs.base import Codec
from ncodec.codecs.image.models import MODELS, ImageModel, ImageModelConfig, build_model
from ncodec.codecs.weights import check_tensors, config_from_dict, load_tensors, read_metadata
from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError

#: Configuration fields that must be above zero.
POSITIVE = ("n", "m", "nh", "lambdas", "fsq_levels", "rvq_stages", "rvq_codebook", "rvq_dim", "bsq_bits")


def image_config(d: object, path: str | os.PathLike[str]) -> ImageModelConfig:
    """A weights file's image model configuration, validated (see ``weights.config_from_dict``)."""
    cfg = config_from_dict(ImageModelConfig, d, path, positive=POSITIVE)
    if cfg.bottleneck not in MODELS:
        raise NcodecError(f"{path}: unknown bottleneck {cfg.bottleneck!r}; one of {sorted(MODELS)}")
    if cfg.context not in ("none", "checkerboard"):
        raise NcodecError(f"{path}: unknown context {cfg.context!r} (none or checkerboard)")
    if cfg.transform not in ("gdn", "dct8"):
        raise NcodecError(f"{path}: unknown transform {cfg.transform!r} (gdn or dct8)")
    if cfg.transform == "dct8" and cfg.m > 192:
        raise NcodecError(f"{path}: the DCT transform has at most 192 latent channels, got {cfg.m}")
    return cfg


#: Largest image side accepted (pixels).
MAX_SIDE = 1 << 16


class ImageCodecBase(Codec):
    """Base of the image codecs: images ``(B, 3, H, W)`` (or one ``(3, H, W)``) in [0, 1]."""

    media = "image"
    model: ImageModel

    def check_image(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as a float32 batch ``(B, 3, H, W)`` in [0, 1]; ShapeError/MediaError for anything else
        (other types, integer/bool/complex dtypes, NaN/Inf, values outside [0, 1], empty batches)."""
        if not isinstance(x, torch.Tensor):
            raise ShapeError(
                f"expected a torch tensor (3, H, W) or (B, 3, H, W) in [0, 1], got {type(x).__name__} "
                "(ncodec.io.read_image reads a file; torch.from_numpy(a).permute(2, 0, 1) / 255 converts HWC)"
            )
        if not x.is_floating_point():
            hint = " (divide uint8 images by 255)" if x.dtype == torch.uint8 else ""
            raise ShapeError(f"expected a floating-point image in [0, 1], got dtype {x.dtype}{hint}")
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != 3:
            raise ShapeError(f"expected an RGB image (3, H, W) or batch (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[0] < 1:
            raise ShapeError(f"empty batch {tuple(x.shape)}")
        if min(x.shape[2:]) < 1 or max(x.shape[2:]) > MAX_SIDE:
            raise MediaError(f"image size {x.shape[3]}x{x.shape[2]} outside 1..{MAX_SIDE} pixels per side")
        x = x.float()
        lo, hi = 0.0, 1.0
        for band in x.split(64, dim=2):  # bands of rows: bounded temporaries on large images
            if not bool(torch.isfinite(band).all()):
                raise ShapeError("the image contains NaN or Inf values")
            lo, hi = min(lo, float(band.min())), max(hi, float(band.max()))
        if lo < 0 or hi > 1:
            raise ShapeError(f"image values must lie in [0, 1], got {lo:.4g}..{hi:.4g}")
        return x

    @staticmethod
    def check_channels(channels: int) -> int:
        """The layout a decoded file gets (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)."""
        if isinstance(channels, bool) or channels not in (1, 2, 3, 4):
            raise ValueError(f"channels must be 1, 2, 3 or 4 (the decoded file's layout), got {channels!r}")
        return int(channels)

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

    def check_file(self, data: bytes):
        """The shared header checks, and a decoded layout the image writer can produce (1-4 channels)."""
        h, q = super().check_file(data)
        self.check_layout(h)
        return h, q

    @staticmethod
    def check_layout(h) -> None:
        """FormatError unless the header's decoded layout is one the image writer can produce."""
        if h.media.channels not in (1, 2, 3, 4):
            raise FormatError(f"bad channel count {h.media.channels} (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)")

    def check_coded_size(
        self, height: int, width: int, latent_hw: tuple[int, ...], padding: tuple[int, ...] | None = None
    ) -> None:
        """A file's image size against its decoded latent: FormatError unless the latent is exactly what
        encoding an image of that size gives (padding to the alignment, ``stride`` pixels a position),
        and the header's ``padding`` (when given) is the padding that implies."""
        if height < 1 or width < 1:
            raise FormatError(f"image size {width}x{height} in the header is empty")
        a, s = self.model.align, self.model.stride
        expected = (-(-height // a) * a // s, -(-width // a) * a // s)
        got = tuple(int(n) for n in latent_hw)
        if got[0] < expected[0] or got[1] < expected[1]:
            raise FormatError("image size in the header exceeds the coded latent")
        if got != expected:
            raise FormatError(f"coded latent {got} is larger than a {width}x{height} image needs {expected}")
        if padding is not None and tuple(padding) != self.padding(got, height, width):
            raise FormatError(f"padding field {tuple(padding)} does not match the image size and latent")

    @staticmethod
    def read_model(path: str | os.PathLike[str]) -> tuple[ImageModel, dict[str, torch.Tensor]]:
        """A weights file → the image model its configuration builds (untrained) and the file's tensors."""
        cfg = image_config(read_metadata(path)["config"], path)
        model, state = build_model(cfg), load_tensors(path)
        check_tensors(model, state, path, extra_prefixes=("codec.", "prior."))
        return model, state
