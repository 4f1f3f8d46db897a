"""Media bundled with the package (see ``ncodec/data/README.md`` for their sources and licences)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_photo() -> Path:
    """Path of the bundled sample photo (a 384x256 RGB PNG)."""
    return Path(str(resources.files("ncodec") / "data" / "sample.png"))


def sample_speech() -> Path:
    """Path of the bundled speech clip (4.6 s, 16 kHz mono FLAC)."""
    return Path(str(resources.files("ncodec") / "data" / "speech.flac"))
