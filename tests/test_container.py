"""The .ncd container: golden files, header fields, chunk independence, error messages, `ncodec info`."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from ncodec import FormatError
from ncodec.cli import main as cli_main
from ncodec.container import (
    FORMAT_VERSION,
    MAGIC,
    MediaInfo,
    TokenSection,
    compress,
    compress_sections,
    decompress,
    decompress_partial,
    decompress_sections,
    parse,
    write_file,
)
from ncodec.entropy import (
    AdaptiveContextPrior,
    FrameIndexedPrior,
    IndexedTablePrior,
    NeuralPrior,
    PriorKind,
    StaticPrior,
    UniformPrior,
    freqs_from_counts,
)

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_NAMES = ["uniform_image", "static_audio", "adaptive_video", "indexed_latent"]


def _golden_prior(name: str):
    f = GOLDEN / f"{name}.prior.safetensors"
    if not f.exists():
        return None
    t = load_file(str(f))
    if "index" in t:
        n = sum(1 for k in t if k.startswith("table."))
        return IndexedTablePrior([t[f"table.{i}"] for i in range(n)], t["index"], escape=True)
    return StaticPrior.from_state_dict(t)


def _golden_generate():
    import importlib.util

    spec = importlib.util.spec_from_file_location("golden_generate", GOLDEN / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def _two_section_case() -> tuple[list[TokenSection], dict]:
    """The two-section golden file's sections and arguments (tests/golden/generate.py)."""
    toks, priors, kw = _golden_generate().two_section_case()
    secs = [
        TokenSection(toks[0], priors[0], quantizer="EntropyBottleneck", chunk_len=1),
        TokenSection(toks[1], priors[1], quantizer="GaussianConditional", chunk_len=2),
    ]
    return secs, kw


@pytest.mark.parametrize("version", [FORMAT_VERSION, 1])
@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_decodes_exactly_and_reencodes_identically(name: str, version: int) -> None:
    """Each golden file (and its version-1 twin) decodes to its tokens and is written back byte for byte."""
    data = (GOLDEN / ("v1/" if version == 1 else "") / f"{name}.ncd").read_bytes()
    expected = np.load(GOLDEN / f"{name}.tokens.npy", allow_pickle=False)
    prior = _golden_prior(name)
    tokens = decompress(data, prior)
    np.testing.assert_array_equal(tokens, expected)
    h = parse(data).header
    if prior is None:
        from ncodec.container import prior_for

        prior = prior_for(h)
    again = compress(
        expected,
        prior,
        codec=h.codec,
        weights_hash=h.weights_hash,
        media=h.media,
        quantizer=h.quantizer,
        token_form=h.token_form,
        chunk_len=h.chunk_len,
        prior_name=h.prior_name,
        extra=h.extra,
        version=version,
    )
    assert again == data, "format or coding changed: bump FORMAT_VERSION and regenerate tests/golden"


@pytest.mark.parametrize("name", [*GOLDEN_NAMES, "two_sections"])
def test_version_1_files_still_decode(name: str) -> None:
    """Files written by format version 1 (which also listed an indexed prior's alphabets) decode to the
    same tokens; their header differs from the version-2 file's only in the version and those lists."""
    import dataclasses

    old = (GOLDEN / "v1" / f"{name}.ncd").read_bytes()
    assert old[8:10] == (1).to_bytes(2, "little")
    h1, h2 = parse(old).header, parse((GOLDEN / f"{name}.ncd").read_bytes()).header
    assert (h1.version, h2.version) == (1, FORMAT_VERSION)
    indexed = [sec.prior_kind == PriorKind.INDEXED for sec in h2.sections]
    assert all(sec.alphabet for sec in h1.sections)
    assert [not sec.alphabet for sec in h2.sections] == indexed
    assert h2.sections == tuple(
        dataclasses.replace(sec, alphabet=()) if ind else sec
        for sec, ind in zip(h1.sections, indexed, strict=True)
    )
    if name == "two_sections":  # decoded through a callable prior; written back as version 1 here
        secs, kw = _two_section_case()
        assert compress_sections(secs, **kw, version=1) == old


def test_version_2_rejects_listed_indexed_alphabets_and_version_1_empty_ones() -> None:
    data = (GOLDEN / "indexed_latent.ncd").read_bytes()
    h = parse(data).header
    prior = _golden_prior("indexed_latent")
    assert h.alphabet == () and h.prior_kind == PriorKind.INDEXED
    # Claim version 1 (CRC fixed): a version-1 header must list the alphabets.
    bad = _with_crc(data[:8] + (1).to_bytes(2, "little") + data[10:])
    with pytest.raises(FormatError, match="empty alphabet list"):
        decompress(bad, prior)
    old = (GOLDEN / "v1" / "indexed_latent.ncd").read_bytes()
    bad = _with_crc(old[:8] + (2).to_bytes(2, "little") + old[10:])
    with pytest.raises(FormatError, match="come from its tables"):
        decompress(bad, prior)
    with pytest.raises(FormatError, match="unsupported format version 4"):
        decompress(_with_crc(data[:8] + (4).to_bytes(2, "little") + data[10:]), prior)
    with pytest.raises(ValueError, match="writes versions"):
        compress(np.zeros((1, 1, 2), np.int64), UniformPrior((2,)), version=4)


def test_frame_indexed_prior_makes_version_3_files_and_nothing_else_does() -> None:
    tabs = [freqs_from_counts(np.array([5, 3, 1])), freqs_from_counts(np.array([1, 2, 3, 4]))]
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, (1, 2, 6, 3, 4))
    x[0, 1, 4, 2, 0] = 10**12
    index = np.zeros(x.shape, np.int64)
    index[:, :, 1:] = np.minimum(x[:, :, :-1], 1)  # each frame's tables from the frame before it
    p = FrameIndexedPrior(tabs, index)
    data = compress(x, p, chunk_len=4)
    h = parse(data).header
    assert (h.version, h.prior_kind, h.prior_params) == (3, PriorKind.INDEXED, (1, 1))
    np.testing.assert_array_equal(decompress(data, p), x)
    assert parse(compress(x, IndexedTablePrior(tabs, index, escape=True))).header.version == 2
    with pytest.raises(FormatError, match="not allowed in version 2"):
        decompress(_with_crc(data[:8] + (2).to_bytes(2, "little") + data[10:]), p)
    with pytest.raises(FormatError, match="parameters"):
        decompress(data, IndexedTablePrior(tabs, index, escape=True))
    with pytest.raises(ValueError, match="version 3"):
        compress(x, p, version=1)


def test_golden_header_fields() -> None:
    h = parse((GOLDEN / "static_audio.ncd").read_bytes()).header
    assert h.codec == "golden-audio" and h.quantizer == "FSQ" and h.token_form == 1
    assert h.media == MediaInfo("audio", channels=1, sample_rate=24000, length=15990, padding=(0, 10))
    assert h.alphabet == (8, 5, 5, 5) and h.shape == (1, 4, 50) and h.chunk_len == 20
    assert h.extra == (("note", "golden file"),)
    v = parse((GOLDEN / "adaptive_video.ncd").read_bytes()).header
    assert v.media.frame_rate == (30000, 1001) and v.prior_params == AdaptiveContextPrior((16,)).params
    assert parse((GOLDEN / "uniform_image.ncd").read_bytes()).header.weights_hash == bytes(range(32))


def test_golden_two_sections_hyperprior_style() -> None:
    """z first, then y whose tables are chosen from the decoded z (a callable prior)."""
    gen = _golden_generate()
    data = (GOLDEN / "two_sections.ncd").read_bytes()
    t = load_file(str(GOLDEN / "two_sections.prior.safetensors"))
    tables = [t["table.0"], t["table.1"]]

    def y_prior(decoded: list[np.ndarray]) -> IndexedTablePrior:
        return IndexedTablePrior(tables, gen.hyper_index(decoded[0]), escape=True)

    z, y = decompress_sections(data, [None, y_prior])
    np.testing.assert_array_equal(z, np.load(GOLDEN / "two_sections.tokens.0.npy", allow_pickle=False))
    np.testing.assert_array_equal(y, np.load(GOLDEN / "two_sections.tokens.1.npy", allow_pickle=False))
    h = parse(data).header
    assert [sec.quantizer for sec in h.sections] == ["EntropyBottleneck", "GaussianConditional"]
    secs, kw = _two_section_case()
    assert compress_sections(secs, **kw) == data
    with pytest.raises(FormatError, match="use decompress_sections"):
        decompress(data)
    with pytest.raises(FormatError, match="2 token sections, 1 priors"):
        decompress_sections(data, [None])
    with pytest.raises(FormatError, match="pass that prior"):
        decompress_sections(data)


def _file(**kw) -> tuple[bytes, np.ndarray]:
    x = np.random.default_rng(0).integers(0, 50, (2, 2, 9, 3))
    kw.setdefault("chunk_len", 4)
    return compress(x, UniformPrior((50, 50)), codec="unit", **kw), x


def test_round_trip_every_prior_with_chunks() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 20, (1, 2, 11, 4))
    priors = [
        UniformPrior((20, 20)),
        StaticPrior.fit(x, (20, 20)),
        AdaptiveContextPrior((20, 20)),
        AdaptiveContextPrior((20, 20), init=StaticPrior.fit(x, (20, 20))),
        NeuralPrior((20, 20), lambda known, s, pos: np.full((len(pos), 20), 0.05), weights_digest=b"n" * 32),
    ]
    for p in priors:
        for chunk_len in (1, 3, 11, 100):
            data = compress(x, p, chunk_len=chunk_len)
            np.testing.assert_array_equal(decompress(data, p), x)
            assert len(parse(data).chunks) == -(-11 // chunk_len)


def test_shapes_without_spatial_axes_and_empty() -> None:
    for x in (
        np.zeros((0, 1, 5), dtype=np.int64),
        np.arange(6).reshape(2, 3) % 2,
        np.zeros((1, 1, 0, 4), int),
    ):
        p = UniformPrior((2,) * x.shape[1])
        np.testing.assert_array_equal(decompress(compress(x, p)), x)


def test_chunks_are_independent_and_damage_is_reported() -> None:
    data, x = _file()
    nf = parse(data)
    assert len(nf.chunks) == 3
    bad = bytearray(data)
    bad[nf.chunks[1].offset + 25] ^= 0x10
    with pytest.raises(FormatError, match="CRC mismatch in chunk 1"):
        decompress(bytes(bad))
    tokens, h, damaged = decompress_partial(bytes(bad))
    assert list(damaged) == [1] and "CRC mismatch in chunk 1" in damaged[1]
    np.testing.assert_array_equal(tokens[:, :, :4], x[:, :, :4])
    np.testing.assert_array_equal(tokens[:, :, 8:], x[:, :, 8:])
    assert (tokens[:, :, 4:8] == -1).all()
    # A destroyed chunk length: the index still finds chunk 2.
    bad = bytearray(data)
    bad[nf.chunks[0].offset + 16 : nf.chunks[0].offset + 20] = b"\xff\xff\xff\xff"
    tokens, _, damaged = decompress_partial(bytes(bad))
    assert list(damaged) == [0]
    np.testing.assert_array_equal(tokens[:, :, 4:], x[:, :, 4:])
    # No index (cut off), chunks still readable in order.
    idx_start = nf.chunks[-1].offset + nf.chunks[-1].size
    tokens, _, damaged = decompress_partial(data[:idx_start])
    assert not damaged
    np.testing.assert_array_equal(tokens, x)


def _with_crc(data: bytes) -> bytes:
    """``data`` with its header CRC recomputed (after editing the version field)."""
    return _patch_header(data, lambda body: None)


def _patch_header(data: bytes, body_edit) -> bytes:
    hlen = struct.unpack("<I", data[12:16])[0]
    body = bytearray(data[16 : 16 + hlen])
    body_edit(body)
    head = data[:12] + struct.pack("<I", len(body)) + bytes(body)
    rest = data[16 + hlen + 4 :]
    new = head + struct.pack("<I", zlib.crc32(head[8:]) & 0xFFFFFFFF) + rest
    return new


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"RIFF" + d[4:], "bad magic"),
        (lambda d: d[:5], "truncated at byte 5"),
        (lambda d: d[:8] + b"\x04\x00" + d[10:], "unsupported format version 4"),
        (lambda d: d[:10] + b"\x01\x00" + d[12:], "unsupported header flags"),
        (lambda d: d[:12] + b"\xff\xff\xff\x7f" + d[16:], "header length"),
        (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "CRC mismatch in header"),
        (lambda d: d[:-1], "trailer"),
        (lambda d: d + b"\0", "trailer"),
        (lambda d: d[:-40], "truncated|index|trailer"),
        (lambda d: b"", "truncated at byte 0"),
    ],
)
def test_error_messages_name_the_problem(mutate, message: str) -> None:
    data, _ = _file()
    with pytest.raises(FormatError, match=message):
        decompress(mutate(data))


def test_header_semantics_are_checked_behind_a_valid_crc() -> None:
    data, _ = _file()
    # media kind byte follows codec name ("unit": 1 + 4 bytes) and the 32-byte weights hash
    mk = 1 + 4 + 32
    with pytest.raises(FormatError, match="unknown media kind"):
        decompress(_patch_header(data, lambda b: b.__setitem__(mk, 9)))
    with pytest.raises(FormatError, match="non-canonical|varint|exceeds|truncated"):
        decompress(_patch_header(data, lambda b: b.__setitem__(slice(mk + 1, mk + 2), b"\xff")))
    with pytest.raises(FormatError, match="unexpected bytes"):
        decompress(_patch_header(data, lambda b: b.extend(b"\x00")))
    with pytest.raises(FormatError):
        decompress(_patch_header(data, lambda b: b.__setitem__(slice(0, 1), b"\xff")))


def test_prior_mismatch_and_unknown_codec() -> None:
    x = np.random.default_rng(2).integers(0, 9, (1, 1, 30))
    static = StaticPrior.fit(x, (9,))
    data = compress(x, static, codec="image-a")
    with pytest.raises(FormatError, match="pass that prior"):
        decompress(data)
    with pytest.raises(FormatError, match="prior tables"):
        decompress(data, StaticPrior.fit(x[:, :, :10], (9,)))
    with pytest.raises(FormatError, match="uniform prior"):
        decompress(data, UniformPrior((9,)))
    with pytest.raises(FormatError, match="unknown codec 'image-a'"):
        decompress(data, static, codec="image-b")
    np.testing.assert_array_equal(decompress(data, static, codec="image-a"), x)


def test_verify_refuses_a_prior_that_is_not_reproducible() -> None:
    calls = {"n": 0}

    def flaky(known, s, pos):  # a "network" whose output drifts between calls (e.g. another GPU)
        calls["n"] += 1
        return np.random.default_rng(calls["n"]).random((len(pos), 4)) + 0.01

    x = np.random.default_rng(3).integers(0, 4, (1, 1, 40))
    with pytest.raises(FormatError, match="refusing to write"):
        compress(x, NeuralPrior((4,), flaky))
    compress(x, NeuralPrior((4,), flaky), verify=False)  # without verification it would have been written


def test_escape_and_indexed_prior_in_container() -> None:
    tabs = [freqs_from_counts(np.array([5, 3, 1])), freqs_from_counts(np.array([1, 2, 3, 4]))]
    idx = np.random.default_rng(4).integers(0, 2, (1, 2, 7, 3))
    x = np.random.default_rng(5).integers(0, 2, idx.shape)
    x[0, 0, 3, 1] = 10**15
    p = IndexedTablePrior(tabs, idx, escape=True)
    data = compress(x, p, chunk_len=2)
    np.testing.assert_array_equal(decompress(data, p), x)
    with pytest.raises(FormatError, match="table index"):
        decompress(data, IndexedTablePrior(tabs, idx[:, :, :3], escape=True))


def test_bad_arguments_to_compress() -> None:
    p = UniformPrior((4,))
    x = np.zeros((1, 1, 5), dtype=np.int64)
    with pytest.raises(ValueError):
        compress(x, p, weights_hash=b"short")
    with pytest.raises(ValueError):
        compress(x, p, media=MediaInfo("smell"))
    with pytest.raises(ValueError):
        compress(x, p, chunk_len=0)
    with pytest.raises(ValueError):
        compress(np.full((1, 1, 5), 4), p)


def test_write_file_is_atomic(tmp_path) -> None:
    data, _ = _file()
    target = tmp_path / "a.ncd"
    write_file(target, data)
    assert target.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["a.ncd"]


def test_cli_info(tmp_path, capsys) -> None:
    data, x = _file(media=MediaInfo("image", width=12, height=36, channels=3))
    good = tmp_path / "good.ncd"
    good.write_bytes(data)
    assert cli_main(["info", str(good), "--decode"]) == 0
    out = capsys.readouterr().out
    assert "image 12x36" in out and "bits/token" in out and "decode      ok" in out
    assert cli_main(["info", str(good), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["format_version"] == FORMAT_VERSION and rep["ok"] and rep["tokens"] == x.size
    assert [c["crc"] for c in rep["chunks"]] == ["ok", "ok", "ok"]
    # fixed-length cost plus at most two 32-bit words of ANS state per chunk
    assert np.log2(50) <= rep["payload_bits_per_token"] <= np.log2(50) + 3 * 64 / x.size

    bad = bytearray(data)
    bad[parse(data).chunks[2].offset + 22] ^= 1
    (tmp_path / "bad.ncd").write_bytes(bytes(bad))
    assert cli_main(["info", str(tmp_path / "bad.ncd"), "--json"]) == 1
    captured = capsys.readouterr()
    rep = json.loads(captured.out)
    assert [c["crc"] for c in rep["chunks"]] == ["ok", "ok", "bad"]
    assert "CRC mismatch in chunk 2" in captured.err

    (tmp_path / "junk.ncd").write_bytes(b"hello world, not a codec file")
    assert cli_main(["info", str(tmp_path / "junk.ncd")]) == 2
    assert "bad magic" in capsys.readouterr().err
    assert cli_main(["info", str(tmp_path / "missing.ncd")]) == 2
    assert MAGIC.startswith(b"\x89NCD")


def test_header_declaring_billions_of_chunks_is_rejected_without_allocating() -> None:
    data, _ = _file()
    h = parse(data).header

    # shape[2] = 2**32 - 1 and chunk_len 1 -> 4 billion chunks; the CRC is made valid on purpose.
    def edit(b: bytearray) -> None:
        body = bytes(b)
        old = bytes([4, 2, 2, 9, 3, 4])  # rank 4, shape (2, 2, 9, 3), chunk_len 4
        i = body.index(old)
        b[i : i + len(old)] = bytes([4, 2, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 3, 1])

    assert h.shape == (2, 2, 9, 3) and h.chunk_len == 4
    with pytest.raises(FormatError, match="declares 4294967295 chunks"):
        parse(_patch_header(data, edit))


def test_max_tokens_limit() -> None:
    data, x = _file()
    with pytest.raises(FormatError, match="more than the limit 100"):
        decompress(data, max_tokens=100)
    np.testing.assert_array_equal(decompress(data, max_tokens=x.size), x)


def test_header_with_huge_alphabets_is_rejected_before_building_tables() -> None:
    data, _ = _file()

    def edit(b: bytearray) -> None:  # 2 streams of 50 symbols -> 2 streams of 2**20 - 1 (CRC fixed)
        i = bytes(b).index(bytes([2, 50, 50]))
        b[i : i + 3] = bytes([2, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x3F])

    mutated = _patch_header(data, edit)
    assert parse(mutated, strict=False).header.alphabet == (2**20 - 1, 2**20 - 1)  # allowed
    with pytest.raises(FormatError):
        decompress(mutated)

    def edit_many(b: bytearray) -> None:  # 20 streams of 2**20 - 1: 20 M table entries
        i = bytes(b).index(bytes([2, 50, 50]))
        b[i : i + 3] = bytes([20]) + bytes([0xFF, 0xFF, 0x3F]) * 20

    with pytest.raises(FormatError, match="alphabets total"):
        parse(_patch_header(data, edit_many))


def test_reader_seeks_to_single_chunks(tmp_path) -> None:
    from ncodec.container import NcdReader

    x = np.random.default_rng(6).integers(0, 30, (1, 2, 23, 3))
    p = AdaptiveContextPrior((30, 30))
    data = compress(x, p, chunk_len=5)
    path = tmp_path / "c.ncd"
    path.write_bytes(data)
    with NcdReader(path) as r:
        assert r.spans == [(0, 0, 5), (0, 5, 5), (0, 10, 5), (0, 15, 5), (0, 20, 3)]
        for k in (4, 0, 2):
            _, s, n = r.spans[k]
            np.testing.assert_array_equal(r.read_chunk(k), x[:, :, s : s + n])
        with pytest.raises(IndexError):
            r.read_chunk(5)
    # A damaged chunk only affects itself.
    bad = bytearray(data)
    bad[parse(data).chunks[1].offset + 26] ^= 4
    path.write_bytes(bytes(bad))
    with NcdReader(path) as r:
        np.testing.assert_array_equal(r.read_chunk(3), x[:, :, 15:20])
        with pytest.raises(FormatError, match="chunk 1"):
            r.read_chunk(1)
    for broken, message in (
        (data[:-3], "trailer"),
        (b"\x89NCD", "truncated"),
        (b"GIF89a" + bytes(40), "magic"),
    ):
        path.write_bytes(broken)
        with pytest.raises(FormatError, match=message):
            NcdReader(path)


def test_golden_sparse_adaptive_file() -> None:
    """A 4096-symbol alphabet: the adaptive prior's sparse (hit-count) contexts, pinned byte for byte."""
    data = (GOLDEN / "adaptive_sparse.ncd").read_bytes()
    x, prior, kw = _golden_generate().sparse_adaptive_case()
    assert np.array_equal(np.load(GOLDEN / "adaptive_sparse.tokens.npy"), x)
    assert np.array_equal(decompress(data, prior), x)
    assert compress(x, prior, **kw) == data
    assert len(data) < 200 + x.size * 12 / 8  # the contexts pay: under 12 bits a token with the container
