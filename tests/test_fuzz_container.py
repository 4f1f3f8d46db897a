"""Fuzzing the .ncd reader: 20,000 mutated files per default run (scripts/fuzz_container.py for millions).

Each case decodes to exactly the original tokens, or raises FormatError, or (only when the mutation
recomputed CRCs and so produced another valid file) returns tokens whose canonical encoding is exactly the
mutated file; never another exception, never a hang, never wrong tokens silently.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from ncodec import FormatError
from ncodec.container import decompress, decompress_sections, parse
from ncodec.container.fuzz import make_seeds, mutate, run_case, run_fuzz


def test_fuzz_20000_mutations() -> None:
    rep = run_fuzz(20000, seed=12345, time_limit=10.0)
    assert rep.cases == 20000
    msg = "\n".join(f"{s} {k}: {e} (bytes {d.hex()})" for s, k, e, d in rep.failures[:5])
    assert not rep.failures, msg
    assert rep.outcomes["rejected"] > 15000  # the mutations do reach the checks
    assert rep.outcomes["same"] > 0
    assert set(rep.kinds) >= {"flip", "truncate", "insert", "random", "absurd32", "header_crc_fixed"}


def test_fuzz_checker_catches_a_silent_wrong_decode(monkeypatch) -> None:
    """The harness itself must fail a decoder that returns different tokens without an error."""
    import ncodec.container.fuzz as fz

    s = make_seeds()[0]
    assert run_case(s, s.data) == "same"
    monkeypatch.setattr(fz, "decompress_sections", lambda data, priors=None: [s.tokens[0][:, :, ::-1].copy()])
    with pytest.raises(AssertionError, match="silently"):
        run_case(s, s.data, seek_reader=False)
    with pytest.raises(AssertionError, match="disagree"):
        run_case(s, s.data)
    monkeypatch.setattr(fz, "decompress_sections", lambda data, priors=None: int("x"))
    with pytest.raises(AssertionError, match="ValueError instead of FormatError"):
        run_case(s, s.data)


def test_every_truncation_of_every_seed_is_rejected() -> None:
    for s in make_seeds():
        for n in range(len(s.data)):
            with pytest.raises(FormatError):
                decompress_sections(s.data[:n], s.priors)


def test_every_single_bit_flip_of_a_seed_is_rejected() -> None:
    s = make_seeds()[1]
    for i in range(len(s.data)):
        for bit in (0, 3, 7):
            d = bytearray(s.data)
            d[i] ^= 1 << bit
            with pytest.raises(FormatError):
                decompress_sections(bytes(d), s.priors)


def test_absurd_lengths_do_not_allocate() -> None:
    s = make_seeds()[0]
    rng = random.Random(0)
    for off in s.layout["u32_fields"]:
        for v in (2**31, 2**32 - 1):
            d = bytearray(s.data)
            d[off : off + 4] = v.to_bytes(4, "little")
            with pytest.raises(FormatError):
                decompress(bytes(d))
    for _ in range(200):
        kind, d = mutate(s, rng)
        assert run_case(s, d) in ("rejected", "same", "other-valid-file")


def test_seeds_are_valid() -> None:
    seeds = make_seeds()
    assert {s.name for s in seeds} >= {"uniform", "static", "adaptive", "indexed", "sections"}
    for s in seeds:
        for got, want in zip(decompress_sections(s.data, s.priors), s.tokens, strict=True):
            np.testing.assert_array_equal(got, want)
        assert parse(s.data).ok


def test_fuzz_script_runs_and_reports(tmp_path) -> None:
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_container.py"
    spec = importlib.util.spec_from_file_location("fuzz_container_script", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "fuzz.json"
    assert mod.main(["--cases", "500", "--seed", "3", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["cases"] == 500 and not rep["failures"]


@pytest.mark.slow
def test_bench_script_quick(tmp_path) -> None:
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_entropy.py"
    spec = importlib.util.spec_from_file_location("bench_entropy_script", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "bench.json"
    assert mod.main(["--quick", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["throughput"]["ncodec_vs_constriction_encode_pct"] > 0
    assert res["real_tokens"]["vq"]["total"]["adaptive_saved_pct"] > 0
    assert res["real_tokens"]["rvq"]["total"]["adaptive_vs_oracle_pct"] > 0
