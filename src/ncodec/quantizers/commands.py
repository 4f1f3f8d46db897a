"""``ncodec demo --quantizers``: every quantizer on the bundled sample photo (patches → tokens → patches).

``sample_photo`` is re-exported here from :mod:`ncodec.io` (where it lives) for existing imports.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ncodec.errors import MediaError
from ncodec.io import read_image, sample_photo
from ncodec.metrics.image import psnr
from ncodec.quantizers import BSQ, FSQ, LFQ, RVQ, VQ, Quantizer

PATCH = 4

__all__ = ["quantizer_demo", "run_demo", "sample_photo"]


def load_rgb(path: Path) -> torch.Tensor:
    """An image file → float tensor ``(3, H, W)`` in [0, 1] (the codec's input policy)."""
    x, _ = read_image(path)
    if x.shape[1] < PATCH or x.shape[2] < PATCH:
        raise MediaError(f"image {path} is smaller than {PATCH}x{PATCH}")
    return x


def to_patches(img: torch.Tensor) -> torch.Tensor:
    """``(3, H, W)`` → ``(1, 3*P*P, H/P, W/P)`` (cropped to a multiple of the patch size)."""
    c, h, w = img.shape
    h, w = h - h % PATCH, w - w % PATCH
    x = img[:, :h, :w].reshape(c, h // PATCH, PATCH, w // PATCH, PATCH)
    return x.permute(0, 2, 4, 1, 3).reshape(1, c * PATCH * PATCH, h // PATCH, w // PATCH)


def from_patches(p: torch.Tensor) -> torch.Tensor:
    _, d, hp, wp = p.shape
    c = d // (PATCH * PATCH)
    x = p.reshape(c, PATCH, PATCH, hp, wp).permute(0, 3, 1, 4, 2)
    return x.reshape(c, hp * PATCH, wp * PATCH)


class _Whitened(torch.nn.Module):
    """PCA whitening of patches to ``k`` components, so scalar/binary quantizers act on decorrelated data."""

    def __init__(self, patches: torch.Tensor, k: int) -> None:
        super().__init__()
        rows = patches.movedim(1, -1).reshape(-1, patches.shape[1])
        self.mean = rows.mean(0)
        _, s, vh = torch.linalg.svd(rows - self.mean, full_matrices=False)
        self.basis = vh[:k]
        self.scale = (s[:k] / np.sqrt(rows.shape[0])).clamp_min(1e-6)

    def encode(self, p: torch.Tensor) -> torch.Tensor:
        x = p.movedim(1, -1) - self.mean
        return ((x @ self.basis.t()) / self.scale).movedim(-1, 1)

    def decode(self, c: torch.Tensor) -> torch.Tensor:
        x = (c.movedim(1, -1) * self.scale) @ self.basis + self.mean
        return x.movedim(-1, 1)


def run_demo(path: Path, steps: int = 8, seed: int = 0) -> list[dict[str, float | str]]:
    """Fit and apply each quantizer to the patches of ``path``; returns one result row per quantizer."""
    torch.manual_seed(seed)
    img = load_rgb(path)
    patches = to_patches(img)
    ref = from_patches(patches)
    npix = ref.shape[1] * ref.shape[2]
    dim = patches.shape[1]
    rows: list[dict[str, float | str]] = []

    def report(name: str, q: Quantizer, encode, decode, fit_input: torch.Tensor, **quantize_kw) -> None:
        t0 = time.perf_counter()
        q.train()
        for _ in range(steps):
            q(fit_input)
        q.eval()
        with torch.no_grad():
            idx = q.quantize(fit_input, **quantize_kw)
            rec = from_patches(decode(q.dequantize(idx)))
        stats = q(fit_input).stats
        bits = q.bits_per_position * idx[0, 0].numel() if idx.shape[1] else 0.0
        if quantize_kw.get("n_q"):
            bits = bits * quantize_kw["n_q"] / q.num_streams
        rows.append(
            {
                "quantizer": name,
                "bpp_fixed_length": bits / npix,
                "psnr_db": psnr(ref.numpy(), rec.clamp(0, 1).numpy(), data_range=1.0),
                "usage": stats.get("usage", float("nan")),
                "perplexity": stats.get("perplexity", float("nan")),
                "seconds": time.perf_counter() - t0,
            }
        )

    ident = (lambda x: x), (lambda x: x)
    report("VQ K=1024 (k-means+EMA)", VQ(dim, 1024), *ident, patches)
    rvq = RVQ(dim, 4, 256)
    for n in (1, 2, 4):
        report(f"RVQ 4x256, n_q={n}", rvq, *ident, patches, n_q=n)
    report("RVQ 4x256, n_q=4, beam 4", rvq, *ident, patches, n_q=4, beam=4)
    white = _Whitened(patches, 8)
    coeffs = white.encode(patches)
    report(
        "FSQ [8,8,6,5,5,5,4,4] on PCA",
        FSQ([8, 8, 6, 5, 5, 5, 4, 4]),
        lambda x: x,
        lambda c: white.decode(torch.atanh(c.clamp(-0.95, 0.95)) * 2.0),  # undo FSQ's tanh bound
        coeffs / 2.0,
    )
    report("BSQ 8 bits on PCA", BSQ(8, 8), lambda x: x, lambda c: white.decode(c * 2.0), coeffs)
    report("LFQ 8 bits on PCA", LFQ(8, 8), lambda x: x, lambda c: white.decode(c * 0.8), coeffs)
    return rows


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise MediaError(f"--steps must be at least 1 (training updates per quantizer), got {args.steps}")
    path = Path(args.image) if args.image else sample_photo()
    rows = run_demo(path, steps=args.steps)
    print(f"{path.name}: quantizers on {PATCH}x{PATCH} RGB patches (fixed-length bits, no entropy coding)")
    print(f"{'quantizer':34s} {'bpp':>6s} {'PSNR dB':>8s} {'usage':>6s} {'ppl':>8s} {'s':>6s}")
    for r in rows:
        print(
            f"{r['quantizer']:34s} {r['bpp_fixed_length']:6.3f} {r['psnr_db']:8.2f} "
            f"{r['usage']:6.2f} {r['perplexity']:8.1f} {r['seconds']:6.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


def quantizer_demo(args: argparse.Namespace) -> int:
    """``ncodec demo --quantizers``: every quantizer on the sample photo's patches."""
    return _cmd_demo(args)
