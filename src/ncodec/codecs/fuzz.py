"""Mutation fuzzing of real codec files: the harness reaches each codec's decoder, not only the container.

Seeds are ``.ncd`` files a codec wrote for real images.  Each case mutates one — the container fuzzer's
byte-level mutations (truncation, bit flips, overwrites, absurd lengths, chunk splices, with and without
recomputed CRCs), header fields set to extremes in an otherwise valid file (every CRC, offset and the
index recomputed by :func:`ncodec.container.rewrite_header`), and chunk records swapped, duplicated or
dropped — then decodes it in-process with a time limit, through ``codec.decompress`` and through what
``ncodec info --decode`` runs.  Each case is classified:

* ``refused``: a :class:`~ncodec.NcodecError` naming the problem;
* ``identical``: the decoded media equal the seed's;
* ``other-valid``: other media, and the file is exactly what the codec writes for the tokens it decoded
  (a mutation with recomputed CRCs can make another valid file);
* a failure: any other exception, a hang past the limit, a wrong decode.  Peak memory is reported.

A medium names the function that makes seeds for one of its codecs when it registers
(``register_media(..., fuzz_seeds="module:function")``); :func:`seeds_for` finds it.
"""

from __future__ import annotations

import importlib
import random
import resource
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ncodec.codecs.registry import media_entry
from ncodec.container import MEDIA_KINDS, parse, rewrite_header
from ncodec.container.commands import _decode_check
from ncodec.container.fuzz import Seed, _layout, _time_limit, _Timeout, mutate
from ncodec.errors import NcodecError

__all__ = [
    "CodecFuzzReport",
    "CodecSeed",
    "mutate_codec_file",
    "run_codec_case",
    "run_codec_fuzz",
    "seeds_for",
]


@dataclass
class CodecSeed:
    """A file written by ``codec``, what it decodes to, and how to re-encode decoded tokens.

    ``reencode(codec, tokens, header) -> bytes`` writes the file the codec would write for ``tokens`` (decoded
    from a file with ``header``): an accepted mutation must equal it."""

    name: str
    codec: Any
    data: bytes
    media: torch.Tensor
    reencode: Callable[[Any, Any, Any], bytes]
    container: Seed = field(init=False)

    def __post_init__(self) -> None:
        self.container = Seed(self.name, self.data, [], [], [], _layout(self.data))


def seeds_for(codec: Any) -> list[CodecSeed]:
    """Real files of ``codec`` to mutate, made by its medium's seed function."""
    entry = media_entry(codec.media)
    if entry is None or not entry.fuzz_seeds:
        raise NcodecError(f"no fuzz seeds registered for {codec.media} codecs")
    module, _, fn = entry.fuzz_seeds.partition(":")
    return getattr(importlib.import_module(module), fn)(codec)


_EXTREME_INTS = (0, 1, 2, 3, 255, 1 << 16, (1 << 31) - 1, (1 << 32) - 1)
_QUALITY_TEXT = ("", "-1", "03", "9", "99999999999999999999", "٣", "²", "1 ", "x", "0x1")


def _header_mutation(h, rng: random.Random):
    """One header field of ``h`` set to an extreme (or another plausible) value."""
    m = h.media
    kind = rng.choice(["size", "size", "quality", "kind", "codec", "hash", "sections", "shape", "chunk_len",
                       "prior_name", "channels", "padding", "extra"])  # fmt: skip
    if kind == "size":
        field_ = rng.choice(["width", "height"])
        return kind, replace(h, media=replace(m, **{field_: rng.choice(_EXTREME_INTS)}))
    if kind == "channels":
        return kind, replace(h, media=replace(m, channels=rng.choice(_EXTREME_INTS)))
    if kind == "padding":
        return kind, replace(h, media=replace(m, padding=tuple(rng.choice(_EXTREME_INTS) for _ in m.padding)))
    if kind == "quality":
        q = rng.choice(_QUALITY_TEXT)
        return kind, replace(h, extra=tuple((k, q if k == "quality" else v) for k, v in h.extra))
    if kind == "extra":
        return kind, replace(h, extra=h.extra + h.extra if rng.random() < 0.5 else ())
    if kind == "kind":
        return kind, replace(h, media=replace(m, kind=rng.choice(MEDIA_KINDS)))
    if kind == "codec":
        names = ["", h.codec + "x", "../../etc/passwd.safetensors", "é" * 40]
        return kind, replace(h, codec=rng.choice(names))
    if kind == "hash":
        return kind, replace(h, weights_hash=rng.randbytes(32))
    if kind == "sections":
        secs = list(h.sections)
        op = rng.choice(["drop", "dup", "swap"])
        if op == "drop" and len(secs) > 1:
            secs.pop(rng.randrange(len(secs)))
        elif op == "dup":
            secs.insert(rng.randrange(len(secs) + 1), rng.choice(secs))
        elif len(secs) > 1:
            i, j = rng.sample(range(len(secs)), 2)
            secs[i], secs[j] = secs[j], secs[i]
        return f"sections-{op}", replace(h, sections=tuple(secs))
    i = rng.randrange(len(h.sections))
    sec = h.sections[i]
    if kind == "shape":
        axis = rng.randrange(len(sec.shape))
        shape = list(sec.shape)
        shape[axis] = rng.choice((0, 1, shape[axis] + 1, max(shape[axis] - 1, 0), shape[axis] * 2))
        sec = replace(sec, shape=tuple(shape))
    elif kind == "chunk_len":
        sec = replace(sec, chunk_len=rng.choice((1, 2, sec.chunk_len + 1, 1 << 20)))
    else:
        sec = replace(sec, prior_name=rng.choice(["", "static", "adaptive", "y", "z", "y_rest"]))
    secs = list(h.sections)
    secs[i] = sec
    return kind, replace(h, sections=tuple(secs))


def _records_mutation(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """Chunk records swapped, duplicated or dropped, with the index rebuilt (the CRCs stay valid)."""
    from ncodec.container.ncd import _assemble

    nf = parse(data)
    recs = [bytes(data[c.offset : c.offset + c.size]) for c in nf.chunks]
    op = rng.choice(["swap", "dup", "drop"])
    if op == "swap" and len(recs) > 1:
        i, j = rng.sample(range(len(recs)), 2)
        recs[i], recs[j] = recs[j], recs[i]
    elif op == "dup":
        recs.insert(rng.randrange(len(recs) + 1), rng.choice(recs))
    elif len(recs) > 1:
        recs.pop(rng.randrange(len(recs)))
    return f"chunks-{op}", _assemble(nf.header, recs)


def mutate_codec_file(seed: CodecSeed, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of a codec file: bytes (half the cases), a header field, or the chunk records."""
    r = rng.random()
    if r < 0.5:
        kind, data = mutate(seed.container, rng)
        return f"bytes-{kind}", data
    if r < 0.85:
        kind, h = _header_mutation(parse(seed.data).header, rng)
        try:
            return f"header-{kind}", rewrite_header(seed.data, h)
        except (ValueError, OverflowError):  # a value the writer cannot even serialise
            return f"header-{kind}-unwritable", seed.data
    return _records_mutation(seed.data, rng)


class CaseFailure(AssertionError):
    """A case broke the contract (see the module docstring)."""


def run_codec_case(seed: CodecSeed, data: bytes, time_limit: float = 10.0) -> str:
    """Decode one mutated file both ways; returns the outcome or raises :class:`CaseFailure`."""
    codec = seed.codec
    try:
        with _time_limit(time_limit):
            try:  # what ``ncodec info --decode`` runs: the container's checks and the model decoder
                _decode_check(parse(data, strict=False), data)
            except NcodecError:
                pass
            try:
                media = torch.as_tensor(codec.decompress(data))  # video decodes to a uint8 array
            except NcodecError:
                return "refused"
            if media.shape == seed.media.shape and torch.equal(media, seed.media):
                return "identical"
            if data == seed.data:
                raise CaseFailure("the unmodified file decoded to other media than before")
            header = parse(data).header
            again = seed.reencode(codec, codec.decompress_tokens(data), header)
    except _Timeout:
        raise CaseFailure(f"no answer within {time_limit} s") from None
    except CaseFailure:
        raise
    except Exception as exc:  # any other exception is the failure being looked for
        raise CaseFailure(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}") from exc
    if again != data:
        raise CaseFailure("decoded to other media, but the file is not what the codec writes for them")
    return "other-valid"


@dataclass
class CodecFuzzReport:
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    seconds: float = 0.0
    slowest: float = 0.0
    peak_rss_mb: float = 0.0


def run_codec_fuzz(
    seeds: list[CodecSeed],
    n_cases: int,
    seed: int = 0,
    time_limit: float = 10.0,
    max_failures: int = 20,
    progress: Callable[[CodecFuzzReport], None] | None = None,
) -> CodecFuzzReport:
    """``n_cases`` mutations over ``seeds`` (deterministic for a given ``seed``)."""
    rng = random.Random(seed)
    rep = CodecFuzzReport()
    t_start = time.perf_counter()
    for i in range(n_cases):
        s = seeds[i % len(seeds)]
        kind, data = mutate_codec_file(s, rng)
        t0 = time.perf_counter()
        try:
            outcome = run_codec_case(s, data, time_limit)
        except CaseFailure as exc:
            outcome = "FAIL"
            if len(rep.failures) < max_failures:
                rep.failures.append((s.name, kind, str(exc), data))
        rep.slowest = max(rep.slowest, time.perf_counter() - t0)
        rep.cases += 1
        rep.outcomes[outcome] += 1
        rep.kinds[kind.split("(")[0]] += 1
        if progress is not None and (i + 1) % 1000 == 0:
            rep.seconds = time.perf_counter() - t_start
            progress(rep)
    rep.seconds = time.perf_counter() - t_start
    rep.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rep
