"""Distributed training: EMA codebooks, k-means init and dead-code restarts stay identical across ranks."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ncodec.quantizers import VQ


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data(step: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(100 + step)
    return torch.randn(2, 4, 64, generator=g) * 3  # the global batch: 2 items, one per rank


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        torch.manual_seed(rank)  # different local randomness: broadcasts must make ranks agree
        vq = VQ(4, 16, kmeans_init=True, decay=0.5, dead_code_threshold=0.5).train()
        for step in range(4):
            vq(_data(step)[rank : rank + 1])
        torch.save(
            {"codebook": vq.codebook.clone(), "cluster_size": vq.cluster_size.clone()}, f"{out}.{rank}"
        )
    finally:
        dist.destroy_process_group()


def test_ema_and_restarts_agree_across_ranks(tmp_path) -> None:
    out = str(tmp_path / "state")
    mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
    s0, s1 = torch.load(f"{out}.0"), torch.load(f"{out}.1")
    assert torch.equal(s0["codebook"], s1["codebook"])
    assert torch.equal(s0["cluster_size"], s1["cluster_size"])


def _ema_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        vq = VQ(4, 16, kmeans_init=False, decay=0.5).train()
        for step in range(3):
            vq(_data(step)[rank : rank + 1])
        torch.save(vq.codebook.clone(), f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_distributed_ema_equals_single_process_on_global_batch(tmp_path) -> None:
    out = str(tmp_path / "cb")
    mp.spawn(_ema_worker, args=(_free_port(), out), nprocs=2, join=True)
    torch.manual_seed(0)
    single = VQ(4, 16, kmeans_init=False, decay=0.5).train()
    for step in range(3):
        single(_data(step))
    assert torch.allclose(torch.load(f"{out}.0"), single.codebook, atol=1e-5)
