"""The .ncd container: reader and writer (specification: ``docs/FORMAT.md``).

Layout: magic, version, a CRC-protected header (codec, weights hash, media metadata, token layout,
quantizer and prior configuration), then independent chunks (each with its length and CRC32), a chunk index
for seeking and a fixed-size trailer pointing at the index.  All integers are little-endian fixed width or
unsigned LEB128 varints.  Parsing never allocates from a length field before checking it against the bytes
that are actually there, never loops without consuming input, and raises only :class:`ncodec.FormatError`.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import BinaryIO

import numpy as np
from numpy.typing import ArrayLike

from ncodec.container._bytes import Reader, Writer
from ncodec.entropy import coder
from ncodec.entropy.priors import (
    AdaptiveContextPrior,
    FrameIndexedPrior,
    IndexedTablePrior,
    Prior,
    PriorKind,
    UniformPrior,
    to_numpy_tokens,
)
from ncodec.entropy.tables import MAX_ALPHABET
from ncodec.errors import FormatError, ShapeError
from ncodec.io.atomic import write_atomic

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MEDIA_KINDS",
    "ChunkInfo",
    "MediaInfo",
    "NcdFile",
    "NcdReader",
    "NcdSpoolWriter",
    "Section",
    "TokenSection",
    "compress_sections",
    "decompress_sections",
    "NcdHeader",
    "compress",
    "decompress",
    "decompress_partial",
    "parse",
    "prior_for",
    "read_file",
    "rewrite_header",
    "write_file",
]

MAGIC = b"\x89NCD\r\n\x1a\n"
FORMAT_VERSION = 2
#: Versions this reader accepts (version 1 also lists the alphabets of an indexed prior; version 3 adds the
#: frame-sequential indexed prior and is written only by files that use it; docs/FORMAT.md).
READ_VERSIONS = (1, 2, 3)
FRAME_INDEXED_VERSION = 3
CHUNK_MAGIC = b"NCDC"
INDEX_MAGIC = b"NCDI"
TRAILER_MAGIC = b"NCDE"
TRAILER_SIZE = 16
CHUNK_OVERHEAD = 4 + 4 * 4 + 4  # magic, number, start, length, payload length, crc
MAX_HEADER = 1 << 16
MAX_STREAMS = 4096
MAX_RANK = 4
MAX_DIM = (1 << 32) - 1
MAX_PARAMS = 16
MAX_SECTIONS = 16
MAX_EXTRA = 64
#: Most tokens in one chunk coded with an adaptive or neural prior (their decoding works chunk-wise).
MAX_SEQUENTIAL_CHUNK_TOKENS = 1 << 22
#: Most symbols over all alphabets (bounds the tables a header can make a reader build: 128 MiB).
MAX_TABLE_ENTRIES = 1 << 24
#: Largest token array decompress() will allocate (int64): 2**27 tokens = 1 GiB.
MAX_FILE_TOKENS = 1 << 27
MEDIA_KINDS = ("tokens", "image", "audio", "video")


def _crc(b: bytes) -> int:
    return zlib.crc32(b) & 0xFFFFFFFF


@dataclass(frozen=True)
class MediaInfo:
    """What the tokens stand for; zeros mean "not applicable".

    ``length`` is the original length along time (samples for audio, frames for video) before padding;
    ``padding`` lists the padding added per spatial side (images: top, bottom, left, right; audio: start,
    end), so the decoder can crop exactly.
    """

    kind: str = "tokens"
    width: int = 0
    height: int = 0
    channels: int = 0
    sample_rate: int = 0
    frame_rate: tuple[int, int] = (0, 1)
    length: int = 0
    padding: tuple[int, ...] = ()


@dataclass(frozen=True)
class Section:
    """One token array of a file and what decoding it needs; ``shape`` is ``(B, S, *spatial)``."""

    quantizer: str
    token_form: int
    alphabet: tuple[int, ...]
    shape: tuple[int, ...]
    chunk_len: int
    prior_kind: int
    prior_name: str
    prior_digest: bytes
    prior_params: tuple[int, ...]

    @property
    def n_tokens(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def n_chunks(self) -> int:
        """Number of chunks (computed without building the list)."""
        if len(self.shape) <= 2 or self.shape[2] == 0:
            return 1
        return -(-self.shape[2] // self.chunk_len)

    @property
    def chunk_spans(self) -> list[tuple[int, int]]:
        """(start, length) along spatial axis 0 for each chunk (one chunk when there is no spatial axis)."""
        if len(self.shape) <= 2 or self.shape[2] == 0:
            return [(0, self.shape[2] if len(self.shape) > 2 else 0)]
        n = self.shape[2]
        return [(s, min(self.chunk_len, n - s)) for s in range(0, n, self.chunk_len)]

    @property
    def chunk_shape_tail(self) -> tuple[int, ...]:
        return self.shape[3:]


@dataclass(frozen=True)
class NcdHeader:
    """Everything in the header: codec, media metadata, one or more token sections, free metadata.

    The single-section accessors (``shape``, ``alphabet``, ``prior_kind``, ...) refer to section 0.
    """

    codec: str
    weights_hash: bytes
    media: MediaInfo
    sections: tuple[Section, ...]
    extra: tuple[tuple[str, str], ...] = ()
    version: int = FORMAT_VERSION

    def __getattr__(self, name: str):
        if name in _SECTION_FIELDS:
            return getattr(self.sections[0], name)
        raise AttributeError(name)

    @property
    def n_tokens(self) -> int:
        return sum(sec.n_tokens for sec in self.sections)

    @property
    def n_chunks(self) -> int:
        """Number of chunks over all sections (computed without building the list)."""
        return sum(sec.n_chunks for sec in self.sections)

    @property
    def chunk_spans(self) -> list[tuple[int, int, int]]:
        """(section, start, length) of every chunk, in file order (section by section)."""
        return [(i, s, n) for i, sec in enumerate(self.sections) for s, n in sec.chunk_spans]


_SECTION_FIELDS = frozenset(
    (
        "quantizer",
        "token_form",
        "alphabet",
        "shape",
        "chunk_len",
        "prior_kind",
        "prior_name",
        "prior_digest",
        "prior_params",
    )
)


@dataclass
class ChunkInfo:
    """One chunk as found in a file: location, payload (None if unreadable) and what is wrong with it."""

    number: int
    start: int
    length: int
    offset: int = -1
    size: int = 0
    payload: bytes | None = None
    error: str | None = None
    section: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and self.payload is not None


@dataclass
class NcdFile:
    """A parsed file: header, chunks, and file-level problems (index/trailer) found while parsing."""

    header: NcdHeader
    chunks: list[ChunkInfo]
    size: int
    header_size: int
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(c.ok for c in self.chunks)


# ---------------------------------------------------------------------------------------------- header


def _write_header(h: NcdHeader) -> bytes:
    w = Writer()
    w.string(h.codec)
    w.raw(h.weights_hash)
    m = h.media
    w.u8(MEDIA_KINDS.index(m.kind))
    for v in (m.width, m.height, m.channels, m.sample_rate, m.frame_rate[0], m.frame_rate[1], m.length):
        w.varint(v)
    w.varint(len(m.padding))
    for v in m.padding:
        w.varint(v)
    w.varint(len(h.sections))
    for sec in h.sections:
        w.string(sec.quantizer)
        w.u8(sec.token_form)
        w.varint(len(sec.alphabet))
        for k in sec.alphabet:
            w.varint(k)
        w.varint(len(sec.shape))
        for d in sec.shape:
            w.varint(d)
        w.varint(sec.chunk_len)
        w.u8(sec.prior_kind)
        w.string(sec.prior_name)
        w.raw(sec.prior_digest)
        w.varint(len(sec.prior_params))
        for p in sec.prior_params:
            w.varint(p)
    w.varint(len(h.extra))
    for k, v in h.extra:
        w.string(k)
        w.string(v, 4096)
    return w.getvalue()


def _read_section(r: Reader, i: int) -> Section:
    quantizer = r.string(f"section {i} quantizer name")
    token_form = r.u8(f"section {i} token form")
    if token_form > 1:
        raise FormatError(f"unknown token form {token_form} in section {i}")
    n_streams = r.varint(f"section {i} alphabet count", MAX_STREAMS)
    alphabet = tuple(r.varint(f"section {i} alphabet size", MAX_ALPHABET) for _ in range(n_streams))
    if any(k < 1 for k in alphabet):
        raise FormatError(f"an alphabet size of 0 is invalid (section {i})")
    rank = r.varint(f"section {i} token rank", MAX_RANK + 2)
    shape = tuple(r.varint(f"section {i} token dimension", MAX_DIM) for _ in range(rank))
    chunk_len = r.varint(f"section {i} chunk length", MAX_DIM)
    prior_kind = r.u8(f"section {i} prior kind")
    if prior_kind not in PriorKind.NAMES:
        raise FormatError(f"unknown prior kind {prior_kind} in section {i}")
    prior_name = r.string(f"section {i} prior name")
    prior_digest = r.take(32, f"section {i} prior digest")
    n_params = r.varint(f"section {i} prior parameter count", MAX_PARAMS)
    params = tuple(r.varint(f"section {i} prior parameter") for _ in range(n_params))
    return Section(
        quantizer, token_form, alphabet, shape, chunk_len, prior_kind, prior_name, prior_digest, params
    )


def _read_header(r: Reader, version: int = FORMAT_VERSION) -> NcdHeader:
    codec = r.string("codec name")
    weights_hash = r.take(32, "weights hash")
    kind = r.u8("media kind")
    if kind >= len(MEDIA_KINDS):
        raise FormatError(f"unknown media kind {kind}")
    width, height, channels, rate, fr_num, fr_den, length = (
        r.varint(n, MAX_DIM)
        for n in ("width", "height", "channels", "sample rate", "frame rate", "frame rate base", "length")
    )
    n_pad = r.varint("padding count", 8)
    padding = tuple(r.varint("padding", MAX_DIM) for _ in range(n_pad))
    media = MediaInfo(MEDIA_KINDS[kind], width, height, channels, rate, (fr_num, fr_den), length, padding)
    n_sections = r.varint("section count", MAX_SECTIONS)
    if n_sections < 1:
        raise FormatError("a file needs at least one token section")
    sections = tuple(_read_section(r, i) for i in range(n_sections))
    n_extra = r.varint("metadata entry count", MAX_EXTRA)
    extra = tuple((r.string("metadata key"), r.string("metadata value", 4096)) for _ in range(n_extra))
    h = NcdHeader(codec, weights_hash, media, sections, extra, version)
    _validate_header(h, FormatError)
    return h


def _validate_header(h: NcdHeader, err: type[Exception]) -> None:
    if not 1 <= len(h.sections) <= MAX_SECTIONS:
        raise err(f"{len(h.sections)} token sections (1..{MAX_SECTIONS} allowed)")
    total = sum(sum(sec.alphabet) for sec in h.sections)
    if total > MAX_TABLE_ENTRIES:
        raise err(f"alphabets total {total} symbols, more than the limit {MAX_TABLE_ENTRIES}")
    if len(h.weights_hash) != 32:
        raise err("hashes must be 32 bytes")
    for i, sec in enumerate(h.sections):
        _validate_section(sec, err, f" (section {i})" if len(h.sections) > 1 else "", h.version)


def _validate_section(h: Section, err: type[Exception], where: str, version: int) -> None:
    if len(h.shape) < 2:
        raise err(f"token shape {h.shape} needs at least (B, S){where}")
    if len(h.shape) > MAX_RANK + 2:
        raise err(f"token shape {h.shape} has more than {MAX_RANK} spatial axes{where}")
    if any(d < 0 or d > MAX_DIM for d in h.shape):
        raise err(f"token dimension out of range in {h.shape}{where}")
    if h.prior_kind != PriorKind.INDEXED and h.shape[1] != len(h.alphabet):
        raise err(
            f"token shape {h.shape} has {h.shape[1]} streams but {len(h.alphabet)} alphabet sizes{where}"
        )
    # Version 2 lists no alphabets for the indexed prior (its tables, named by the digest, give them).
    listed = h.prior_kind != PriorKind.INDEXED or version == 1
    if listed and not h.alphabet:
        raise err(f"empty alphabet list{where}")
    if not listed and h.alphabet:
        raise err(f"an indexed prior's alphabets come from its tables, not the header{where}")
    if h.prior_kind == PriorKind.INDEXED:
        allowed = ((0,), (1,), (1, 1)) if version >= FRAME_INDEXED_VERSION else ((0,), (1,))
        if h.prior_params not in allowed:
            raise err(f"indexed prior parameters {h.prior_params} not allowed in version {version}{where}")
    if h.chunk_len < 1:
        raise err(f"chunk length must be at least 1{where}")
    per_chunk = (
        h.n_tokens
        if len(h.shape) <= 2 or h.shape[2] == 0
        else h.n_tokens // h.shape[2] * min(h.chunk_len, h.shape[2])
    )
    if per_chunk > coder.MAX_TOKENS:
        raise err(f"{per_chunk} tokens per chunk exceed the limit {coder.MAX_TOKENS}{where}")
    if h.prior_kind in (PriorKind.ADAPTIVE, PriorKind.NEURAL) and per_chunk > MAX_SEQUENTIAL_CHUNK_TOKENS:
        raise err(
            f"{per_chunk} tokens per chunk exceed the limit {MAX_SEQUENTIAL_CHUNK_TOKENS} for "
            f"context-adaptive priors (use a smaller chunk_len){where}"
        )
    if len(h.prior_digest) != 32:
        raise err("hashes must be 32 bytes")


# --------------------------------------------------------------------------------------------- parsing


def _parse_chunk(data: bytes, pos: int, end: int, info: ChunkInfo) -> int | None:
    """Parse the chunk record at ``pos`` into ``info``; return where the record ends (None: unknown)."""
    info.offset = pos
    r = Reader(data, pos, end, what=f"chunk {info.number}")
    try:
        magic = r.take(4, f"chunk {info.number} marker")
        if magic != CHUNK_MAGIC:
            info.error = f"chunk {info.number}: no chunk marker at byte {pos}"
            return None
        number, start, length, n = (
            r.u32(f"chunk {info.number} {f}") for f in ("number", "start", "length", "payload length")
        )
        payload = r.take(n, f"chunk {info.number} payload")
        crc = r.u32(f"chunk {info.number} CRC")
    except FormatError as exc:
        info.error = str(exc)
        return None
    info.size = r.pos - pos
    if _crc(data[pos : r.pos - 4]) != crc:
        info.error = f"CRC mismatch in chunk {info.number} (bytes {pos}..{r.pos})"
        return r.pos
    if (number, start, length) != (info.number, info.start, info.length):
        info.error = (
            f"chunk {info.number} says it is chunk {number} covering [{start}, {start + length}), "
            f"expected [{info.start}, {info.start + info.length})"
        )
        return r.pos
    info.payload = payload
    return r.pos


def _parse_index(data: bytes, chunks_start: int, n_chunks: int) -> tuple[list[tuple[int, int]] | None, str]:
    """Read trailer and index; returns ((offset, size) per chunk, index offset) or (None, reason)."""
    size = len(data)
    if size - chunks_start < TRAILER_SIZE:
        return None, f"truncated at byte {size}: no room for the {TRAILER_SIZE}-byte trailer"
    t = Reader(data, size - TRAILER_SIZE, size, "trailer")
    if t.take(4, "trailer marker") != TRAILER_MAGIC:
        return None, f"no trailer marker at byte {size - TRAILER_SIZE} (file truncated or extended)"
    index_off = t.u64("index offset")
    if _crc(data[size - TRAILER_SIZE : size - 4]) != t.u32("trailer CRC"):
        return None, "CRC mismatch in trailer"
    if not chunks_start <= index_off <= size - TRAILER_SIZE:
        return None, f"trailer points to index at byte {index_off}, outside the file"
    r = Reader(data, index_off, size - TRAILER_SIZE, "chunk index")
    try:
        if r.take(4, "index marker") != INDEX_MAGIC:
            return None, f"no index marker at byte {index_off}"
        n = r.u32("index count")
        if n != n_chunks:
            return None, f"index lists {n} chunks, header implies {n_chunks}"
        entries = [(r.u64("chunk offset"), r.u32("chunk size")) for _ in range(n)]  # bounded: n checked
        crc = r.u32("index CRC")
    except FormatError as exc:
        return None, str(exc)
    if _crc(data[index_off : r.pos - 4]) != crc:
        return None, "CRC mismatch in chunk index"
    if r.remaining:
        return None, f"{r.remaining} unexpected bytes between index and trailer"
    pos = chunks_start
    for off, sz in entries:
        if off != pos or sz < CHUNK_OVERHEAD:
            return None, "chunk index offsets are not contiguous"
        pos += sz
    if pos != index_off:
        return None, "chunk index does not end where the index starts"
    return entries, ""


def _parse_head(data: bytes) -> tuple[NcdHeader, int]:
    """Magic, version, header and header CRC at the start of ``data``; returns (header, end offset)."""
    size = len(data)
    if size < len(MAGIC):
        raise FormatError(f"truncated at byte {size}: not even the {len(MAGIC)}-byte magic is there")
    if data[: len(MAGIC)] != MAGIC:
        raise FormatError(f"bad magic {data[:8]!r}: not an .ncd file")
    r = Reader(data, len(MAGIC))
    version = r.u16("format version")
    if version not in READ_VERSIONS:
        raise FormatError(
            f"unsupported format version {version} (this ncodec reads versions "
            f"{', '.join(map(str, READ_VERSIONS))})"
        )
    flags = r.u16("flags")
    if flags:
        raise FormatError(f"unsupported header flags 0x{flags:04x}")
    hlen = r.u32("header length")
    if hlen > MAX_HEADER:
        raise FormatError(f"header length {hlen} exceeds the limit {MAX_HEADER}")
    body_start = r.pos
    r.take(hlen, "header")
    crc = r.u32("header CRC")
    if _crc(data[len(MAGIC) : r.pos - 4]) != crc:
        raise FormatError("CRC mismatch in header")
    hr = Reader(data, body_start, body_start + hlen, "header")
    header = _read_header(hr, version)
    if hr.remaining:
        raise FormatError(f"{hr.remaining} unexpected bytes at the end of the header")
    return header, r.pos


def parse(data: bytes | bytearray | memoryview, strict: bool = True) -> NcdFile:
    """Parse a whole .ncd file held in memory.

    With ``strict=True`` any problem raises :class:`~ncodec.FormatError`.  With ``strict=False`` only an
    unreadable header raises; damaged chunks get ``error`` set and index/trailer problems are listed in
    ``NcdFile.errors``, so the undamaged chunks can still be decoded.
    """
    data = bytes(data)
    size = len(data)
    header, chunks_start = _parse_head(data)
    # Every chunk takes at least CHUNK_OVERHEAD bytes: a header that implies more chunks than the file
    # can hold is rejected before the chunk list is built (no allocation from a length field).
    if header.n_chunks * CHUNK_OVERHEAD > size - chunks_start:
        raise FormatError(
            f"header declares {header.n_chunks} chunks, but only {size - chunks_start} bytes follow it "
            f"(truncated at byte {size}?)"
        )
    spans = header.chunk_spans
    chunks = [ChunkInfo(k, s, n, section=i) for k, (i, s, n) in enumerate(spans)]
    nf = NcdFile(header, chunks, size, chunks_start)

    entries, why = _parse_index(data, chunks_start, len(chunks))
    if entries is None:
        nf.errors.append(f"chunk index unusable: {why}")
        if strict:
            raise FormatError(nf.errors[0])
    # Walk the chunks in order; where a record's own length is unusable, the index says where to go on.
    pos: int | None = chunks_start
    end_of_chunks = size - TRAILER_SIZE if entries is not None else size
    if entries is not None:
        end_of_chunks = entries[-1][0] + entries[-1][1] if entries else chunks_start
    for k, c in enumerate(chunks):
        if entries is not None:
            pos = entries[k][0]
            nxt = _parse_chunk(data, pos, pos + entries[k][1], c)
            if c.error is None and nxt != pos + entries[k][1]:
                c.error = f"chunk {k} is {c.size} bytes, the index says {entries[k][1]}"
                c.payload = None
        elif pos is None:
            c.error = f"chunk {k} cannot be located (an earlier chunk is unreadable and there is no index)"
        else:
            pos = _parse_chunk(data, pos, end_of_chunks, c)
        if strict and c.error:
            raise FormatError(c.error)
    return nf


# --------------------------------------------------------------------------------------------- priors


def prior_for(header: NcdHeader | Section, prior: Prior | None = None, section: int = 0) -> Prior:
    """The prior to decode a file with: ``prior`` checked against the header, or one rebuilt from it.

    Uniform priors and adaptive priors that start flat are fully described by the header; static, indexed
    and neural priors must be passed (their tables/weights live with the model), and must match the digest.
    ``section`` selects the token section of a multi-section file.
    """
    if isinstance(header, NcdHeader):
        if not 0 <= section < len(header.sections):
            raise FormatError(f"no token section {section} (the file has {len(header.sections)})")
        header = header.sections[section]
    kind_name = PriorKind.NAMES[header.prior_kind]
    if prior is None:
        built: Prior | None = None
        try:
            if header.prior_kind == PriorKind.UNIFORM:
                built = UniformPrior(header.alphabet)
            elif header.prior_kind == PriorKind.ADAPTIVE and header.prior_params[-1:] == (0,):
                built = AdaptiveContextPrior.from_params(header.alphabet, header.prior_params)
        except ValueError as exc:
            raise FormatError(f"invalid {kind_name} prior configuration in header: {exc}") from exc
        if built is not None:
            return prior_for(header, built)
        raise FormatError(
            f"file was coded with a {kind_name} prior '{header.prior_name}' "
            f"(digest {header.prior_digest.hex()[:16]}): pass that prior to decode it"
        )
    if isinstance(prior, IndexedTablePrior) and prior.index.shape != header.shape:
        raise FormatError(f"file holds {header.shape} latents, the table index has shape {prior.index.shape}")
    if prior.kind != header.prior_kind:
        raise FormatError(f"file was coded with a {kind_name} prior, got a {prior.kind_name} prior")
    # An indexed prior's alphabets are not in a version-2 header: its digest covers its tables.
    if header.alphabet and tuple(prior.alphabet) != header.alphabet:
        raise FormatError(f"file alphabet {header.alphabet} does not match the prior's {prior.alphabet}")
    if tuple(prior.params) != header.prior_params:
        raise FormatError(
            f"file prior parameters {header.prior_params} differ from the prior's {prior.params}"
        )
    if prior.digest != header.prior_digest:
        raise FormatError(
            f"file was coded with prior tables {header.prior_digest.hex()[:16]}, "
            f"the given prior has {prior.digest.hex()[:16]}"
        )
    return prior


def _chunk_prior(prior: Prior, header: NcdHeader | Section, start: int, length: int) -> Prior:
    if isinstance(prior, IndexedTablePrior) and len(header.shape) > 2:
        return prior.sliced(start, start + length)
    return prior


# ---------------------------------------------------------------------------------------------- writing


@dataclass
class TokenSection:
    """One token array to write, with its prior and the configuration recorded for it in the header."""

    tokens: ArrayLike
    prior: Prior
    quantizer: str = ""
    token_form: int = 0
    chunk_len: int | None = None
    prior_name: str = ""


PriorSpec = Prior | None | Callable[[list[np.ndarray]], Prior]


def compress(
    tokens: ArrayLike,
    prior: Prior,
    *,
    codec: str = "",
    weights_hash: bytes = bytes(32),
    media: MediaInfo | None = None,
    quantizer: str = "",
    token_form: int = 0,
    chunk_len: int | None = None,
    prior_name: str = "",
    extra: Sequence[tuple[str, str]] = (),
    verify: bool = True,
    version: int = FORMAT_VERSION,
) -> bytes:
    """Entropy-code ``tokens`` ``(B, S, *spatial)`` with ``prior`` into a complete .ncd file (bytes).

    Long token arrays are split along their first spatial axis into independent chunks of ``chunk_len``
    (default: one chunk).  With ``verify=True`` (default) the bytes are parsed and decoded again and the
    call raises :class:`~ncodec.FormatError` instead of returning a file that does not decode to exactly
    ``tokens`` (this is what protects against a prior whose tables are not reproducible).  ``version=1``
    writes the previous format version, for readers of older ncodec releases.
    """
    sec = TokenSection(tokens, prior, quantizer, token_form, chunk_len, prior_name)
    return compress_sections(
        [sec],
        codec=codec,
        weights_hash=weights_hash,
        media=media,
        extra=extra,
        verify=verify,
        version=version,
    )


def _version_for(priors: Sequence[Prior], version: int) -> int:
    """The version a file needs: ``version``, raised to 3 when a section uses the frame-sequential
    indexed prior (so every other file stays byte-identical to what version-2 writers made)."""
    if any(isinstance(p, FrameIndexedPrior) for p in priors) and version < FRAME_INDEXED_VERSION:
        if version == 1:
            raise ValueError("the frame-indexed prior needs format version 3")
        return FRAME_INDEXED_VERSION
    return version


def _section_header(sec: TokenSection, x: np.ndarray, version: int = FORMAT_VERSION) -> Section:
    if sec.token_form not in (0, 1):
        raise ValueError("token_form is 0 (packed indices) or 1 (per-dimension symbols)")
    chunk_len = sec.chunk_len
    if x.ndim > 2:
        n0 = x.shape[2]
        chunk_len = n0 if chunk_len is None else int(chunk_len)
        chunk_len = max(chunk_len, 1) if n0 == 0 else chunk_len
    else:
        chunk_len = 1 if chunk_len is None else int(chunk_len)
    p = sec.prior
    if isinstance(p, IndexedTablePrior) and p.index.shape != x.shape:
        raise ShapeError(f"tokens {x.shape} and table index {p.index.shape} differ in shape")
    return Section(
        quantizer=sec.quantizer,
        token_form=sec.token_form,
        alphabet=() if p.kind == PriorKind.INDEXED and version >= 2 else tuple(int(k) for k in p.alphabet),
        shape=tuple(int(d) for d in x.shape),
        chunk_len=chunk_len,
        prior_kind=p.kind,
        prior_name=sec.prior_name,
        prior_digest=p.digest,
        prior_params=tuple(int(v) for v in p.params),
    )


def compress_sections(
    sections: Sequence[TokenSection],
    *,
    codec: str = "",
    weights_hash: bytes = bytes(32),
    media: MediaInfo | None = None,
    extra: Sequence[tuple[str, str]] = (),
    verify: bool = True,
    version: int = FORMAT_VERSION,
) -> bytes:
    """Write several token arrays (e.g. a hyperprior codec's ``z`` and ``y``) into one .ncd file.

    Sections are coded independently, in order, each in its own chunks; a decoder may pick the prior of a
    later section from the tokens of earlier ones (:func:`decompress_sections`).  ``verify`` and
    ``version`` as in :func:`compress`.
    """
    if version not in READ_VERSIONS:
        raise ValueError(f"format version {version}: ncodec writes versions {READ_VERSIONS}")
    version = _version_for([sec.prior for sec in sections], version)
    media = media or MediaInfo()
    if media.kind not in MEDIA_KINDS:
        raise ValueError(f"unknown media kind {media.kind!r}; one of {MEDIA_KINDS}")
    if len(weights_hash) != 32:
        raise ValueError("weights_hash must be 32 bytes (e.g. SHA-256 of the weights)")
    if len(extra) > MAX_EXTRA:
        raise ValueError(f"at most {MAX_EXTRA} metadata entries")
    xs = [to_numpy_tokens(sec.tokens) for sec in sections]
    header = NcdHeader(
        codec=codec,
        weights_hash=bytes(weights_hash),
        media=media,
        sections=tuple(_section_header(sec, x, version) for sec, x in zip(sections, xs, strict=True)),
        extra=tuple((str(k), str(v)) for k, v in extra),
        version=version,
    )
    _validate_header(header, ShapeError)
    if header.n_chunks > 1 << 24:
        raise ValueError(f"{header.n_chunks} chunks: use a larger chunk_len")
    records = []
    for k, (i, start, length) in enumerate(header.chunk_spans):
        x = xs[i]
        part = x[:, :, start : start + length] if x.ndim > 2 else x
        payload = coder.encode(part, _chunk_prior(sections[i].prior, header.sections[i], start, length))
        records.append(_record(k, start, length, payload))
    data = _assemble(header, records)
    if verify:
        _verify(data, sections, xs)
    return data


def _verify(data: bytes, sections: Sequence[TokenSection], xs: Sequence[np.ndarray]) -> None:
    """Parse ``data`` and decode it chunk by chunk against the tokens it was made from (no copy of the
    whole token arrays: the memory of a check is one chunk's)."""
    try:
        nf = parse(data, strict=True)
        priors: dict[int, Prior] = {}
        for c in nf.chunks:
            if c.section not in priors:
                priors[c.section] = prior_for(nf.header, sections[c.section].prior, section=c.section)
            part = _decode_chunk(nf, c, priors[c.section])
            x = xs[c.section]
            ref = x[:, :, c.start : c.start + c.length] if x.ndim > 2 else x
            if part.shape != ref.shape or not np.array_equal(part, ref):
                raise FormatError("refusing to write a file that does not decode to the same tokens")
    except FormatError as exc:
        if str(exc).startswith("refusing"):
            raise
        raise FormatError(f"refusing to write a file that does not decode: {exc}") from exc


def _assemble(header: NcdHeader, records: Sequence[bytes]) -> bytes:
    """Magic, version, the header and its CRC, the chunk records as given, the index and the trailer."""
    return b"".join(_file_parts(header, records))


def _file_parts(header: NcdHeader, records: Iterable[bytes]) -> Iterator[bytes]:
    """The pieces of :func:`_assemble`'s file, in order (the records are consumed one at a time)."""
    body = _write_header(header)
    if len(body) > MAX_HEADER:
        raise ValueError(f"header of {len(body)} bytes exceeds {MAX_HEADER}")
    w = Writer()
    w.raw(MAGIC)
    w.u16(header.version)
    w.u16(0)
    w.u32(len(body))
    w.raw(body)
    head = w.getvalue()
    yield head
    yield _crc(head[len(MAGIC) :]).to_bytes(4, "little")
    pos = len(head) + 4
    entries = []
    for rb in records:
        yield rb
        entries.append((pos, len(rb)))
        pos += len(rb)
    idx = Writer()
    idx.raw(INDEX_MAGIC)
    idx.u32(len(entries))
    for off, sz in entries:
        idx.u64(off)
        idx.u32(sz)
    ib = idx.getvalue()
    yield ib + _crc(ib).to_bytes(4, "little")
    tr = TRAILER_MAGIC + pos.to_bytes(8, "little")
    yield tr + _crc(tr).to_bytes(4, "little")


def _record(k: int, start: int, length: int, payload: bytes) -> bytes:
    rec = Writer()
    rec.raw(CHUNK_MAGIC)
    for v in (k, start, length, len(payload)):
        rec.u32(v)
    rec.raw(payload)
    rb = rec.getvalue()
    return rb + _crc(rb).to_bytes(4, "little")


@dataclass
class _Spool:
    spec: TokenSection
    tail: tuple[int, ...] | None = None  # (B, S) and the axes after the chunked one
    length: int = 0
    chunks: list[tuple[int, int, int]] = field(default_factory=list)  # (start, length, payload bytes)
    file: BinaryIO | None = None
    first: Prior | None = None


class NcdSpoolWriter:
    """An .ncd file whose token sections arrive chunk by chunk (a streaming encoder's GOPs or blocks).

    Each chunk is entropy-coded with its own prior as it comes, decoded again to check it (as
    :func:`compress` verifies a whole file), and kept in a temporary file; :meth:`finish` then writes the
    header with the final shapes, the chunk records, the index and the trailer, streaming, atomically.
    Memory holds one chunk, not the file.  Chunks of a section are consecutive along its first spatial
    axis; every chunk but a section's last has the section's ``chunk_len``.  Sections that received no
    chunk are left out of the file.  The priors of one section must share kind, parameters and tables
    (an indexed prior's table index covers its chunk alone).

    >>> w = NcdSpoolWriter([TokenSection(None, prior, "z", chunk_len=1, prior_name="z")])  # doctest: +SKIP
    >>> w.add(0, tokens_of_gop_0, prior_of_gop_0)                                         # doctest: +SKIP
    >>> w.finish("clip.ncd", codec="...", weights_hash=h, media=media)                    # doctest: +SKIP
    """

    def __init__(self, sections: Sequence[TokenSection]) -> None:
        if not 1 <= len(sections) <= MAX_SECTIONS:
            raise ValueError(f"{len(sections)} token sections (1..{MAX_SECTIONS} allowed)")
        self._spools = [_Spool(sec) for sec in sections]
        self._closed = False

    def add(self, section: int, tokens: ArrayLike, prior: Prior) -> None:
        """Append one chunk ``(B, S, length, *rest)`` to ``section``, coded with ``prior``."""
        if self._closed:
            raise ValueError("the writer is finished")
        sp = self._spools[section]
        x = to_numpy_tokens(tokens)
        if x.ndim < 3:
            raise ShapeError(f"chunk tokens {x.shape} need a spatial axis to be chunked along")
        tail = (*x.shape[:2], *x.shape[3:])
        chunk_len = sp.spec.chunk_len or x.shape[2]
        if sp.tail is None:
            sp.tail, sp.first = tail, prior
            sp.file = tempfile.TemporaryFile()
        elif tail != sp.tail:
            raise ShapeError(f"section {section}: chunk {x.shape} does not continue {sp.tail}")
        elif sp.chunks[-1][1] != chunk_len:
            raise ShapeError(f"section {section}: a chunk after one shorter than {chunk_len}")
        first = sp.first
        if (prior.kind, tuple(prior.params), prior.digest) != (first.kind, tuple(first.params), first.digest):
            raise ValueError(f"section {section}: a chunk's prior differs from the section's")
        if not 1 <= x.shape[2] <= chunk_len:
            raise ShapeError(f"section {section}: chunk of {x.shape[2]} along axis 2, 1..{chunk_len} allowed")
        if isinstance(prior, IndexedTablePrior) and prior.index.shape != x.shape:
            raise ShapeError(f"tokens {x.shape} and table index {prior.index.shape} differ in shape")
        payload = coder.encode(x, prior)
        back = coder.decode(payload, prior, x.shape)
        if not np.array_equal(back, x):
            raise FormatError("refusing to write a chunk that does not decode to the same tokens")
        sp.file.write(payload)
        sp.chunks.append((sp.length, x.shape[2], len(payload)))
        sp.length += x.shape[2]

    def _header(self, codec: str, weights_hash: bytes, media: MediaInfo, extra, version: int) -> NcdHeader:
        version = _version_for([sp.first for sp in self._spools if sp.tail is not None], version)
        secs = []
        for sp in self._spools:
            if sp.tail is None:
                continue
            shape = (*sp.tail[:2], sp.length, *sp.tail[2:])
            p = sp.first
            if sp.spec.token_form not in (0, 1):
                raise ValueError("token_form is 0 (packed indices) or 1 (per-dimension symbols)")
            indexed = p.kind == PriorKind.INDEXED and version >= 2
            secs.append(Section(
                quantizer=sp.spec.quantizer, token_form=sp.spec.token_form,
                alphabet=() if indexed else tuple(int(k) for k in p.alphabet), shape=shape,
                chunk_len=sp.spec.chunk_len or sp.length, prior_kind=p.kind, prior_name=sp.spec.prior_name,
                prior_digest=p.digest, prior_params=tuple(int(v) for v in p.params),
            ))  # fmt: skip
        if not secs:
            raise ValueError("no chunk was added")
        h = NcdHeader(codec=codec, weights_hash=bytes(weights_hash), media=media, sections=tuple(secs),
                      extra=tuple((str(k), str(v)) for k, v in extra), version=version)  # fmt: skip
        _validate_header(h, ShapeError)
        return h

    def _records(self) -> Iterator[bytes]:
        k = 0
        for sp in self._spools:
            if sp.file is None:
                continue
            sp.file.seek(0)
            for start, length, size in sp.chunks:
                payload = sp.file.read(size)
                if len(payload) != size:
                    raise OSError("the spool file lost data")
                yield _record(k, start, length, payload)
                k += 1

    def finish(
        self,
        path: str | os.PathLike | None = None,
        *,
        codec: str = "",
        weights_hash: bytes = bytes(32),
        media: MediaInfo | None = None,
        extra: Sequence[tuple[str, str]] = (),
        force: bool = False,
        version: int = FORMAT_VERSION,
    ) -> bytes | int:
        """Write the file to ``path`` (atomically; an existing file only with ``force``) and return its
        size, or return its bytes when ``path`` is None."""
        media = media or MediaInfo()
        if media.kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {media.kind!r}; one of {MEDIA_KINDS}")
        if len(weights_hash) != 32:
            raise ValueError("weights_hash must be 32 bytes (e.g. SHA-256 of the weights)")
        header = self._header(codec, weights_hash, media, extra, version)
        try:
            if path is None:
                return b"".join(_file_parts(header, self._records()))
            size = 0

            def writer(f: BinaryIO) -> None:
                nonlocal size
                for part in _file_parts(header, self._records()):
                    f.write(part)
                    size += len(part)

            write_atomic(path, writer, force=force)
            return size
        finally:
            self.close()

    def close(self) -> None:
        self._closed = True
        for sp in self._spools:
            if sp.file is not None:
                sp.file.close()
                sp.file = None


def rewrite_header(data: bytes, header: NcdHeader) -> bytes:
    """``data`` with its header replaced by ``header`` (not validated) and every CRC, offset and the
    index recomputed, the chunk records kept as they are (those of sections ``header`` no longer has are
    dropped): what a buggy writer or an attacker who recomputes checksums produces.  For tests and the
    fuzz harness; real writers use :func:`compress`."""
    nf = parse(data, strict=False)
    keep = len(header.sections)
    records = [
        bytes(data[c.offset : c.offset + c.size]) for c in nf.chunks if c.offset >= 0 and c.section < keep
    ]
    return _assemble(header, records)


# --------------------------------------------------------------------------------------------- reading


def _chunk_shape(sec: Section, c: ChunkInfo) -> tuple[int, ...]:
    return sec.shape[:2] + ((c.length,) + sec.shape[3:] if len(sec.shape) > 2 else ())


def _decode_chunk(nf: NcdFile, c: ChunkInfo, prior: Prior) -> np.ndarray:
    sec = nf.header.sections[c.section]
    try:
        return coder.decode(c.payload, _chunk_prior(prior, sec, c.start, c.length), _chunk_shape(sec, c))
    except FormatError as exc:
        raise FormatError(f"chunk {c.number}: {exc}") from exc
    except ShapeError as exc:
        raise FormatError(f"chunk {c.number}: {exc}") from exc


def _check_size(h: NcdHeader, max_tokens: int) -> None:
    if h.n_tokens > max_tokens:
        raise FormatError(f"file declares {h.n_tokens} tokens, more than the limit {max_tokens}")


def _place(out: np.ndarray, c: ChunkInfo, part: np.ndarray) -> None:
    if out.ndim > 2:
        out[:, :, c.start : c.start + c.length] = part
    else:
        out[...] = part


def decompress(
    data: bytes | bytearray | memoryview,
    prior: Prior | None = None,
    *,
    codec: str | None = None,
    max_tokens: int = MAX_FILE_TOKENS,
) -> np.ndarray:
    """Decode a whole single-section .ncd file to its tokens (``int64``, shape ``(B, S, *spatial)``).

    Args:
        prior: the prior it was written with (checked against the header's kind, alphabet, parameters and
            digest); may be omitted for uniform and flat-start adaptive priors.
        codec: if given, the codec name the file must name.
        max_tokens: refuse files declaring more tokens (the output is allocated up front: 8 bytes each).
    Raises:
        FormatError: anything wrong with the file, naming the problem.
    """
    nf = parse(data, strict=True)
    if len(nf.header.sections) != 1:
        raise FormatError(f"file holds {len(nf.header.sections)} token sections: use decompress_sections")
    return _decode_sections(nf, [prior], codec, max_tokens)[0]


def decompress_sections(
    data: bytes | bytearray | memoryview,
    priors: Sequence[PriorSpec] | None = None,
    *,
    codec: str | None = None,
    max_tokens: int = MAX_FILE_TOKENS,
) -> list[np.ndarray]:
    """Decode every token section of a file, in order.

    ``priors[i]`` is the prior of section ``i``: a :class:`~ncodec.entropy.Prior`, None (rebuilt from the
    header where possible), or a callable receiving the already decoded sections and returning the prior
    (a hyperprior decoder derives ``y``'s table indexes from the decoded ``z`` this way).
    """
    return _decode_sections(parse(data, strict=True), priors, codec, max_tokens)


def _decode_sections(
    nf: NcdFile, priors: Sequence[PriorSpec] | None, codec: str | None, max_tokens: int
) -> list[np.ndarray]:
    h = nf.header
    if codec is not None and h.codec != codec:
        raise FormatError(f"unknown codec '{h.codec}' (expected '{codec}')")
    _check_size(h, max_tokens)
    priors = list(priors) if priors is not None else [None] * len(h.sections)
    if len(priors) != len(h.sections):
        raise FormatError(f"file holds {len(h.sections)} token sections, {len(priors)} priors given")
    outs: list[np.ndarray] = []
    for i, sec in enumerate(h.sections):
        spec = priors[i]
        p = spec(list(outs)) if callable(spec) and not isinstance(spec, Prior) else spec
        p = prior_for(h, p, section=i)
        out = np.empty(sec.shape, dtype=np.int64)
        for c in nf.chunks:
            if c.section == i:
                _place(out, c, _decode_chunk(nf, c, p))
        outs.append(out)
    return outs


def decompress_partial(
    data: bytes | bytearray | memoryview, prior: Prior | None = None, *, max_tokens: int = MAX_FILE_TOKENS
) -> tuple[np.ndarray, NcdHeader, dict[int, str]]:
    """Decode what can be decoded of a single-section file: damaged chunks are reported, not fatal.

    Returns ``(tokens, header, damaged)`` where ``damaged`` maps chunk number -> problem and the tokens of
    damaged chunks are ``-1``.  Raises :class:`~ncodec.FormatError` only if the header itself is unusable.
    (For multi-section files read chunk by chunk with :class:`NcdReader`.)
    """
    nf = parse(data, strict=False)
    h = nf.header
    if len(h.sections) != 1:
        raise FormatError(f"file holds {len(h.sections)} token sections: read it with NcdReader")
    _check_size(h, max_tokens)
    prior = prior_for(h, prior)
    out = np.full(h.shape, -1, dtype=np.int64)
    damaged: dict[int, str] = {}
    for c in nf.chunks:
        if not c.ok:
            damaged[c.number] = c.error or "unreadable"
            continue
        try:
            part = _decode_chunk(nf, c, prior)
        except FormatError as exc:
            damaged[c.number] = str(exc)
            continue
        _place(out, c, part)
    return out, h, damaged


#: Largest .ncd file read into memory (2 GiB: far above what the token limits let a file hold).
MAX_FILE_BYTES = 1 << 31


def read_file(path: str | os.PathLike) -> bytes:
    """Read an .ncd file's bytes, bounded: the magic is checked before anything else is read (so
    ``/dev/zero`` or a photo is refused at once) and no more than :data:`MAX_FILE_BYTES` are read, from
    a regular file or not.  OSError for missing files; an empty or truncated file is a FormatError."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC))
        if len(head) < len(MAGIC):
            raise FormatError(f"truncated at byte {len(head)}: not even the {len(MAGIC)}-byte magic is there")
        if head != MAGIC:
            raise FormatError(f"bad magic {head!r}: not an .ncd file")
        st = os.fstat(f.fileno())
        if stat.S_ISREG(st.st_mode) and st.st_size > MAX_FILE_BYTES:
            raise FormatError(f"{st.st_size} bytes: over the {MAX_FILE_BYTES}-byte limit of .ncd files")
        rest = f.read(MAX_FILE_BYTES + 1 - len(head))
    if len(head) + len(rest) > MAX_FILE_BYTES:
        raise FormatError(f"more than the {MAX_FILE_BYTES}-byte limit of .ncd files")
    return head + rest


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write atomically: a temporary file in the same folder, then rename (no partial .ncd on failure)."""
    write_atomic(path, data, force=True)


def header_replace(h: NcdHeader, **kw) -> NcdHeader:
    """``dataclasses.replace`` for headers (used by tests that craft files)."""
    return replace(h, **kw)


class NcdReader:
    """Random access to an .ncd file on disk: reads the header, the trailer and the chunk index, then only
    the chunks asked for (seek, no full read; memory bounded by the largest chunk).

    >>> with NcdReader("clip.ncd") as r:                     # doctest: +SKIP
    ...     section, start, length = r.spans[3]
    ...     tokens = r.read_chunk(3, prior)                  # tokens[:, :, start : start + length]
    """

    def __init__(self, source: str | os.PathLike | BinaryIO) -> None:
        self._own = not hasattr(source, "read")
        self._f: BinaryIO = open(source, "rb") if self._own else source
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _read_at(self, offset: int, n: int, what: str) -> bytes:
        self._f.seek(offset)
        b = self._f.read(n)
        if len(b) != n:
            raise FormatError(
                f"truncated at byte {offset + len(b)}: {what} needs {n} bytes at offset {offset}"
            )
        return b

    def _open(self) -> None:
        f = self._f
        f.seek(0, os.SEEK_END)
        self.size = size = f.tell()
        f.seek(0)
        first = f.read(16)
        if len(first) < 16 or first[: len(MAGIC)] != MAGIC:
            _parse_head(first)  # raises the precise error (magic / truncation)
        hlen = int.from_bytes(first[12:16], "little")
        if hlen > MAX_HEADER:
            raise FormatError(f"header length {hlen} exceeds the limit {MAX_HEADER}")
        head = first + f.read(hlen + 4)
        self.header, self.chunks_start = _parse_head(head)
        n = self.header.n_chunks
        index_len = 4 + 4 + 12 * n + 4
        if self.chunks_start + n * CHUNK_OVERHEAD + index_len + TRAILER_SIZE > size:
            raise FormatError(f"header declares {n} chunks, the file of {size} bytes cannot hold them")
        tr = self._read_at(size - TRAILER_SIZE, TRAILER_SIZE, "trailer")
        if tr[:4] != TRAILER_MAGIC or _crc(tr[:12]) != int.from_bytes(tr[12:], "little"):
            raise FormatError("no valid trailer at the end of the file (truncated or extended?)")
        index_off = int.from_bytes(tr[4:12], "little")
        if index_off != size - TRAILER_SIZE - index_len:
            raise FormatError(
                f"trailer points to byte {index_off}, the index must start at {size - 16 - index_len}"
            )
        ib = self._read_at(index_off, index_len, "chunk index")
        if ib[:4] != INDEX_MAGIC or int.from_bytes(ib[4:8], "little") != n:
            raise FormatError("chunk index marker or count is wrong")
        if _crc(ib[:-4]) != int.from_bytes(ib[-4:], "little"):
            raise FormatError("CRC mismatch in chunk index")
        r = Reader(ib, 8, len(ib) - 4, "chunk index")
        self.entries = [(r.u64("chunk offset"), r.u32("chunk size")) for _ in range(n)]
        pos = self.chunks_start
        for off, sz in self.entries:
            if off != pos or sz < CHUNK_OVERHEAD:
                raise FormatError("chunk index offsets are not contiguous")
            pos += sz
        if pos != index_off:
            raise FormatError("chunk index does not end where the index starts")
        self.spans = self.header.chunk_spans

    def read_chunk(self, k: int, prior: Prior | None = None, *, for_chunk: bool = False) -> np.ndarray:
        """Tokens of chunk ``k``: ``spans[k] = (section, start, length)``; shape ``(B, S, length, *rest)``.

        ``prior`` is the prior of that chunk's section; with ``for_chunk=True`` it is the prior of this
        chunk alone (an indexed prior's table index then has the chunk's shape, so a streaming decoder
        never builds the index of a whole section).
        """
        if not 0 <= k < len(self.entries):
            raise IndexError(f"chunk {k} of {len(self.entries)}")
        off, sz = self.entries[k]
        section, start, length = self.spans[k]
        rec = self._read_at(off, sz, f"chunk {k}")
        info = ChunkInfo(k, start, length, section=section)
        if _parse_chunk(rec, 0, sz, info) != sz and info.error is None:
            info.error = f"chunk {k} is not {sz} bytes long as the index says"
        if info.error:
            raise FormatError(info.error)
        info.offset = off
        nf = NcdFile(self.header, [], self.size, self.chunks_start)
        if not for_chunk:
            return _decode_chunk(nf, info, prior_for(self.header, prior, section=section))
        sec = self.header.sections[section]
        shape = _chunk_shape(sec, info)
        p = prior_for(replace(sec, shape=shape), prior)
        try:
            return coder.decode(info.payload, p, shape)
        except (FormatError, ShapeError) as exc:
            raise FormatError(f"chunk {k}: {exc}") from exc

    def close(self) -> None:
        if self._own and not self._f.closed:
            self._f.close()

    def __enter__(self) -> NcdReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
