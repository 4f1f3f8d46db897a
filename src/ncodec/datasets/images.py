"""Image datasets: random training crops (downscale, crop, flip) and the fixed Kodak-like evaluation set."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ncodec.errors import MediaError
from ncodec.io.media import load_image


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)


class ImageCrops(Dataset):
    """Random ``crop``-sized patches of photos: downscale by a random factor, random crop, random flip.

    The downscale (Lanczos) by a factor drawn uniformly from ``downscale`` (e.g. ``(2, 4)``) hides the
    sources' own JPEG artefacts; it is reduced for photos that would become smaller than the crop, and
    photos smaller than the crop are rejected at construction. An epoch has ``samples_per_epoch`` crops
    (photo ``i % len(paths)``), each drawn with torch's RNG, which DataLoader seeds per worker.
    Items are float tensors ``[3, H, W]`` in [0, 1].
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        crop: int | tuple[int, int] = 256,
        downscale: tuple[float, float] = (2.0, 4.0),
        hflip: bool = True,
        vflip: bool = False,
        samples_per_epoch: int | None = None,
    ) -> None:
        if not paths:
            raise MediaError("ImageCrops: no images")
        self.crop = (crop, crop) if isinstance(crop, int) else tuple(crop)
        if min(self.crop) <= 0:
            raise ValueError(f"bad crop {crop}")
        if not 1.0 <= downscale[0] <= downscale[1]:
            raise ValueError(f"downscale range must satisfy 1 <= lo <= hi, got {downscale}")
        self.downscale = downscale
        self.hflip, self.vflip = hflip, vflip
        self.paths: list[Path] = []
        ch, cw = self.crop[1], self.crop[0]
        for p in paths:
            with Image.open(p) as im:
                w, h = im.size
            if w >= cw and h >= ch:
                self.paths.append(Path(p))
        if not self.paths:
            raise MediaError(f"ImageCrops: no image is at least {cw}x{ch}")
        self.samples_per_epoch = samples_per_epoch or len(self.paths)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        img = load_image(self.paths[index % len(self.paths)])
        h, w = img.shape[:2]
        cw, ch = self.crop
        lo, hi = self.downscale
        f = lo + (hi - lo) * float(torch.rand(()))
        f = max(1.0, min(f, w / cw, h / ch))
        if f > 1.0:
            nw, nh = max(cw, int(round(w / f))), max(ch, int(round(h / f)))
            img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))
            h, w = nh, nw
        top = int(torch.randint(0, h - ch + 1, ()))
        left = int(torch.randint(0, w - cw + 1, ()))
        out = img[top : top + ch, left : left + cw]
        if self.hflip and bool(torch.rand(()) < 0.5):
            out = out[:, ::-1]
        if self.vflip and bool(torch.rand(()) < 0.5):
            out = out[::-1]
        return _to_tensor(out)


def kodak_crop(img: np.ndarray, size: tuple[int, int] = (768, 512)) -> np.ndarray | None:
    """Downscale (never upscale) to cover ``size`` (W, H; swapped for portrait images), centre-crop.

    Returns ``None`` when the image is smaller than the target.
    """
    h, w = img.shape[:2]
    tw, th = size
    if h > w:
        tw, th = th, tw
    if w < tw or h < th:
        return None
    scale = max(tw / w, th / h)
    if scale < 1.0:
        nw, nh = max(tw, round(w * scale)), max(th, round(h * scale))
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))
        h, w = nh, nw
    top, left = (h - th) // 2, (w - tw) // 2
    return np.ascontiguousarray(img[top : top + th, left : left + tw])


class KodakLikeImages(Dataset):
    """The fixed image evaluation set: each photo downscaled (Lanczos, never upscaled) to cover 768×512
    (512×768 for portrait photos) and centre-cropped; photos smaller than that are left out.
    Items are ``(name, float tensor [3, H, W] in [0, 1])``."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]], size: tuple[int, int] = (768, 512)) -> None:
        self.items: list[tuple[str, np.ndarray]] = []
        for p in paths:
            out = kodak_crop(load_image(p), size)
            if out is not None:
                self.items.append((Path(p).name, out))
        if not self.items:
            raise MediaError(f"KodakLikeImages: no image covers {size[0]}x{size[1]}")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor]:
        name, img = self.items[index]
        return name, _to_tensor(img)
