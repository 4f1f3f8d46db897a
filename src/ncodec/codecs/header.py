"""Checks every codec runs on an ``.ncd`` header before decoding: the file names this codec, was written
with these weights, holds this medium, and records a quality the codec has."""

from __future__ import annotations

import re

from ncodec.container import NcdHeader, parse
from ncodec.errors import FormatError

_QUALITY = re.compile(r"0|[1-9][0-9]*")


def check_header(
    data: bytes, name: str, digest: bytes, *, media: str, qualities: int | None = None, strict: bool = True
) -> tuple[NcdHeader, int | None]:
    """Parse a file's header and check that it belongs to codec ``name`` with weights ``digest`` and
    holds ``media``; with ``qualities``, also read the ``quality`` field (ASCII digits, below
    ``qualities``).  Returns the header and the quality (``None`` without ``qualities``).
    ``strict=False`` checks the header alone and leaves damaged chunks to the caller."""
    h = parse(data, strict=strict).header
    return h, check_parsed_header(h, name, digest, media=media, qualities=qualities)


def check_parsed_header(
    h: NcdHeader, name: str, digest: bytes, *, media: str, qualities: int | None = None
) -> int | None:
    """:func:`check_header` on a header already parsed (e.g. by :class:`~ncodec.container.NcdReader`);
    returns the quality (``None`` without ``qualities``)."""
    if h.codec != name:
        raise FormatError(f"unknown codec '{h.codec}' (this decoder is '{name}')")
    if h.weights_hash != digest:
        raise FormatError(f"file was written with other weights of '{name}' (weights hash differs)")
    if h.media.kind != media:
        article = "an" if media[0] in "aeiou" else "a"
        raise FormatError(f"not {article} {media} file ({h.media.kind})")
    if qualities is None:
        return None
    q_text = dict(h.extra).get("quality", "")
    if not _QUALITY.fullmatch(q_text) or int(q_text) >= qualities:
        raise FormatError(f"bad quality field {q_text!r}")
    return int(q_text)
