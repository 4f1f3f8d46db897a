"""The model registry: names → shipped weights (safetensors inside the package), or a weights file.

``load("image-…")`` returns a ready :class:`~ncodec.codecs.image.ImageCodec`; ``load("path.safetensors")``
loads weights exported by ``scripts/train_image.py --export``.  Each weights file carries its model
configuration (and, for shipped models, its card) in the safetensors metadata.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from ncodec.errors import NcodecError


def weights_dir() -> Path:
    return Path(str(resources.files("ncodec"))) / "weights"


def available_models() -> dict[str, Path]:
    """Shipped model names and their weight files."""
    folder = weights_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.safetensors"))}


#: The model ``ncodec encode`` and ``ncodec demo`` use when none is named (the best shipped one).
DEFAULT_MODEL = "image-hyperprior-v5"


def default_model() -> str | None:
    """The name of the default model: :data:`DEFAULT_MODEL` if shipped, else the first shipped, else None."""
    models = available_models()
    return DEFAULT_MODEL if DEFAULT_MODEL in models else next(iter(models), None)


def model_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a weights file: ``config`` and (for shipped models) ``card``, parsed."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as f:
            meta = dict(f.metadata() or {})
    except (OSError, SafetensorError) as exc:
        raise NcodecError(f"{path}: not a readable safetensors weights file ({exc})") from exc
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


def resolve(name_or_path: str) -> tuple[str, Path]:
    """A model name or weights path → ``(name, path)``; raises NcodecError for unknown names."""
    p = Path(name_or_path)
    if p.suffix == ".safetensors":
        if not p.is_file():
            raise NcodecError(f"{p}: no such weights file")
        return p.stem, p
    models = available_models()
    if name_or_path not in models:
        known = ", ".join(models) or "none shipped yet"
        raise NcodecError(f"unknown model {name_or_path!r} (known: {known}; or pass a .safetensors file)")
    return name_or_path, models[name_or_path]


def load(name_or_path: str):
    """A ready-to-use codec for a shipped model name or a weights file."""
    from ncodec.codecs.image import ImageCodec
    from ncodec.codecs.image_tokens import TokenImageCodec

    name, path = resolve(name_or_path)
    bottleneck = model_card(path)["config"].get("bottleneck")
    if bottleneck == "hyperprior":
        return ImageCodec.from_file(path, name=name)
    if bottleneck in ("fsq", "rvq", "bsq"):
        return TokenImageCodec.from_file(path, name=name)
    raise NcodecError(f"{path}: no inference codec for bottleneck {bottleneck!r}")


def rd_summary(doc: dict, codec: str) -> dict:
    """A model card's ``rd_eval``: the model's points and its BD-rates against every other codec of an
    ``ncodec bench rd`` JSON document."""
    from ncodec.rd.harness import bd_table

    if codec not in doc["curves"]:
        raise NcodecError(f"{codec!r} is not in the RD results (curves: {', '.join(doc['curves'])})")
    keys = ("point", "bpp", "psnr", "ms_ssim_db", "psnr_y")
    return {
        "input": doc["input"],
        "items": len(doc["items"]),
        "command": doc.get("command"),
        "points": [{k: p[k] for k in keys if k in p} for p in doc["curves"][codec]],
        # BD-rate (%) of the model against every other codec of the run, per metric
        "bd_rate_percent_vs": {
            other: bd_table({codec: doc["curves"][codec], other: doc["curves"][other]}, other, "image")[codec]
            for other in doc["curves"]
            if other != codec
        },
    }
