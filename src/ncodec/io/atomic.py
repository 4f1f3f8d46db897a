"""The one atomic file writer: every file ncodec writes (``.ncd`` files, decoded media, RD tables,
checkpoints, weights) goes through :func:`write_atomic`, so an interrupted or failed run leaves no
partial output, and an existing file is replaced only when the caller says so."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ncodec.errors import MediaError


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file under the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(
    path: str | os.PathLike[str], content: bytes | Callable[[BinaryIO], None], *, force: bool = False
) -> None:
    """Write ``content`` (bytes, or a function that writes into a binary file) to ``path`` atomically.

    The data goes to a temporary file in the same folder, which is renamed over ``path`` only once it
    is complete; on any error it is removed.  An existing ``path`` is replaced only with ``force`` (and
    keeps its permission bits); a new file gets the mode the umask gives.
    """
    path = Path(path)
    if path.exists() and not force:
        raise MediaError(f"{path} exists (use --force to overwrite)")
    parent = path.parent
    if not parent.is_dir():
        raise MediaError(f"{parent}: no such folder")
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = _new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
