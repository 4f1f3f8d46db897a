"""The contract every ncodec codec keeps, whatever its medium.

A :class:`Codec` is a ``torch.nn.Module`` that states what it is instead of being probed with
``hasattr``: its ``name`` (what ``.ncd`` files record), its ``media`` kind, its rate ladder
(``qualities``), the ``digest`` of the weights its files depend on, and the keyword options its
``compress`` accepts (``compress_options``).  It turns media into integer tokens and back
(``encode``/``decode``) and into complete ``.ncd`` files and back (``compress``/``decompress``), and
writes and reads its weights file (``save``/``from_file``).  Media subpackages (``codecs.image``, …)
subclass it and register with :mod:`ncodec.codecs.registry`.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from typing import Any, ClassVar

import torch

from ncodec.codecs.header import check_header
from ncodec.container import NcdHeader


class Codec(torch.nn.Module):
    """Base of every codec (see the module docstring)."""

    #: ``"image"``, ``"audio"`` or ``"video"``: the media kind of its input and of its files' headers.
    media: ClassVar[str] = ""
    #: Keyword options ``compress`` takes besides the media and the quality (e.g. ``"refine"``).
    compress_options: ClassVar[frozenset[str]] = frozenset()

    #: The model name ``.ncd`` files of this codec record.
    name: str
    #: SHA-256 of everything decoding depends on (weights, stored tables): recorded in every file.
    digest: bytes
    #: Number of rate points; qualities are ``0 .. qualities - 1``, higher is better.
    qualities: int

    @property
    def default_quality(self) -> int:
        """The quality ``ncodec encode`` uses without ``--quality``: the top one unless the model names
        another (a ladder whose top rungs are near-transparent)."""
        return self.qualities - 1

    def check_quality(self, quality: Any) -> int:
        """``quality`` as an int in ``[0, qualities)``; ValueError otherwise (bools and fractions too)."""
        if isinstance(quality, bool):
            raise ValueError(f"quality must be an integer in [0, {self.qualities - 1}], got {quality}")
        q = int(quality)
        if q != quality or not 0 <= q < self.qualities:
            raise ValueError(f"quality must be an integer in [0, {self.qualities - 1}], got {quality}")
        return q

    def check_file(self, data: bytes) -> tuple[NcdHeader, int]:
        """Check that ``data`` is a file of this codec, weights and medium; its header and quality."""
        h, q = check_header(data, self.name, self.digest, media=self.media, qualities=self.qualities)
        assert q is not None
        return h, q

    @abstractmethod
    def encode(self, x: Any, quality: int) -> Any:
        """Media → integer tokens (and what decoding needs besides the weights)."""

    @abstractmethod
    def decode(self, tokens: Any) -> Any:
        """Tokens → media."""

    @abstractmethod
    def compress(self, x: Any, quality: int) -> bytes:
        """Media → a complete ``.ncd`` file."""

    @abstractmethod
    def decompress(self, data: bytes) -> Any:
        """A ``.ncd`` file of this codec → media."""

    @abstractmethod
    def save(self, path: str | os.PathLike[str], card: dict | None = None) -> None:
        """Write the weights file (tensors, configuration, optional card)."""

    @classmethod
    @abstractmethod
    def from_file(cls, path: str | os.PathLike[str], name: str | None = None) -> Codec:
        """Load a weights file written by :meth:`save`."""
