"""Weights files: safetensors tensors with the model's configuration, name and card in the metadata.

One writer (:func:`write_weights`, atomic), one reader of the metadata (:func:`read_metadata`), one
reader of the tensors (:func:`load_tensors`) and the digest (:func:`weights_digest`) that ``.ncd`` files
record, so a file is only decoded with the weights it was written with.  No pickle anywhere.
"""

from __future__ import annotations

import dataclasses
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
    if not isinstance(out["config"], dict):
        kind = type(out["config"]).__name__
        raise NcodecError(f"{path}: the model configuration must be a JSON object, not {kind}")
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


def config_from_dict(cls: type, d: Any, path: str | os.PathLike[str], positive: tuple[str, ...] = ()) -> Any:
    """A configuration dataclass from a weights file's JSON, validated as a whole: a JSON object, only
    known keys (plus the registry's ``media``), each value of its field's type, the ``positive``
    fields above zero.  One NcodecError naming the first problem."""
    if not isinstance(d, dict):
        raise NcodecError(f"{path}: the model configuration must be a JSON object, not {type(d).__name__}")
    d = {k: v for k, v in d.items() if k != "media"}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise NcodecError(f"{path}: unknown configuration keys {unknown}")
    for key, value in d.items():
        f = fields[key]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if not _same_kind(value, default):
            raise NcodecError(f"{path}: configuration {key}={value!r} is not a {type(default).__name__}")
        if key in positive and not _positive(value):
            raise NcodecError(f"{path}: configuration {key}={value!r} must be positive")
    try:
        return cls.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise NcodecError(f"{path}: bad model configuration ({exc})") from exc


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, tuple | list):
        return isinstance(value, list | tuple) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        )
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def _positive(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return len(value) > 0 and all(v > 0 for v in value)
    return value > 0


def check_tensors(
    model: torch.nn.Module,
    state: dict[str, torch.Tensor],
    path: str | os.PathLike[str],
    extra_prefixes: tuple[str, ...] = (),
) -> None:
    """Every tensor of a weights file against what the configuration builds: the same names (compressai's
    rebuildable CDF buffers may be absent; names under ``extra_prefixes`` belong to the codec), shapes
    and dtypes.  One NcodecError naming the first mismatch, before anything is loaded."""
    expected = model.state_dict()
    for name, t in state.items():
        if name.startswith(extra_prefixes):
            continue
        if name not in expected:
            raise NcodecError(f"{path}: tensor {name!r} is not part of this model's configuration")
        want = expected[name]
        if name.endswith(CDF_SUFFIXES):
            if t.dtype != want.dtype or t.dim() != want.dim():
                raise NcodecError(f"{path}: entropy table {name} has dtype {t.dtype} and {t.dim()} axes")
            continue
        if tuple(t.shape) != tuple(want.shape) or t.dtype != want.dtype:
            raise NcodecError(
                f"{path}: tensor {name} is {t.dtype} {tuple(t.shape)}, the configuration needs "
                f"{want.dtype} {tuple(want.shape)}"
            )
    missing = [k for k in expected if k not in state and not k.endswith(CDF_SUFFIXES)]
    if missing:
        raise NcodecError(f"{path}: tensors missing from the weights file: {missing[:3]}")
