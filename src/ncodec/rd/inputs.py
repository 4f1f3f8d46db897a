"""Turning a folder or a manifest into the prepared items the harness feeds to every codec.

Preparation is deterministic and recorded in each item's ``meta``:

* images: optionally the "Kodak-like" evaluation crop — downscale with a Lanczos filter (Pillow, reducing
  gap off) by the largest factor ≤ 1 that still covers the target (768×512 landscape, 512×768 portrait),
  then take the centre crop; images smaller than the target are skipped and reported;
* audio: an excerpt of ``excerpt`` seconds starting at ``offset`` seconds (moved earlier if the file is
  too short; whole file if shorter than the excerpt), channels kept (mono/stereo), native sample rate;
* video: the first ``frames`` frames (grey sequences become RGB with equal channels); odd sizes are
  cropped by one pixel so 4:2:0 is possible.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ncodec.datasets.images import kodak_crop
from ncodec.errors import MediaError
from ncodec.io.media import frame_files, load_audio, load_image, load_video, media_kind
from ncodec.rd.codecs import Item


def _digest(arr: np.ndarray, **params: object) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(str(arr.shape).encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def discover(
    path: str | os.PathLike[str], media: str | None = None, category: str | None = None
) -> tuple[Path, list[Path]]:
    """The base folder and the media paths of a folder (recursive), a single file or a manifest JSON.

    Raises :class:`ncodec.MediaError` when nothing usable is found.
    """
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: no such file or folder")
    if p.is_file() and p.suffix.lower() == ".json":
        try:
            doc = json.loads(p.read_text())
            records = doc["items"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MediaError(f"{p}: not an ncodec manifest ({exc})") from exc
        base = p.parent.parent if p.parent.name == "manifests" else p.parent
        paths = []
        for r in records:
            if category and r.get("category") != category:
                continue
            if media and r.get("media") != media:
                continue
            paths.append(base / r["path"])
        missing = [q for q in paths if not q.exists()]
        if missing:
            raise MediaError(f"{p}: {len(missing)} listed files are missing, e.g. {missing[0]}")
    elif p.is_file():
        base, paths = p.parent, [p]
    else:
        base = p
        try:
            seq_dirs = (
                {d for d in [p, *p.rglob("*")] if d.is_dir() and frame_files(d)}
                if media == "video"
                else set()
            )
            files = sorted(
                f for f in p.rglob("*") if f.is_file() and not any(f.is_relative_to(d) for d in seq_dirs)
            )
        except PermissionError as exc:
            raise MediaError(f"{p}: cannot read folder ({exc})") from exc
        paths = sorted(seq_dirs) + [f for f in files if media_kind(f) is not None]
    if media is not None:
        paths = [q for q in paths if media_kind(q) == media]
    if not paths:
        what = f"{media} " if media else "media "
        raise MediaError(f"{p}: no {what}files found")
    kinds = {media_kind(q) for q in paths}
    if len(kinds) > 1:
        raise MediaError(f"{p}: mixed media {sorted(k for k in kinds if k)}; choose one with --media")
    return base, sorted(paths)


def load_items(
    path: str | os.PathLike[str],
    media: str | None = None,
    category: str | None = None,
    crop: tuple[int, int] | None = None,
    excerpt: float | None = None,
    offset: float = 0.0,
    frames: int | None = None,
    limit: int | None = None,
) -> list[Item]:
    """Read and prepare every item of ``path`` (see the module docstring). Unreadable files raise."""
    base, paths = discover(path, media, category)
    items: list[Item] = []
    for q in paths[: limit or None]:
        rel = q.relative_to(base).as_posix() if q.is_relative_to(base) and q != base else q.name
        kind = media_kind(q)
        if kind == "image":
            img = load_image(q)
            meta: dict[str, object] = {"source": rel, "original_size": [img.shape[1], img.shape[0]]}
            if crop is not None:
                out = kodak_crop(img, crop)
                if out is None:
                    print(
                        f"skipping {rel}: {img.shape[1]}x{img.shape[0]} is smaller than {crop[0]}x{crop[1]}",
                        file=sys.stderr,
                    )
                    continue
                img = out
                meta["crop"] = f"lanczos-downscale-cover+centre-crop {img.shape[1]}x{img.shape[0]}"
            items.append(Item(rel, "image", img, digest=_digest(img, **meta), meta=meta))
        elif kind == "audio":
            data, rate = load_audio(q)
            if data.shape[1] > 2:
                raise MediaError(f"{q}: {data.shape[1]} channels; the harness takes mono or stereo")
            meta = {"source": rel, "sample_rate": rate}
            if excerpt is not None:
                n = int(round(excerpt * rate))
                start = min(int(round(offset * rate)), max(0, data.shape[0] - n))
                data = data[start : start + n]
                meta.update(excerpt_start_s=start / rate, excerpt_s=data.shape[0] / rate)
            items.append(
                Item(
                    rel,
                    "audio",
                    np.ascontiguousarray(data),
                    sample_rate=rate,
                    digest=_digest(data, rate=rate, **meta),
                    meta=meta,
                )
            )
        elif kind == "video":
            vid, fps = load_video(q, max_frames=frames)
            h, w = vid.shape[1] // 2 * 2, vid.shape[2] // 2 * 2
            vid = np.ascontiguousarray(vid[:, :h, :w])
            meta = {"source": rel, "frames": vid.shape[0], "fps": fps, "size": [w, h]}
            items.append(Item(rel, "video", vid, fps=fps, digest=_digest(vid, **meta), meta=meta))
    if not items:
        raise MediaError(f"{path}: no usable items (all were smaller than the crop)")
    return items


def parse_size(text: str) -> tuple[int, int]:
    """``"768x512"`` → ``(768, 512)``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise MediaError(f"bad size {text!r}; expected WxH, e.g. 768x512") from None
    if w <= 0 or h <= 0:
        raise MediaError(f"bad size {text!r}")
    return w, h


def split_names(text: str | None, default: Sequence[str]) -> list[str]:
    """Comma-separated names, or ``default``."""
    if not text:
        return list(default)
    return [t.strip().lower() for t in text.split(",") if t.strip()]
