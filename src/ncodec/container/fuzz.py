"""Mutation fuzzing of the .ncd reader (used by ``tests/test_fuzz_container.py`` and
``scripts/fuzz_container.py``).

Every case takes a valid seed file, mutates it, and decodes the result.  The contract checked:

* the decoder raises :class:`ncodec.FormatError` (no other exception), or
* it returns exactly the seed's tokens (every section), or
* it returns other tokens *and* the mutated bytes are precisely the file ``compress`` writes for those
  tokens with that header (a mutation with recomputed CRCs can turn a valid file into another valid
  file; anything else would be a silent wrong decode);

and it finishes within a time limit (no hang).  The same file is also opened with the seeking
:class:`~ncodec.container.NcdReader` and every chunk read: each either raises FormatError or equals the
matching part of those tokens.
"""

from __future__ import annotations

import io
import random
import signal
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ncodec.container.ncd import (
    MAGIC,
    NcdReader,
    TokenSection,
    compress,
    compress_sections,
    decompress_sections,
    parse,
)
from ncodec.entropy.priors import (
    AdaptiveContextPrior,
    IndexedTablePrior,
    Prior,
    SequentialPrior,
    StaticPrior,
    UniformPrior,
)
from ncodec.entropy.tables import freqs_from_counts
from ncodec.errors import FormatError

__all__ = ["FuzzReport", "Seed", "make_seeds", "mutate", "run_case", "run_fuzz"]


@dataclass
class Seed:
    """A valid file, its tokens per section and the priors to decode them (None: rebuilt from the header)."""

    name: str
    data: bytes
    tokens: list[np.ndarray]
    priors: list[Prior | None]
    full_priors: list[Prior]
    layout: dict = field(default_factory=dict)


def _layout(data: bytes) -> dict:
    nf = parse(data)
    hlen = int.from_bytes(data[12:16], "little")
    return {
        "header_obj": nf.header,
        "header": (16, 16 + hlen),
        "chunks": [(c.offset, c.size) for c in nf.chunks],
        "index": nf.chunks[-1].offset + nf.chunks[-1].size,
        "u32_fields": [12]
        + [c.offset + 4 + 4 * i for c in nf.chunks for i in range(4)]
        + [nf.chunks[-1].offset + nf.chunks[-1].size + 4],
        "u64_fields": [len(data) - 12]
        + [nf.chunks[-1].offset + nf.chunks[-1].size + 8 + 12 * k for k in range(len(nf.chunks))],
    }


def make_seeds() -> list[Seed]:
    """Small valid files covering every prior kind, media kind and chunking."""
    rng = np.random.default_rng(7)
    seeds = []

    def add(name: str, x: np.ndarray, prior: Prior, pass_prior: bool, **kw) -> None:
        data = compress(x, prior, **kw)
        seeds.append(Seed(name, data, [x], [prior if pass_prior else None], [prior], _layout(data)))

    x = rng.integers(0, 300, (1, 2, 5, 4))
    add("uniform", x, UniformPrior((300, 300)), False, chunk_len=2, codec="fuzz")
    x = np.minimum(rng.geometric(0.3, (1, 3, 40)) - 1, 9)
    add("static", x, StaticPrior.fit(x, (10, 10, 10)), True, chunk_len=16, codec="fuzz")
    blocks = rng.integers(0, 12, (1, 1, 2, 3, 3))
    x = np.repeat(np.repeat(blocks, 2, axis=3), 2, axis=4)
    add("adaptive", x, AdaptiveContextPrior((12,)), False, chunk_len=1, codec="fuzz")
    tabs = [freqs_from_counts(np.array([9, 5, 2, 1])), freqs_from_counts(np.array([1, 1, 6]))]
    idx = rng.integers(0, 2, (1, 2, 6, 2))
    x = np.minimum(rng.geometric(0.6, idx.shape) - 1, 1)
    x[0, 0, 0, 0] = 70000
    ip = IndexedTablePrior(tabs, idx, escape=True)
    add("indexed", x, ip, True, chunk_len=4, codec="fuzz")
    # The same as format version 1 (which lists the indexed prior's alphabets): still read.
    add("indexed-v1", x, ip, True, chunk_len=4, codec="fuzz", version=1)
    # Two sections (hyperprior-like): a small "z" with a uniform prior, a "y" with a static prior.
    z = rng.integers(0, 5, (1, 2, 3, 3))
    y = np.minimum(rng.geometric(0.4, (1, 2, 7, 2)) - 1, 7)
    yp = StaticPrior.fit(y, (8, 8))
    secs = [TokenSection(z, UniformPrior((5, 5)), chunk_len=2), TokenSection(y, yp, chunk_len=3)]
    data = compress_sections(secs, codec="fuzz")
    seeds.append(Seed("sections", data, [z, y], [None, yp], [secs[0].prior, yp], _layout(data)))
    return seeds


def _fix_crc(b: bytearray, start: int, end: int) -> None:
    """Recompute the CRC that follows ``b[start:end]`` (stored at ``end``)."""
    if 0 <= start <= end and end + 4 <= len(b):
        b[end : end + 4] = (zlib.crc32(bytes(b[start:end])) & 0xFFFFFFFF).to_bytes(4, "little")


def mutate(seed: Seed, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of ``seed.data``: returns (kind, bytes)."""
    d = bytearray(seed.data)
    n = len(d)
    lay = seed.layout
    kind = rng.choice(
        [
            "flip",
            "flip",
            "bytes",
            "truncate",
            "extend",
            "insert",
            "delete",
            "random",
            "absurd32",
            "absurd64",
            "header_crc_fixed",
            "header_crc_fixed",
            "chunk_crc_fixed",
            "chunk_crc_fixed",
            "splice",
            "magic_only",
        ]
    )
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(n)
            d[i] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        for _ in range(rng.randint(1, 4)):
            d[rng.randrange(n)] = rng.randrange(256)
    elif kind == "truncate":
        d = d[: rng.randrange(n)]
    elif kind == "extend":
        d += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == "insert":
        i = rng.randrange(n + 1)
        d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == "delete":
        i = rng.randrange(n)
        del d[i : i + rng.randint(1, 16)]
    elif kind == "random":
        d = bytearray(rng.randbytes(rng.randint(0, 512)))
        if rng.random() < 0.5:
            d[:10] = MAGIC + b"\x01\x00"
    elif kind == "magic_only":
        d = bytearray(MAGIC + rng.randbytes(rng.randint(0, 24)))
    elif kind in ("absurd32", "absurd64"):
        width = 4 if kind == "absurd32" else 8
        offs = lay["u32_fields"] if width == 4 else lay["u64_fields"]
        i = rng.choice(offs)
        v = rng.choice([0, 1, 2**31, 2**32 - 1, 2 ** (8 * width) - 1, rng.getrandbits(8 * width)])
        d[i : i + width] = (v % 2 ** (8 * width)).to_bytes(width, "little")
        if rng.random() < 0.5:  # make the CRC agree so the length itself is what gets tested
            for off, size in lay["chunks"]:
                if off <= i < off + size:
                    _fix_crc(d, off, off + size - 4)
            if i == 12:
                pass  # header length: no CRC can be fixed consistently
    elif kind == "header_crc_fixed":
        a, b = lay["header"]
        for _ in range(rng.randint(1, 3)):
            j = rng.randrange(a, b)
            d[j] = rng.choice([0, 0xFF, 0x80, 0x7F, rng.randrange(256), d[j] ^ 1])
        # Table priors decode fast for any shape; sequential priors only get fields other than the shape
        # enlarged beyond 64x (their decode time is proportional to the declared token count).
        _fix_crc(d, 8, b)
    elif kind == "chunk_crc_fixed":
        off, size = rng.choice(lay["chunks"])
        lo, hi = off + 20, off + size - 4
        if hi > lo:
            for _ in range(rng.randint(1, 4)):
                j = rng.randrange(lo, hi)
                d[j] ^= 1 << rng.randrange(8)
        _fix_crc(d, off, off + size - 4)
    elif kind == "splice":
        chunks = lay["chunks"]
        if len(chunks) >= 2:
            (o1, s1), (o2, s2) = rng.sample(chunks, 2)
            a, b = sorted([(o1, s1), (o2, s2)])
            rec_a, rec_b = bytes(d[a[0] : a[0] + a[1]]), bytes(d[b[0] : b[0] + b[1]])
            d = d[: a[0]] + rec_b + d[a[0] + a[1] : b[0]] + rec_a + d[b[0] + b[1] :]
    return kind, bytes(d)


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    if (
        seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def handler(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _reencode(data: bytes, tokens: list[np.ndarray], priors: list[Prior]) -> bytes:
    h = parse(data).header
    secs = []
    for sec, x, p in zip(h.sections, tokens, priors, strict=True):
        if isinstance(p, IndexedTablePrior):
            p = IndexedTablePrior(p.tables, p.index, escape=bool(sec.prior_params[0]))
        secs.append(TokenSection(x, p, sec.quantizer, sec.token_form, sec.chunk_len, sec.prior_name))
    return compress_sections(
        secs,
        codec=h.codec,
        weights_hash=h.weights_hash,
        media=h.media,
        extra=h.extra,
        verify=False,
        version=h.version,
    )


def run_case(seed: Seed, data: bytes, time_limit: float = 10.0, seek_reader: bool = True) -> str:
    """Decode one mutated file; returns the outcome or raises AssertionError on a contract violation.

    With ``seek_reader`` the file is also read chunk by chunk through :class:`NcdReader`, whose chunks
    must equal the corresponding part of what ``decompress_sections`` accepted (or of the seed's tokens).
    """
    t0 = time.perf_counter()
    outs = None
    try:
        with _time_limit(time_limit):
            try:
                outs = decompress_sections(data, seed.priors)
            except FormatError:
                outs = None
            if seek_reader:
                _check_reader(seed, data, outs)
    except _Timeout:
        raise AssertionError(f"decoder ran longer than {time_limit} s (hang?)") from None
    except AssertionError:
        raise
    except Exception as exc:  # the point is to catch anything that is not FormatError
        raise AssertionError(f"{type(exc).__name__} instead of FormatError: {exc}") from exc
    if outs is None:
        return "rejected"
    if len(outs) == len(seed.tokens) and all(
        o.shape == t.shape and np.array_equal(o, t) for o, t in zip(outs, seed.tokens, strict=True)
    ):
        return "same"
    priors = [p if p is not None else _prior_from(data, i) for i, p in enumerate(seed.priors)]
    if len(priors) != len(outs) or _reencode(data, outs, priors) != data:
        raise AssertionError(f"returned different tokens silently (after {time.perf_counter() - t0:.2f}s)")
    return "other-valid-file"


def _check_reader(seed: Seed, data: bytes, accepted: list[np.ndarray] | None) -> None:
    try:
        reader = NcdReader(io.BytesIO(data))
    except FormatError:
        return
    priors = seed.priors if len(reader.header.sections) == len(seed.priors) else None
    if priors is None or (accepted is None and reader.header != seed.layout["header_obj"]):
        # Another (CRC-valid) header: nothing to compare with, only "FormatError or tokens" is checked.
        for k, (i, _, _) in enumerate(reader.spans):
            try:
                reader.read_chunk(k, priors[i] if priors is not None else None)
            except FormatError:
                pass
        return
    refs = accepted if accepted is not None else seed.tokens
    for k, (i, start, length) in enumerate(reader.spans):
        try:
            part = reader.read_chunk(k, priors[i])
        except FormatError:
            continue
        ref = refs[i]
        want = ref[:, :, start : start + length] if ref.ndim > 2 else ref
        if part.shape != want.shape or not np.array_equal(part, want):
            if accepted is None:  # the file was refused; a chunk that reads must still be right
                raise AssertionError(f"NcdReader returned different tokens for chunk {k} of a rejected file")
            raise AssertionError(f"NcdReader and decompress_sections disagree on chunk {k}")


def _prior_from(data: bytes, section: int = 0) -> Prior:
    from ncodec.container.ncd import prior_for

    return prior_for(parse(data).header, None, section=section)


@dataclass
class FuzzReport:
    """Outcome counts, mutation kinds, failures (with the bytes to reproduce them) and timing."""

    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    seconds: float = 0.0
    slowest: float = 0.0


def run_fuzz(
    n_cases: int,
    seed: int = 0,
    time_limit: float = 10.0,
    progress: Callable[[FuzzReport], None] | None = None,
    max_failures: int = 20,
) -> FuzzReport:
    """Run ``n_cases`` mutations (deterministic for a given ``seed``)."""
    rng = random.Random(seed)
    seeds = make_seeds()
    rep = FuzzReport()
    t_start = time.perf_counter()
    for i in range(n_cases):
        s = seeds[i % len(seeds)]
        kind, data = mutate(s, rng)
        if kind == "header_crc_fixed" and any(isinstance(p, SequentialPrior) for p in s.full_priors):
            try:  # keep declared sizes of sequential-prior files modest (see mutate)
                if parse(data).header.n_tokens > 64 * sum(t.size for t in s.tokens):
                    kind, data = "header_crc_fixed(skipped-large)", s.data
            except FormatError:
                pass
        t0 = time.perf_counter()
        try:
            outcome = run_case(s, data, time_limit)
        except AssertionError as exc:
            outcome = "FAIL"
            if len(rep.failures) < max_failures:
                rep.failures.append((s.name, kind, str(exc), data))
        rep.slowest = max(rep.slowest, time.perf_counter() - t0)
        rep.cases += 1
        rep.outcomes[outcome] += 1
        rep.kinds[kind] += 1
        if progress is not None and (i + 1) % 10000 == 0:
            rep.seconds = time.perf_counter() - t_start
            progress(rep)
    rep.seconds = time.perf_counter() - t_start
    return rep
