"""The container's own header limits, each refused by ``parse`` with its named FormatError on a file
whose CRCs were recomputed after the edit (so only the limit itself can catch it)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ncodec.container import MediaInfo, compress, parse, rewrite_header
from ncodec.container.ncd import MAX_DIM, MAX_EXTRA, MAX_RANK, MAX_SECTIONS, MAX_STREAMS, MAX_TABLE_ENTRIES
from ncodec.entropy import StaticPrior, UniformPrior
from ncodec.errors import FormatError


def _file(prior: str = "static") -> bytes:
    x = np.random.default_rng(0).integers(0, 16, (1, 2, 6, 5))
    p = StaticPrior.fit(x, (16, 16)) if prior == "static" else UniformPrior((16, 16))
    return compress(x, p, codec="toy", media=MediaInfo(kind="tokens"), chunk_len=2)


def _section(**kw):
    return lambda h: replace(h, sections=(replace(h.sections[0], **kw),))


CASES = [
    ("too many axes", _section(shape=(1, 2) + (2,) * (MAX_RANK + 1)), "token rank"),
    ("fewer than (B, S)", _section(shape=(1,)), "needs at least"),
    ("dimension out of range", _section(shape=(1, 2, MAX_DIM + 1, 5)), "token dimension"),
    ("streams do not match alphabets", _section(alphabet=(16, 16, 16)), "3 alphabet sizes"),
    ("alphabet size zero", _section(alphabet=(16, 0)), "alphabet size of 0"),
    ("too many streams", _section(alphabet=(2,) * (MAX_STREAMS + 1)), "alphabet count"),
    ("unknown prior kind", _section(prior_kind=77), "unknown prior kind 77"),
    ("unknown token form", _section(token_form=5), "unknown token form 5"),
    ("chunk length zero", _section(chunk_len=0), "chunk length must be at least 1"),
    ("no sections", lambda h: replace(h, sections=()), "at least one token section"),
    ("too many sections", lambda h: replace(h, sections=h.sections * (MAX_SECTIONS + 1)), "section count"),
    ("too many metadata entries", lambda h: replace(h, extra=(("k", "v"),) * (MAX_EXTRA + 1)), "metadata"),
    ("alphabets beyond the table budget",
     _section(shape=(1, 64, 6, 5), alphabet=(MAX_TABLE_ENTRIES // 32,) * 64), "more than the limit"),
]  # fmt: skip


@pytest.mark.parametrize("what,change,message", CASES, ids=[c[0] for c in CASES])
def test_header_limit(what: str, change, message: str) -> None:
    data = _file()
    bad = rewrite_header(data, change(parse(data).header))
    with pytest.raises(FormatError, match=message):
        parse(bad)


def test_version_and_flags() -> None:
    data = bytearray(_file())
    from ncodec.container.fuzz import _fix_crc  # the CRC over the fixed header fields

    hlen = int.from_bytes(data[12:16], "little")
    for offset, value, message in ((8, 9, "unsupported format version 9"), (10, 1, "header flags")):
        d = bytearray(data)
        d[offset : offset + 2] = value.to_bytes(2, "little")
        _fix_crc(d, 8, 16 + hlen)
        with pytest.raises(FormatError, match=message):
            parse(bytes(d))


def test_rewritten_valid_header_still_parses() -> None:
    for kind in ("static", "uniform"):
        data = _file(kind)
        assert rewrite_header(data, parse(data).header) == data
