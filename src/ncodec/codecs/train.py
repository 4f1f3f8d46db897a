"""The training loop every medium shares: resumable, reproducible, CPU or GPU, ``torchrun``-ready.

:func:`run_training` owns what does not depend on the medium: the device and (under ``torchrun``)
the process group and DistributedDataParallel, seeding, the optimisers (a main one and, for
compressai's entropy bottlenecks, an auxiliary one), the learning-rate schedule, gradient clipping,
atomic checkpoints of the model, optimisers, step and every RNG state (``out_dir/last.pt``: running
again continues where it stopped and reproduces the uninterrupted run), starting from another run's
weights, and the ``log.jsonl`` log.  The medium supplies a :class:`Task`: the model, its training
batches, its loss, and the held-out evaluation it logs at checkpoints.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ncodec.codecs.weights import CDF_SUFFIXES
from ncodec.io.atomic import write_atomic


@dataclass
class TrainerConfig:
    """The medium-independent settings of a run (a medium's config carries these fields too)."""

    out_dir: str = "runs/model"
    steps: int = 100_000
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lr_drop_at: float = 0.9  # fraction of steps after which the learning rate is divided by 10
    # "step": lr, then lr/10 after lr_drop_at*steps; "cosine": lr decays to lr/100 along a half cosine
    # from step lr_from to steps (a fine-tuning segment of a resumed run)
    schedule: str = "step"
    lr_from: int = 0
    # a checkpoint (``last.pt``) of another run whose weights start this run (fresh optimisers, step 0);
    # parameters this model adds keep their initialisation
    init_from: str = ""
    clip: float = 1.0
    ckpt_every: int = 500
    log_every: int = 50
    eval_every: int = 0  # steps between held-out evaluations (0: at every checkpoint)
    seed: int = 0
    threads: int = 0
    device: str = "auto"  # "auto": the local CUDA device when there is one, else the CPU


class Task(Protocol):
    """What a medium gives the trainer."""

    def build_model(self) -> torch.nn.Module:
        """A freshly initialised model (called after seeding)."""
        ...

    def setup(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """Load the training data and place the model (e.g. memory format); returns the model."""
        ...

    def batch(self, gen: torch.Generator, device: torch.device) -> Any:
        """The next training batch, drawn with ``gen`` only (so a resumed run draws the same)."""
        ...

    def loss(self, net: Any, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        """Loss and values to log; ``net`` calls the (possibly DDP-wrapped) forward and reads the
        model's attributes."""
        ...

    def evaluate(self, model: torch.nn.Module) -> dict[str, Any] | None:
        """Held-out metrics at a checkpoint (None: nothing to evaluate)."""
        ...

    def describe_eval(self, metrics: dict[str, Any]) -> str:
        """One log line for :meth:`evaluate`'s result."""
        ...


def learning_rate(cfg: TrainerConfig, step: int) -> float:
    """The main optimiser's learning rate at ``step`` under ``cfg.schedule``."""
    if cfg.schedule == "cosine":
        t = min(max(step - cfg.lr_from, 0) / max(cfg.steps - cfg.lr_from, 1), 1.0)
        lo = cfg.lr / 100
        return lo + 0.5 * (cfg.lr - lo) * (1 + math.cos(math.pi * t))
    if cfg.schedule != "step":
        raise ValueError(f"unknown learning-rate schedule {cfg.schedule!r} (step or cosine)")
    return cfg.lr * (0.1 if step >= cfg.lr_drop_at * cfg.steps else 1.0)


def rate_distortion(
    bits: torch.Tensor, x_hat: torch.Tensor, x: torch.Tensor, lam: float, peak: float = 255.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``rate + lam * peak^2 * MSE`` for a batch ``x (B, C, *spatial)``: the rate is ``bits`` per
    position (per pixel of an image, per sample of audio, per pixel of all frames of a clip).
    Returns the loss, the rate and the MSE."""
    positions = x.shape[0] * math.prod(x.shape[2:])
    rate = bits / positions
    mse = F.mse_loss(x_hat, x)
    return rate + lam * peak**2 * mse, rate, mse


def distributed() -> tuple[int, int]:
    """``(rank, world size)``; joins the process group ``torchrun`` set up."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")  # started by torchrun
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def pick_device(name: str) -> torch.device:
    """``"auto"``: the local CUDA device (``LOCAL_RANK`` under torchrun) when there is one, else the CPU."""
    device = torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _is_aux(name: str) -> bool:
    return name.endswith(".quantiles")  # compressai's EntropyBottleneck: trained by its own aux loss


def optimisers(
    model: torch.nn.Module, cfg: TrainerConfig
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
    main = [p for n, p in model.named_parameters() if not _is_aux(n)]
    aux = [p for n, p in model.named_parameters() if _is_aux(n)]
    opt = torch.optim.Adam(main, lr=cfg.lr)
    aux_opt = torch.optim.Adam(aux, lr=cfg.aux_lr) if aux else None
    return opt, aux_opt


def save_checkpoint(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` written atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_atomic(path, buf.getvalue(), force=True)


def init_weights(model: torch.nn.Module, path: str | os.PathLike[str], device: torch.device) -> list[str]:
    """Load the weights of the checkpoint ``path`` into ``model``; returns the names of the tensors the
    checkpoint lacks (which must all belong to modules the checkpoint's model did not have)."""
    state = torch.load(path, map_location=device, weights_only=False)
    state = state.get("model", state)
    state = {k: v for k, v in state.items() if not k.endswith(CDF_SUFFIXES)}  # rebuilt from the weights
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(CDF_SUFFIXES)]
    own = {n.split(".")[0] for n in state}
    foreign = [k for k in missing if k.split(".")[0] in own]
    if unexpected or foreign:
        raise ValueError(f"{path} does not fit this model (extra {unexpected[:3]}, missing {foreign[:3]})")
    return missing


class _Forward:
    """Calls the DDP-wrapped forward; reads every other attribute from the bare model."""

    def __init__(self, ddp: torch.nn.Module, model: torch.nn.Module) -> None:
        self._ddp, self._model = ddp, model

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self._ddp(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def run_training(cfg: TrainerConfig, task: Task, config: dict[str, Any], log=print) -> torch.nn.Module:
    """Train (or continue training) ``task``'s model for ``cfg.steps`` steps; returns the model.

    ``config`` (the medium's whole configuration, JSON-able) is stored in ``config.json`` and in every
    checkpoint."""
    rank, world = distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = task.build_model().to(device)
    opt, aux_opt = optimisers(model, cfg)
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
            (out / "config.json").write_text(json.dumps(config, indent=2))
    model = task.setup(model, device)
    eval_every = cfg.eval_every or cfg.ckpt_every
    net: Any = model
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
        net = _Forward(ddp, model)
    model.train()
    log_file = (out / "log.jsonl").open("a") if rank == 0 else None
    t0 = time.perf_counter()
    loss = torch.zeros(())
    while step < cfg.steps:
        for g in opt.param_groups:
            g["lr"] = learning_rate(cfg, step)
        loss, logs = task.loss(net, task.batch(gen, device))
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
        if rank == 0 and (step % eval_every == 0 or step == cfg.steps):
            metrics = task.evaluate(model)
            if metrics is not None:
                log_file.write(json.dumps({"eval": metrics, "step": step}) + "\n")
                log_file.flush()
                log("eval " + task.describe_eval(metrics))
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            gens = [gen.get_state()]
            if world > 1:  # every rank's batch generator, so a resumed run draws the same batches
                gathered: list[Any] = [None] * world
                dist.all_gather_object(gathered, gens[0])
                gens = gathered
            if rank == 0:
                save_checkpoint(
                    {
                        "model": model.state_dict(),
                        "opt": opt.state_dict(),
                        "aux_opt": aux_opt.state_dict() if aux_opt is not None else None,
                        "step": step,
                        "gen": gens,
                        "torch_rng": torch.get_rng_state(),
                        "py_rng": random.getstate(),
                        "config": config,
                    },
                    ckpt,
                )
    if log_file is not None:
        log_file.close()
    if not math.isfinite(float(loss.detach())):
        raise RuntimeError("training diverged (non-finite loss)")
    return model
