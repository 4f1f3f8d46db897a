"""Helpers shared by the test modules (importable as ``conftest``: pytest puts this folder on the path)."""

from __future__ import annotations

from pathlib import Path

import pytest


def skimage_photos() -> list[str]:
    """Three real photos shipped with scikit-image (the tests' small training and test set)."""
    skimage = pytest.importorskip("skimage")
    root = Path(skimage.__file__).parent / "data"
    return [str(root / n) for n in ("astronaut.png", "coffee.png", "chelsea.png")]
