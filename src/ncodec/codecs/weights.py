"""Weights files: safetensors tensors with the model's configuration, name and card in the metadata.

One writer (:func:`write_weights`, atomic), one reader of the metadata (:func:`read_metadata`), one
reader of the tensors (:func:`load_tensors`) and the digest (:func:`weights_digest`) that ``.ncd`` files
record, so a file is only decoded with the weights it was written with.  No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as _serialize

from ncodec.errors import NcodecError
from ncodec.io.atomic import write_atomic

#: Buffers of compressai's entropy models that ``update()`` can rebuild from the weights.
CDF_SUFFIXES = ("_quantized_cdf", "_offset", "_cdf_length")


def weights_digest(module: torch.nn.Module) -> bytes:
    """SHA-256 of a module's state (names, dtypes, shapes and bytes, in sorted order)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.digest()


def raw_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata strings of a safetensors file."""
    try:
        with safe_open(str(path), "pt") as f:
            return dict(f.metadata() or {})
    except (OSError, SafetensorError) as exc:
        raise NcodecError(f"{path}: not a readable safetensors weights file ({exc})") from exc


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a weights file: ``config`` and (for shipped models) ``card``, parsed."""
    meta = raw_metadata(path)
    out: dict[str, Any] = {}
    for key in ("config", "card"):
        if key in meta:
            try:
                out[key] = json.loads(meta[key])
            except ValueError as exc:
                raise NcodecError(f"{path}: corrupt {key} metadata") from exc
    if "config" not in out:
        raise NcodecError(f"{path}: no model configuration in its metadata")
    return out


def load_tensors(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Every tensor of a weights file."""
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise NcodecError(f"{path}: not a readable safetensors weights file ({exc})") from exc


def write_weights(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> None:
    """The one writer of weights files: ``tensors`` and string ``metadata``, written atomically."""
    write_atomic(path, _serialize(tensors, metadata=metadata), force=True)


def save_weights(
    path: str | os.PathLike[str], state: dict, model: torch.nn.Module, name: str, card: dict | None
) -> None:
    """Write ``state`` with the model's configuration, its name and an optional card as metadata."""
    meta = {"config": json.dumps(model.cfg.to_dict()), "name": name}
    if card is not None:
        meta["card"] = json.dumps(card)
    write_weights(path, state, meta)


def rewrite_card(path: str | os.PathLike[str], card: dict) -> None:
    """Replace the card of a weights file, tensors and other metadata unchanged."""
    meta = raw_metadata(path)
    meta["card"] = json.dumps(card)
    write_weights(path, load_tensors(path), meta)


def load_float_weights(
    model: torch.nn.Module, state: dict, path: str | os.PathLike[str], complete: bool = True
) -> None:
    """Load a weights file's tensors into ``model``.  The integer CDF buffers of compressai's entropy
    models are rebuilt by ``update()`` and may be absent; anything else missing or extra (or
    ``complete=False``: the caller found something else missing) is a broken file."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(CDF_SUFFIXES)]
    if missing or unexpected or not complete:
        raise NcodecError(f"{path}: weights do not match the configuration ({missing[:3]} {unexpected[:3]})")
