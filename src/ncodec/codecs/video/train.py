"""Training of the P-frame model on synthetic camera moves over the training photos (DATA.md: real
video is scarce, every real clip of the packages but one is reserved for evaluation).

One training pair is two frames of a virtual camera over a photo: the second is the first moved by a
random sub-pixel translation, zoom and rotation, with brightness drift, independent sensor noise and,
sometimes, an object (a patch of another photo) pasted in moving on its own (at times faster than
the motion search reaches), or a scene cut (the reference shows another photo), so the model learns
to fall back on intra-like coding where the prediction fails.  The first frame is coded
by the frozen intra model at the step's quality (eval mode: rounded latents, the decoded frame rounded
to 8 bits), exactly what the codec's decoder gives as the reference; the prediction is the encoder's
integer block motion on that reference (:mod:`ncodec.codecs.video.motion`).  The loss is the image
codec's: ``bits / pixels + lambda_q * 255^2 * MSE`` of the P-frame.

Photos whose path hashes to 0 mod 8 are held out: the pairs logged at checkpoints come from them.
``train(VideoTrainConfig(...))`` runs the shared trainer (resumable, CPU/GPU, ``torchrun``-ready).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.models import HyperpriorModel
from ncodec.codecs.image.train import CropPool
from ncodec.codecs.registry import load
from ncodec.codecs.train import TrainerConfig, rate_distortion, run_training
from ncodec.codecs.video.models import ConditionalModel, from_image_model
from ncodec.codecs.video.motion import compensate, estimate

__all__ = ["PairMaker", "VideoTask", "VideoTrainConfig", "held_out", "train"]


def held_out(path: str) -> bool:
    """Whether a training photo is in the held-out split (its path's SHA-256 is 0 mod 8)."""
    return hashlib.sha256(path.encode()).digest()[0] % 8 == 0


@dataclass
class VideoTrainConfig(TrainerConfig):
    """A P-frame training run: the shared settings plus the intra model, the photos and the crops."""

    intra: str = "image-hyperprior-v5"
    images: list[str] = field(default_factory=list)
    out_dir: str = "runs/video"
    batch: int = 8
    crop: int = 128
    max_shift: float = 24.0
    eval_pairs: int = 16

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PairMaker:
    """Random (frame, next frame) pairs from a crop pool (see the module docstring)."""

    MARGIN = 32
    SCENE_CUT = 0.08

    def __init__(self, pool: CropPool, crop: int, max_shift: float) -> None:
        self.pool, self.crop, self.max_shift = pool, crop, max_shift

    def _u(self, gen: torch.Generator, lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=gen))

    def pairs(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x0, x1)``, each ``(n, 3, crop, crop)`` in [0, 1]."""
        big = self.crop + 2 * self.MARGIN
        src = self.pool_batch(n, big, gen)
        theta = torch.zeros(n, 2, 3)
        for i in range(n):
            static = self._u(gen, 0, 1) < 0.15
            s = 1.0 if static or self._u(gen, 0, 1) < 0.6 else self._u(gen, 0.95, 1.05)
            a = 0.0 if static or self._u(gen, 0, 1) < 0.7 else math.radians(self._u(gen, -2, 2))
            speed = 0.0 if static else self.max_shift * self._u(gen, 0, 1) ** 1.5
            ang = self._u(gen, 0, 2 * math.pi)
            tx, ty = speed * math.cos(ang), speed * math.sin(ang)
            c, sn = math.cos(a) * s, math.sin(a) * s
            theta[i] = torch.tensor([[c, -sn, 2 * tx / big], [sn, c, 2 * ty / big]])
        grid = F.affine_grid(theta, list(src.shape), align_corners=False)
        moved = F.grid_sample(src, grid, mode="bicubic", padding_mode="border", align_corners=False)
        m, c = self.MARGIN, self.crop
        x0, x1 = src[:, :, m : m + c, m : m + c].clone(), moved[:, :, m : m + c, m : m + c].clone()
        for i in range(n):
            if self._u(gen, 0, 1) < self.SCENE_CUT:  # a cut: the reference shows something else
                x0[i] = self.pool_batch(1, c, gen)[0]
            if self._u(gen, 0, 1) < 0.3:  # brightness drift
                x1[i] *= self._u(gen, 0.94, 1.06)
            if self._u(gen, 0, 1) < 0.3:  # an object moving on its own
                k = int(self._u(gen, 16, 48))
                obj = self.pool_batch(1, k, gen)[0]
                y0, x0p = int(self._u(gen, 0, c - k)), int(self._u(gen, 0, c - k))
                reach = 8 if self._u(gen, 0, 1) < 0.5 else 40  # slow, or faster than the search reaches
                dy, dx = int(self._u(gen, -reach, reach)), int(self._u(gen, -reach, reach))
                y1, x1p = min(max(y0 + dy, 0), c - k), min(max(x0p + dx, 0), c - k)
                x0[i, :, y0 : y0 + k, x0p : x0p + k] = obj
                x1[i, :, y1 : y1 + k, x1p : x1p + k] = obj
            if self._u(gen, 0, 1) < 0.5:  # sensor noise, independent per frame
                sigma = self._u(gen, 0, 3) / 255
                x0[i] += sigma * torch.randn(x0[i].shape, generator=gen)
                x1[i] += sigma * torch.randn(x1[i].shape, generator=gen)
        return x0.clamp_(0, 1), x1.clamp_(0, 1)

    def pool_batch(self, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
        return self.pool.batch(n, gen, size)


def to_u8(x: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` in [0, 1] → ``uint8 (B, H, W, 3)`` (round half up, as the codec's frames)."""
    return (x.clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def from_u8(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div_(255)


def predict(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Block-motion prediction of each ``cur`` frame from its ``ref`` (``uint8 (B, H, W, 3)``)."""
    return np.stack([compensate(r, estimate(r, c)) for r, c in zip(ref, cur, strict=True)])


class VideoTask:
    """The video side of a training run (:class:`ncodec.codecs.train.Task`)."""

    def __init__(self, cfg: VideoTrainConfig) -> None:
        self.cfg = cfg
        intra = load(cfg.intra)
        if not isinstance(intra, ImageCodec):
            raise ValueError(f"{cfg.intra} is not a hyperprior image model")
        self.intra: HyperpriorModel = intra.model.eval()
        for p in self.intra.parameters():
            p.requires_grad_(False)
        self.eval_batch: tuple[torch.Tensor, torch.Tensor, int] | None = None

    def build_model(self) -> ConditionalModel:
        return from_image_model(self.intra)

    def setup(self, model: ConditionalModel, device: torch.device) -> ConditionalModel:
        self.device = device
        self.intra.to(device)
        train = [p for p in self.cfg.images if not held_out(p)]
        val = [p for p in self.cfg.images if held_out(p)] or train
        big = self.cfg.crop + 2 * PairMaker.MARGIN
        self.pairs = PairMaker(CropPool(train, big), self.cfg.crop, self.cfg.max_shift)
        if self.cfg.eval_pairs:
            g = torch.Generator().manual_seed(12345)
            maker = PairMaker(CropPool(val, big), self.cfg.crop, self.cfg.max_shift)
            self.eval_x = maker.pairs(self.cfg.eval_pairs, g)
        self.qualities = model.qualities
        return model

    @torch.no_grad()
    def reference(self, x0: torch.Tensor, q: int) -> np.ndarray:
        """The intra-decoded first frames, 8-bit."""
        return to_u8(self.intra(x0.to(self.device), q)["x_hat"].cpu())

    def make(self, x0: torch.Tensor, x1: torch.Tensor, q: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x1, prediction)`` on the device."""
        cur = to_u8(x1)
        pred = predict(self.reference(x0, q), cur)
        return from_u8(cur).to(self.device), from_u8(pred).to(self.device)

    def batch(self, gen: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
        q = int(torch.randint(self.qualities, (), generator=gen))
        x0, x1 = self.pairs.pairs(self.cfg.batch, gen)
        return (*self.make(x0, x1, q), q)

    def loss(self, net: Any, batch: tuple[torch.Tensor, torch.Tensor, int]) -> tuple[torch.Tensor, dict]:
        x, pred, q = batch
        out = net(x, pred, q)
        loss, bpp, mse = rate_distortion(out["bits_y"] + out["bits_z"], out["x_hat"], x, net.lam(q))
        psnr = -10 * math.log10(max(float(mse.detach()), 1e-10))
        return loss, {"loss": float(loss.detach()), "bpp": float(bpp.detach()), "psnr": psnr, "q": q}

    @torch.no_grad()
    def evaluate(self, model: ConditionalModel) -> dict[int, dict[str, float]] | None:
        if not self.cfg.eval_pairs:
            return None
        was = model.training
        model.eval()
        try:
            out = {}
            for q in range(model.qualities):
                x, pred = self.make(*self.eval_x, q)
                loss, logs = self.loss(model, (x, pred, q))
                pmse = float(F.mse_loss(pred, x))
                out[q] = {**logs, "pred_psnr": -10 * math.log10(max(pmse, 1e-10))}
            return out
        finally:
            model.train(was)

    def describe_eval(self, metrics: dict[int, dict[str, float]]) -> str:
        return " ".join(
            f"q{q}:{r['bpp']:.3f}bpp/{r['psnr']:.2f}dB(pred {r['pred_psnr']:.1f})" for q, r in metrics.items()
        )


def train(cfg: VideoTrainConfig, log=print) -> ConditionalModel:
    """Train (or continue training) the P-frame model for ``cfg.steps`` steps."""
    return run_training(cfg, VideoTask(cfg), cfg.to_dict(), log)
