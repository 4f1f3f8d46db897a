"""The model registry: names → shipped weights (safetensors inside the package) or a weights file, and
the codec class each weights file needs.

A weights file's configuration (safetensors metadata) names its ``media`` (files without the field are
images) and its ``bottleneck``; codec classes register for those with :func:`register_codec`, and a
medium registers itself with :func:`register_media` (the modules that define its codecs, its default
model and its command-line handler).  The registry imports no medium: a medium's package registers on
import (``ncodec.codecs`` imports each medium's light ``__init__``), and the modules holding its
networks are imported only when a codec of that medium is loaded, so ``ncodec info`` stays fast.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ncodec.codecs.weights import read_metadata
from ncodec.errors import NcodecError

#: ``model_card(path)``: the parsed ``config`` and ``card`` of a weights file (kept under its old name).
model_card = read_metadata


@dataclass
class MediaEntry:
    """What a medium registered: its codec modules, default model and command-line handler."""

    media: str
    modules: tuple[str, ...]
    default_model: str | None = None
    commands: Any = None
    fuzz_seeds: str | None = None  # "module:function" making real files of a codec for the codec fuzzer


_MEDIA: dict[str, MediaEntry] = {}
_CODECS: dict[tuple[str, str], type] = {}


def register_media(
    media: str,
    *,
    modules: tuple[str, ...] = (),
    default_model: str | None = None,
    commands: Any = None,
    fuzz_seeds: str | None = None,
) -> None:
    """Register a medium: ``modules`` define (and register) its codec classes and are imported before
    one of its models is loaded; ``commands`` handles ``ncodec encode/decode/demo`` for its files;
    ``fuzz_seeds`` (``"module:function"``) makes real files of one of its codecs for the codec fuzzer."""
    _MEDIA[media] = MediaEntry(media, tuple(modules), default_model, commands, fuzz_seeds)


def register_codec(media: str, *bottlenecks: str) -> Callable[[type], type]:
    """Class decorator: the codec class for weights files of ``media`` with these ``bottlenecks``."""

    def deco(cls: type) -> type:
        for b in bottlenecks:
            _CODECS[(media, b)] = cls
        return cls

    return deco


def media_entry(media: str) -> MediaEntry | None:
    return _MEDIA.get(media)


def registered_media() -> list[str]:
    return list(_MEDIA)


def config_media(config: dict[str, Any]) -> str:
    """The medium of a model configuration (``"image"`` when the file predates the field)."""
    return str(config.get("media", "image"))


def codec_class(config: dict[str, Any], path: str | os.PathLike[str]) -> type:
    """The registered codec class for a weights file's configuration."""
    media = config_media(config)
    entry = _MEDIA.get(media)
    if entry is None:
        raise NcodecError(f"{path}: no codec for {media!r} models")
    for module in entry.modules:
        importlib.import_module(module)  # defines and registers the medium's codec classes
    bottleneck = config.get("bottleneck")
    cls = _CODECS.get((media, bottleneck)) if isinstance(bottleneck, str) else None
    if cls is None:
        raise NcodecError(f"{path}: no inference codec for bottleneck {bottleneck!r}")
    return cls


def weights_dir() -> Path:
    return Path(str(resources.files("ncodec"))) / "weights"


def available_models(media: str | None = None) -> dict[str, Path]:
    """Shipped model names and their weight files (only those of ``media`` when given)."""
    folder = weights_dir()
    if not folder.is_dir():
        return {}
    models = {p.stem: p for p in sorted(folder.glob("*.safetensors"))}
    if media is None:
        return models
    return {n: p for n, p in models.items() if config_media(read_metadata(p)["config"]) == media}


#: The model ``ncodec encode`` and ``ncodec demo`` use for images when none is named.
DEFAULT_MODEL = "image-hyperprior-v5"


def default_model(media: str = "image") -> str | None:
    """The default model of ``media``: the one its package names if shipped, else its first shipped
    model, else None."""
    entry = _MEDIA.get(media)
    models = available_models(media)
    preferred = entry.default_model if entry else None
    return preferred if preferred in models else next(iter(models), None)


def resolve(name_or_path: str, allow_path: bool = True) -> tuple[str, Path]:
    """A model name (or, with ``allow_path``, a weights path) → ``(name, path)``; NcodecError for unknown
    names.  A file's header names a model: decoders resolve it with ``allow_path=False``."""
    p = Path(name_or_path)
    if p.suffix == ".safetensors" and allow_path:
        if not p.is_file():
            raise NcodecError(f"{p}: no such weights file")
        return p.stem, p
    models = available_models()
    if name_or_path not in models:
        known = ", ".join(models) or "none shipped yet"
        hint = "; or pass a .safetensors file" if allow_path else "; pass --model WEIGHTS.safetensors"
        raise NcodecError(f"unknown model {name_or_path!r} (known: {known}{hint})")
    return name_or_path, models[name_or_path]


def load(name_or_path: str, allow_path: bool = True):
    """A ready-to-use codec for a shipped model name or a weights file."""
    name, path = resolve(name_or_path, allow_path)
    cls = codec_class(read_metadata(path)["config"], path)
    try:
        return cls.from_file(path, name=name)
    except NcodecError:
        raise
    except (TypeError, ValueError, RuntimeError, IndexError, KeyError) as exc:  # what validation missed
        raise NcodecError(f"{path}: unusable weights file ({type(exc).__name__}: {exc})") from exc
