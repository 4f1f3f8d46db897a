"""Reading the split manifests written by :mod:`ncodec.datasets.fetch`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ncodec.datasets.sources import data_root, manifest_path
from ncodec.errors import MediaError


def load_manifest(
    split: str,
    root: str | os.PathLike[str] | None = None,
    category: str | None = None,
    media: str | None = None,
) -> list[dict[str, Any]]:
    """The records of ``split`` (optionally one category/media), each with an absolute ``abspath`` added.

    Raises :class:`ncodec.MediaError` (telling how to fetch) when the manifest is missing.
    """
    path = manifest_path(split, root)
    if not path.is_file():
        raise MediaError(
            f"{path}: no manifest; fetch the data first: python scripts/fetch_data.py --split {split} "
            f"(data folder: $NCODEC_DATA or ~/.cache/ncodec/data)"
        )
    try:
        doc = json.loads(path.read_text())
        records = doc["items"]
    except (ValueError, KeyError) as exc:
        raise MediaError(f"{path}: corrupt manifest ({exc})") from exc
    base = data_root(root)
    out = []
    for r in records:
        if category is not None and r.get("category") != category:
            continue
        if media is not None and r.get("media") != media:
            continue
        out.append({**r, "abspath": str(base / r["path"])})
    return out


def manifest_paths(
    split: str,
    root: str | os.PathLike[str] | None = None,
    category: str | None = None,
    media: str | None = None,
) -> list[Path]:
    """Absolute paths of the records of ``split`` (see :func:`load_manifest`)."""
    return [Path(r["abspath"]) for r in load_manifest(split, root, category, media)]
