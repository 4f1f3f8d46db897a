"""Training of the image codec models: rate + lambda * distortion, resumable, CPU or GPU, torchrun-ready.

``train(TrainConfig(...))`` trains one :mod:`ncodec.codecs.image_models` model on random crops of
photos.  A checkpoint (model, optimisers, step, every RNG state) is written atomically every
``ckpt_every`` steps to ``out_dir/last.pt``; calling ``train`` again with the same ``out_dir`` continues
where it stopped and reproduces the uninterrupted run.  Under ``torchrun`` the model is wrapped in
DistributedDataParallel and each rank draws its own crops; rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from safetensors.torch import save_file

from ncodec.codecs.image_models import ImageModel, ImageModelConfig, build_model, rd_loss
from ncodec.errors import MediaError


class CropPool:
    """Photos downscaled once (factors ``scales``) and kept in memory; random crops with flips.

    Decoding and resampling a multi-megapixel photo per crop would dominate a CPU training step, so
    the downscaled copies are computed up front (a few hundred MB for DATA.md's ~60 training photos).
    """

    def __init__(
        self, paths: Sequence[str | os.PathLike[str]], crop: int, scales: Sequence[float] = (2, 3, 4)
    ):
        self.crop = int(crop)
        self.images: list[np.ndarray] = []
        for p in paths:
            try:
                with Image.open(p) as im:
                    rgb = im.convert("RGB")
                    rgb.load()
            except (OSError, SyntaxError) as exc:
                raise MediaError(f"cannot read training image {p}: {exc}") from exc
            for s in scales:
                w, h = round(rgb.width / s), round(rgb.height / s)
                if w >= self.crop and h >= self.crop:
                    self.images.append(np.asarray(rgb.resize((w, h), Image.Resampling.LANCZOS)))
        if not self.images:
            raise MediaError(f"no training image is at least {self.crop}x{self.crop} after downscaling")

    def batch(self, n: int, gen: torch.Generator) -> torch.Tensor:
        out = torch.empty(n, 3, self.crop, self.crop)
        for i in range(n):
            img = self.images[int(torch.randint(len(self.images), (), generator=gen))]
            h, w = img.shape[:2]
            top = int(torch.randint(h - self.crop + 1, (), generator=gen))
            left = int(torch.randint(w - self.crop + 1, (), generator=gen))
            crop = torch.from_numpy(img[top : top + self.crop, left : left + self.crop].copy())
            crop = crop.permute(2, 0, 1).float().div_(255)
            if bool(torch.rand((), generator=gen) < 0.5):
                crop = crop.flip(2)
            out[i] = crop
        return out


@dataclass
class TrainConfig:
    model: ImageModelConfig = field(default_factory=ImageModelConfig)
    images: list[str] = field(default_factory=list)
    out_dir: str = "runs/image"
    steps: int = 100_000
    batch: int = 8
    crop: int = 128
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lr_drop_at: float = 0.9  # fraction of steps after which the learning rate is divided by 10
    # "step": lr, then lr/10 after lr_drop_at*steps; "cosine": lr decays to lr/100 along a half cosine
    # from step lr_from to steps (a fine-tuning segment of a resumed run)
    schedule: str = "step"
    lr_from: int = 0
    # a checkpoint (``last.pt``) of another run whose weights start this run (fresh optimisers, step 0);
    # parameters this model adds (e.g. a context network) keep their initialisation
    init_from: str = ""
    clip: float = 1.0
    ckpt_every: int = 500
    log_every: int = 50
    eval_every: int = 0  # steps between held-out evaluations (0: at every checkpoint)
    eval_crops: int = 16
    seed: int = 0
    threads: int = 0
    device: str = "auto"  # "auto": the local CUDA device when there is one, else the CPU
    channels_last: bool = True  # NHWC tensors: about 20% faster convolutions on CPU (oneDNN)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        d["model"] = ImageModelConfig.from_dict(d.get("model", {}))
        return cls(**d)


def _rank() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")  # started by torchrun
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _optimisers(
    model: ImageModel, cfg: TrainConfig
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main, lr=cfg.lr)
    aux_opt = torch.optim.Adam(aux, lr=cfg.aux_lr) if aux else None
    return opt, aux_opt


def _save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export_weights(
    model: ImageModel, path: str | os.PathLike[str], meta: dict[str, str] | None = None
) -> None:
    """Write the model's weights (float32) and its config as a safetensors file."""
    tensors = {
        k: v.detach().float().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()
    }
    metadata = {"config": json.dumps(model.cfg.to_dict()), **(meta or {})}
    save_file(tensors, str(path), metadata=metadata)


def init_weights(model: ImageModel, path: str | os.PathLike[str], device: torch.device) -> list[str]:
    """Load the weights of the checkpoint ``path`` into ``model``; returns the names of the tensors the
    checkpoint lacks (which must all belong to modules the checkpoint's model did not have)."""
    state = torch.load(path, map_location=device, weights_only=False)
    state = state.get("model", state)
    tables = ("_quantized_cdf", "_offset", "_cdf_length")  # entropy tables: rebuilt from the weights
    state = {k: v for k, v in state.items() if not k.endswith(tables)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(tables)]
    own = {n.split(".")[0] for n in state}
    foreign = [k for k in missing if k.split(".")[0] in own]
    if unexpected or foreign:
        raise ValueError(f"{path} does not fit this model (extra {unexpected[:3]}, missing {foreign[:3]})")
    return missing


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """The main optimiser's learning rate at ``step`` under ``cfg.schedule``."""
    if cfg.schedule == "cosine":
        t = min(max(step - cfg.lr_from, 0) / max(cfg.steps - cfg.lr_from, 1), 1.0)
        lo = cfg.lr / 100
        return lo + 0.5 * (cfg.lr - lo) * (1 + math.cos(math.pi * t))
    if cfg.schedule != "step":
        raise ValueError(f"unknown learning-rate schedule {cfg.schedule!r} (step or cosine)")
    return cfg.lr * (0.1 if step >= cfg.lr_drop_at * cfg.steps else 1.0)


def train(cfg: TrainConfig, log=print) -> ImageModel:
    """Train (or continue training) ``cfg.model``; returns the model after ``cfg.steps`` steps."""
    rank, world = _rank()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    device = torch.device(
        cfg.device if cfg.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    model = build_model(cfg.model).to(device)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt, aux_opt = _optimisers(model, cfg)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    step = 0
    ckpt = out / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if aux_opt is not None and state.get("aux_opt"):
            aux_opt.load_state_dict(state["aux_opt"])
        step = int(state["step"])
        gen.set_state((state["gen"][rank] if rank < len(state["gen"]) else state["gen"][0]).cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        random.setstate(state["py_rng"])
        log(f"resumed from {ckpt} at step {step}")
    else:
        if cfg.init_from:
            added = init_weights(model, cfg.init_from, device)
            log(f"initialised from {cfg.init_from} ({len(added)} new tensors: {', '.join(added[:4])}...)")
        if rank == 0:
            (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    pool = CropPool(cfg.images, cfg.crop)
    # a fixed batch of crops (its own generator: the training stream is unaffected) to follow every
    # rate point's loss, bpp and PSNR through training
    eval_x = None
    if cfg.eval_crops:
        eval_x = pool.batch(cfg.eval_crops, torch.Generator().manual_seed(12345)).to(
            device, memory_format=fmt
        )
    eval_every = cfg.eval_every or cfg.ckpt_every
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    model.train()
    log_file = (out / "log.jsonl").open("a") if rank == 0 else None
    t0 = time.perf_counter()
    while step < cfg.steps:
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, step)
        q = int(torch.randint(model.qualities, (), generator=gen))
        x = pool.batch(cfg.batch, gen).to(device, non_blocking=True, memory_format=fmt)
        loss, logs = rd_loss(net if world == 1 else _DDPProxy(net, model), x, q)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        if aux_opt is not None:
            aux_opt.zero_grad(set_to_none=True)
            aux = model.aux_loss()
            aux.backward()
            aux_opt.step()
            logs["aux"] = float(aux.detach())
        step += 1
        if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
            logs.update(step=step, seconds=round(time.perf_counter() - t0, 1))
            log_file.write(json.dumps(logs) + "\n")
            log_file.flush()
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items()))
        if rank == 0 and eval_x is not None and (step % eval_every == 0 or step == cfg.steps):
            rec = {"eval": evaluate(model, eval_x), "step": step}
            log_file.write(json.dumps(rec) + "\n")
            log_file.flush()
            log(
                "eval "
                + " ".join(f"q{q}:{r['bpp']:.3f}bpp/{r['psnr']:.2f}dB" for q, r in rec["eval"].items())
            )
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            gens = [gen.get_state()]
            if world > 1:  # every rank's crop generator, so a resumed run draws the same crops
                gathered: list[Any] = [None] * world
                dist.all_gather_object(gathered, gens[0])
                gens = gathered
        if rank == 0 and (step % cfg.ckpt_every == 0 or step == cfg.steps):
            _save_atomic(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "aux_opt": aux_opt.state_dict() if aux_opt is not None else None,
                    "step": step,
                    "gen": gens,
                    "torch_rng": torch.get_rng_state(),
                    "py_rng": random.getstate(),
                    "config": cfg.to_dict(),
                },
                ckpt,
            )
    if log_file is not None:
        log_file.close()
    if not math.isfinite(float(loss.detach())):
        raise RuntimeError("training diverged (non-finite loss)")
    return model


@torch.no_grad()
def evaluate(model: ImageModel, x: torch.Tensor) -> dict[int, dict[str, float]]:
    """RD loss, bpp (the model's rate estimate) and PSNR of every quality on the batch ``x``."""
    was_training = model.training
    model.eval()
    try:
        out = {}
        for q in range(model.qualities):
            loss, logs = rd_loss(model, x, q)
            out[q] = {"loss": logs["loss"], "bpp": logs["bpp"], "psnr": logs["psnr"]}
        return out
    finally:
        model.train(was_training)


class _DDPProxy(torch.nn.Module):
    """Lets :func:`rd_loss` call the DDP-wrapped forward while reading attributes of the bare model."""

    def __init__(self, ddp: torch.nn.Module, model: ImageModel) -> None:
        super().__init__()
        self._ddp = ddp
        self._model = model

    def forward(self, x: torch.Tensor, q: int) -> dict[str, torch.Tensor]:
        return self._ddp(x, q)

    def lam(self, q: int) -> float:
        return self._model.lam(q)
