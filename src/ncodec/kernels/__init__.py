"""Quantizer kernels: fused Triton kernels on GPU, plain torch references everywhere else.

The quantizers call the functions exported here.  Each one is a dispatcher with the signature of its
reference in :mod:`ncodec.kernels.reference`; it runs the Triton kernel when

* the input tensor is on a CUDA device (``tensor.is_cuda``), and
* Triton can be imported, and
* the environment variable ``NCODEC_FORCE_REFERENCE`` is not set to a true value
  (``1``, ``true``, ``yes``, ``on``; read at every call, so it can be flipped at run time),

and the torch reference otherwise.  A CPU tensor never takes the Triton path (the CPU interpreter,
``TRITON_INTERPRET=1``, is for tests, which call ``ncodec.kernels.triton_*`` directly).  Kernel modules
are imported on first GPU use, so ``import ncodec.kernels`` works without Triton.

Functions without a kernel (``vq_search_topk``, ``binary_unpack``, ``binary_group_symbols``,
``binary_group_pack``, ``fsq_symbols_to_codes``, ``fsq_basis``, ``fsq_bound``) are the references:
they are single cheap torch expressions (or, for top-k, a bounded-memory search whose cost is the sort).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from functools import cache
from types import ModuleType

import torch

from ncodec.kernels import reference as _ref
from ncodec.kernels.reference import (
    DEFAULT_CHUNK_ELEMS,
    binary_group_pack,
    binary_group_symbols,
    binary_unpack,
    fsq_basis,
    fsq_bound,
    fsq_symbols_to_codes,
    vq_search_topk,
)

FORCE_REFERENCE_ENV = "NCODEC_FORCE_REFERENCE"
_TRUE = frozenset({"1", "true", "yes", "on"})


@cache
def triton_available() -> bool:
    """Whether Triton is importable (checked once)."""
    return importlib.util.find_spec("triton") is not None


def force_reference() -> bool:
    """Whether ``NCODEC_FORCE_REFERENCE`` asks for the torch reference."""
    return os.environ.get(FORCE_REFERENCE_ENV, "").strip().lower() in _TRUE


def use_triton(t: torch.Tensor) -> bool:
    """The dispatch rule: CUDA tensor, Triton importable, reference not forced."""
    return t.is_cuda and triton_available() and not force_reference()


@cache
def _kernels(name: str) -> ModuleType:
    return importlib.import_module(f"ncodec.kernels.triton_{name}")


def vq_search(
    x: torch.Tensor,
    codebook: torch.Tensor,
    *,
    cosine: bool = False,
    return_distance: bool = False,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
    allow_tf32: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Nearest codebook row of every row of ``x``; see :func:`ncodec.kernels.reference.vq_search`.

    ``chunk_elems`` bounds the reference's tile (the kernel's memory is ``O(N + K)`` regardless);
    ``allow_tf32`` lets the kernel use TF32 products for float32 inputs (default off: exact enough to
    match the reference's indices away from near-ties).
    """
    if use_triton(x):
        return _kernels("vq").vq_search_triton(
            x, codebook, cosine=cosine, return_distance=return_distance, allow_tf32=allow_tf32
        )
    return _ref.vq_search(
        x, codebook, cosine=cosine, return_distance=return_distance, chunk_elems=chunk_elems
    )


def rvq_search(
    x: torch.Tensor,
    codebooks: torch.Tensor,
    *,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
    allow_tf32: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All residual-VQ stages: ``(indices (N, S), quantized (N, D) float32)``; see the reference."""
    if use_triton(x):
        return _kernels("vq").rvq_search_triton(x, codebooks, allow_tf32=allow_tf32)
    return _ref.rvq_search(x, codebooks, chunk_elems=chunk_elems)


def fsq_quantize(z: torch.Tensor, levels: tuple[int, ...] | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """FSQ symbols and packed indices; see :func:`ncodec.kernels.reference.fsq_quantize`."""
    if use_triton(z):
        return _kernels("fsq").fsq_quantize_triton(z, levels)
    return _ref.fsq_quantize(z, levels)


def fsq_unpack(packed: torch.Tensor, levels: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Packed FSQ indices to symbols; see :func:`ncodec.kernels.reference.fsq_unpack`."""
    if use_triton(packed):
        return _kernels("fsq").fsq_unpack_triton(packed, levels)
    return _ref.fsq_unpack(packed, levels)


def fsq_dequantize(packed: torch.Tensor, levels: tuple[int, ...] | list[int]) -> torch.Tensor:
    """Packed FSQ indices to code values in one pass; see :func:`ncodec.kernels.reference.fsq_dequantize`."""
    if use_triton(packed):
        return _kernels("fsq").fsq_dequantize_triton(packed, levels)
    return _ref.fsq_dequantize(packed, levels)


def binary_quantize(
    z: torch.Tensor, *, spherical: bool, group_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BSQ/LFQ codes, packed index (and group symbols); see the reference's ``binary_quantize``."""
    if use_triton(z):
        return _kernels("binary").binary_quantize_triton(z, spherical=spherical, group_size=group_size)
    return _ref.binary_quantize(z, spherical=spherical, group_size=group_size)


def binary_dequantize(packed: torch.Tensor, d: int, *, spherical: bool) -> torch.Tensor:
    """Packed binary indices to codes; see :func:`ncodec.kernels.reference.binary_dequantize`."""
    if use_triton(packed):
        return _kernels("binary").binary_dequantize_triton(packed, d, spherical=spherical)
    return _ref.binary_dequantize(packed, d, spherical=spherical)


__all__ = [
    "DEFAULT_CHUNK_ELEMS",
    "FORCE_REFERENCE_ENV",
    "binary_dequantize",
    "binary_group_pack",
    "binary_group_symbols",
    "binary_quantize",
    "binary_unpack",
    "force_reference",
    "fsq_basis",
    "fsq_bound",
    "fsq_dequantize",
    "fsq_quantize",
    "fsq_symbols_to_codes",
    "fsq_unpack",
    "rvq_search",
    "triton_available",
    "use_triton",
    "vq_search",
    "vq_search_topk",
]
