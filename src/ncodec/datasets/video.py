"""Video datasets: fixed-length clips of real video (PyAV or frame folders) and synthetic camera-motion
clips made from photos. Items are float tensors ``[T, 3, H, W]`` in [0, 1]."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ncodec.errors import MediaError
from ncodec.io.media import load_image, load_video, probe_video


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    return (
        torch.from_numpy(np.array(frames, dtype=np.uint8, copy=True)).permute(0, 3, 1, 2).float().div_(255.0)
    )


class VideoClips(Dataset):
    """Clips of ``frames`` consecutive frames from real videos (files PyAV reads, or frame folders).

    ``random_start=True`` (training) draws the first frame with torch's RNG; otherwise clips are the
    non-overlapping windows from the start (evaluation), one item per window. ``crop`` takes a random
    (training) or centre (evaluation) spatial crop. Videos shorter than ``frames`` are left out.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        frames: int = 16,
        random_start: bool = True,
        crop: tuple[int, int] | None = None,
        samples_per_epoch: int | None = None,
    ) -> None:
        if frames <= 0:
            raise ValueError("frames must be positive")
        self.frames, self.random_start, self.crop = frames, random_start, crop
        self.videos: list[tuple[Path, int]] = []
        for p in paths:
            info = probe_video(p)
            if info.frames >= frames and (crop is None or (info.width >= crop[0] and info.height >= crop[1])):
                self.videos.append((Path(p), info.frames))
        if not self.videos:
            raise MediaError(
                f"VideoClips: no video has {frames} frames" + (f" of at least {crop}" if crop else "")
            )
        if random_start:
            self.index = [(i, -1) for i in range(len(self.videos))]
            self.samples_per_epoch = samples_per_epoch or len(self.videos)
        else:
            self.index = [
                (i, s) for i, (_, n) in enumerate(self.videos) for s in range(0, n - frames + 1, frames)
            ]
            self.samples_per_epoch = len(self.index)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        vi, start = self.index[index % len(self.index)]
        path, n = self.videos[vi]
        if start < 0:
            start = int(torch.randint(0, n - self.frames + 1, ()))
        clip, _ = load_video(path, max_frames=self.frames, start=start)
        if clip.shape[0] < self.frames:
            raise MediaError(f"{path}: decoded {clip.shape[0]} frames from {start}, expected {self.frames}")
        if self.crop is not None:
            cw, ch = self.crop
            h, w = clip.shape[1:3]
            if self.random_start:
                top, left = int(torch.randint(0, h - ch + 1, ())), int(torch.randint(0, w - cw + 1, ()))
            else:
                top, left = (h - ch) // 2, (w - cw) // 2
            clip = clip[:, top : top + ch, left : left + cw]
        return _to_tensor(clip)


class SyntheticCameraClips(Dataset):
    """Clips made by moving a virtual camera over photos: pan, zoom, small rotation, brightness drift and
    sensor noise, with speeds varied per clip.

    Item ``i`` is deterministic given ``seed`` (its own ``torch.Generator`` seeded with ``seed`` and ``i``),
    so a training run is reproducible with any number of DataLoader workers. The photo is first downscaled
    by ``downscale`` (hides JPEG artefacts); frames are rendered by bilinear ``grid_sample`` of the photo
    with a per-frame affine camera. Items are ``[frames, 3, H, W]`` float tensors in [0, 1].
    """

    def __init__(
        self,
        photos: Sequence[str | os.PathLike[str]],
        frames: int = 16,
        size: tuple[int, int] = (256, 256),
        downscale: float = 2.0,
        max_speed: float = 0.02,
        max_zoom: float = 0.01,
        max_rotation_deg: float = 0.5,
        brightness_drift: float = 0.01,
        noise_std: float = 0.01,
        samples_per_epoch: int | None = None,
        seed: int = 0,
    ) -> None:
        if not photos:
            raise MediaError("SyntheticCameraClips: no photos")
        self.photos = [Path(p) for p in photos]
        self.frames, self.size, self.downscale = frames, size, downscale
        self.max_speed, self.max_zoom = max_speed, max_zoom
        self.max_rot = math.radians(max_rotation_deg)
        self.brightness_drift, self.noise_std, self.seed = brightness_drift, noise_std, seed
        self.samples_per_epoch = samples_per_epoch or len(self.photos)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        from PIL import Image

        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)

        def u(lo: float, hi: float) -> float:
            return lo + (hi - lo) * float(torch.rand((), generator=g))

        img = load_image(self.photos[index % len(self.photos)])
        h0, w0 = img.shape[:2]
        if self.downscale > 1:
            nw, nh = max(1, int(w0 / self.downscale)), max(1, int(h0 / self.downscale))
            img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))
        photo = _to_tensor(img[None])  # [1, 3, H, W]
        ph, pw = photo.shape[-2:]
        tw, th = self.size
        # The view covers (tw, th) photo pixels at zoom 1: scale relative to the photo's normalised coords.
        base_sx, base_sy = min(1.0, tw / pw), min(1.0, th / ph)
        speed = u(0.2, 1.0) * self.max_speed
        angle = u(0, 2 * math.pi)
        vx, vy = speed * math.cos(angle), speed * math.sin(angle)
        zoom_rate = u(-self.max_zoom, self.max_zoom)
        rot_rate = u(-self.max_rot, self.max_rot) / max(1, self.frames)
        bright_rate = u(-self.brightness_drift, self.brightness_drift)
        n = self.frames
        # Start so the whole path stays inside the photo.
        sx_max = base_sx * (1 + abs(zoom_rate) * n)
        sy_max = base_sy * (1 + abs(zoom_rate) * n)
        room_x = max(0.0, 1 - sx_max - abs(vx) * n)
        room_y = max(0.0, 1 - sy_max - abs(vy) * n)
        cx0 = u(-room_x, room_x) - vx * n / 2
        cy0 = u(-room_y, room_y) - vy * n / 2
        thetas = []
        for t in range(n):
            z = 1 + zoom_rate * t
            a = rot_rate * t
            sx, sy = base_sx * z, base_sy * z
            thetas.append(
                torch.tensor(
                    [
                        [sx * math.cos(a), -sy * math.sin(a), cx0 + vx * t],
                        [sx * math.sin(a), sy * math.cos(a), cy0 + vy * t],
                    ]
                )
            )
        theta = torch.stack(thetas)
        grid = F.affine_grid(theta, [n, 3, th, tw], align_corners=False)
        clip = F.grid_sample(
            photo.expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )
        gains = 1 + bright_rate * torch.arange(n, dtype=torch.float32)
        clip = clip * gains.view(n, 1, 1, 1)
        if self.noise_std > 0:
            clip = clip + self.noise_std * u(0.0, 1.0) * torch.randn(clip.shape, generator=g)
        return clip.clamp_(0, 1)
