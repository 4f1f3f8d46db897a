"""Entropy layer: exact integer tables, priors, coder round trips (hypothesis), quantizer alphabets."""

from __future__ import annotations

import constriction
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncodec import FormatError, ShapeError
from ncodec.entropy import (
    MAX_ALPHABET,
    TOTAL,
    AdaptiveContextPrior,
    FrameIndexedPrior,
    IndexedTablePrior,
    NeuralPrior,
    StaticPrior,
    UniformPrior,
    decode,
    encode,
    freqs_from_counts,
    freqs_from_probabilities,
    ideal_bits,
    uniform_freqs,
    validate_freqs,
    wavefront_plan,
)

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _probe(table: np.ndarray, lazy: bool, quantiles: np.ndarray) -> np.ndarray:
    """Symbols constriction's ANS decoder yields for given 24-bit quantiles of the first decoded symbol."""
    out = []
    for q in quantiles:
        coder = constriction.stream.stack.AnsCoder(np.array([q, 1], dtype=np.uint32))
        if lazy:
            fam = constriction.stream.model.Categorical(perfect=False)
            out.append(coder.decode(fam, (table[None] - 1).astype(np.float32))[0])
        else:
            out.append(
                coder.decode(
                    constriction.stream.model.Categorical((table - 1).astype(np.float32), perfect=False)
                )
            )
    return np.array(out)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("k", [2, 3, 17, 1000])
def test_constriction_uses_our_integer_table_exactly(k: int, lazy: bool) -> None:
    """At every CDF boundary constriction's decoder switches symbol exactly where cumsum(f) says."""
    rng = np.random.default_rng(k)
    counts = (rng.pareto(0.7, k) * 100).astype(np.int64)
    counts[rng.integers(0, k, max(1, k // 4))] = 0  # zero counts -> frequency 1
    f = freqs_from_counts(counts)
    cdf = np.concatenate([[0], np.cumsum(f)])
    q = np.unique(np.concatenate([cdf[:-1], cdf[1:] - 1, rng.integers(0, TOTAL, 50)]))
    q = q[(q >= 0) & (q < TOTAL)][:400]
    expected = np.searchsorted(cdf, q, side="right") - 1
    np.testing.assert_array_equal(_probe(f, lazy, q), expected)


def test_constriction_exact_for_large_alphabet() -> None:
    k = 1 << 18
    f = freqs_from_counts(np.random.default_rng(0).integers(0, 5, k))
    cdf = np.concatenate([[0], np.cumsum(f)])
    idx = np.array([0, 1, 2, k // 2, k - 2, k - 1])
    q = np.concatenate([cdf[idx], cdf[idx + 1] - 1])
    np.testing.assert_array_equal(_probe(f, False, q), np.searchsorted(cdf, q, side="right") - 1)


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=300))
@FAST
def test_freqs_from_counts_properties(counts: list[int]) -> None:
    f = freqs_from_counts(np.array(counts, dtype=np.int64))
    assert f.dtype == np.int64 and len(f) == len(counts)
    assert f.min() >= 1 and int(f.sum()) == TOTAL
    c = np.array(counts)
    if len(c) > 1 and c.sum() > 0:  # larger counts never get smaller frequencies
        order = np.argsort(c, kind="stable")
        assert (np.diff(f[order]) >= -1).all()
    np.testing.assert_array_equal(f, freqs_from_counts(np.array(counts, dtype=np.int64)))


def test_table_helpers_reject_bad_input() -> None:
    for bad in ([], [-1, 2], [[1, 2]]):
        with pytest.raises(ValueError):
            freqs_from_counts(np.array(bad, dtype=np.int64))
    with pytest.raises(ValueError):
        freqs_from_counts(np.array([0.5, 1.0]))
    with pytest.raises(ValueError):
        validate_freqs(np.array([TOTAL - 1, 0]))
    with pytest.raises(ValueError):
        validate_freqs(np.array([TOTAL // 2, TOTAL // 2 - 1]))
    with pytest.raises(ValueError):
        uniform_freqs(MAX_ALPHABET + 1)
    with pytest.raises(ValueError):
        UniformPrior((0,))
    with pytest.raises(ValueError):
        freqs_from_probabilities(np.array([0.5, np.nan]))
    assert validate_freqs(uniform_freqs(3)).sum() == TOTAL


# ------------------------------------------------------------------------------------------ round trips


def _alphabets() -> st.SearchStrategy[tuple[int, ...]]:
    k = st.one_of(st.just(1), st.just(2), st.integers(1, 300), st.sampled_from([1000, 4096, 64000]))
    return st.lists(k, min_size=1, max_size=3).map(tuple)


def _tokens(draw, alphabet: tuple[int, ...], max_spatial: int = 3) -> np.ndarray:
    rank = draw(st.integers(0, max_spatial))
    spatial = tuple(draw(st.lists(st.integers(0, 5), min_size=rank, max_size=rank)))
    b = draw(st.integers(0, 2))
    shape = (b, len(alphabet), *spatial)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    skew = draw(st.sampled_from(["uniform", "skewed", "constant"]))
    x = np.empty(shape, dtype=np.int64)
    for s, k in enumerate(alphabet):
        n = x[:, s].size
        if skew == "uniform":
            v = rng.integers(0, k, n)
        elif skew == "skewed":  # geometric: mostly 0, occasionally the top symbol
            v = np.minimum(rng.geometric(0.9, n) - 1, k - 1)
            v[rng.random(n) < 0.01] = k - 1
        else:
            v = np.full(n, k - 1)
        x[:, s] = v.reshape(x[:, s].shape)
    return x


@st.composite
def _case(draw, max_spatial: int = 3):
    alphabet = draw(_alphabets())
    return alphabet, _tokens(draw, alphabet, max_spatial)


@given(_case())
@FAST
def test_uniform_round_trip(case) -> None:
    alphabet, x = case
    p = UniformPrior(alphabet)
    data = encode(x, p)
    np.testing.assert_array_equal(decode(data, p, x.shape), x)
    bits = sum(x[:, s].size * np.log2(k) for s, k in enumerate(alphabet))
    assert 8 * len(data) <= bits + 64  # fixed-length cost plus at most two words of ANS state


@given(_case())
@FAST
def test_static_round_trip_and_cost(case) -> None:
    alphabet, x = case
    p = StaticPrior.fit(x, alphabet)
    data = encode(x, p)
    np.testing.assert_array_equal(decode(data, p, x.shape), x)
    ideal = sum(ideal_bits(x[:, s], p.tables[s]) for s in range(len(alphabet)))
    assert 8 * len(data) <= ideal * 1.001 + 64


@given(_case(), st.sampled_from([0, 1 << 12, 1 << 20]), st.integers(0, 4))
@FAST
def test_adaptive_round_trip(case, dense_limit: int, gain: int) -> None:
    alphabet, x = case
    p = AdaptiveContextPrior(alphabet, dense_limit=dense_limit, gain=gain, limit=64)
    data = encode(x, p)
    np.testing.assert_array_equal(decode(data, p, x.shape), x)


@given(_case(max_spatial=2))
@FAST
def test_adaptive_from_static_round_trip(case) -> None:
    alphabet, x = case
    init = StaticPrior.fit(x, alphabet, pseudo_count=1)
    p = AdaptiveContextPrior(alphabet, init=init)
    np.testing.assert_array_equal(decode(encode(x, p), p, x.shape), x)


def _neural_fn(alphabet):
    def fn(known: np.ndarray, s: int, pos: np.ndarray) -> np.ndarray:
        k = alphabet[s]
        # A toy "network": softmax over distance to the left neighbour (float probabilities).
        left = pos.copy()
        left[:, -1] -= 1
        ok = left[:, -1] >= 0
        ctx = np.where(ok, known[tuple(np.maximum(left, 0).T)], 0) if known.ndim > 1 else np.zeros(len(pos))
        d = np.abs(np.arange(k)[None, :] - ctx[:, None])
        p = np.exp(-d / 2.0)
        return p / p.sum(axis=1, keepdims=True)

    return fn


@given(_case())
@FAST
def test_neural_round_trip(case) -> None:
    alphabet, x = case
    p = NeuralPrior(alphabet, _neural_fn(alphabet))
    np.testing.assert_array_equal(decode(encode(x, p), p, x.shape), x)


@given(st.lists(st.integers(1, 40), min_size=1, max_size=4), st.integers(0, 2**32 - 1), st.booleans())
@FAST
def test_indexed_round_trip_with_escapes(sizes: list[int], seed: int, escape: bool) -> None:
    rng = np.random.default_rng(seed)
    sizes = [max(k, 2) for k in sizes] if escape else sizes
    tables = [freqs_from_counts(rng.integers(0, 10, k)) for k in sizes]
    shape = (2, 3, int(rng.integers(0, 6)))
    idx = rng.integers(0, len(sizes), shape)
    top = np.array(sizes)[idx]
    x = (rng.random(shape) * top).astype(np.int64)
    if escape:
        big = rng.random(shape) < 0.2
        x[big] = top[big] - 1 + rng.integers(0, 2**40, shape)[big]
        x.flat[:1] = (1 << 62) - 1 if x.size else x.flat[:1]
    p = IndexedTablePrior(tables, idx, escape=escape)
    np.testing.assert_array_equal(decode(encode(x, p), p, x.shape), x)


def _previous_frame_rule(n_tables: int):
    """A temporal context rule: frame 0 uses table 0, frame k the table named by frame k-1's tokens."""

    def rule(k: int, tokens: np.ndarray, index) -> np.ndarray:
        if k == 0:
            return np.zeros((*tokens.shape[:2], *tokens.shape[3:]), np.int64)
        return np.minimum(tokens[:, :, k - 1], n_tables - 1)

    return rule


@given(st.integers(0, 2**32 - 1), st.integers(0, 5))
@FAST
def test_frame_indexed_prior_decodes_with_a_context_from_earlier_frames(seed: int, frames: int) -> None:
    rng = np.random.default_rng(seed)
    tables = [freqs_from_counts(rng.integers(0, 10, k)) for k in (2, 3, 5, 9)]
    shape = (1, 2, frames, 3, 4)
    x = rng.integers(0, 8, shape)
    x[rng.random(shape) < 0.1] = 2**40 + 7  # escapes: the next frame's context needs their full value
    rule = _previous_frame_rule(len(tables))
    index = np.zeros(shape, np.int64)
    for k in range(frames):
        index[:, :, k] = rule(k, x[:, :, :k], None)
    enc = FrameIndexedPrior(tables, index)
    data = encode(x, enc)
    dec = FrameIndexedPrior(tables, np.zeros(shape, np.int64), next_index=rule)
    np.testing.assert_array_equal(decode(data, dec, shape), x)
    np.testing.assert_array_equal(decode(data, enc, shape), x)
    assert enc.params == (1, 1) and enc.digest == IndexedTablePrior(tables, index, escape=True).digest


def test_frame_indexed_prior_refuses_bad_callbacks_and_truncation() -> None:
    tables = [freqs_from_counts(np.array([3, 2, 1])), freqs_from_counts(np.array([1, 1, 1, 1, 4]))]
    shape = (1, 1, 3, 2, 2)
    x = np.random.default_rng(3).integers(0, 4, shape)
    p = FrameIndexedPrior(tables, np.ones(shape, np.int64))
    data = encode(x, p)
    wrong_shape, out_of_range = np.zeros((2, 2), np.int64), np.full((1, 1, 2, 2), 2)
    for bad, message in ((wrong_shape, "table index of shape"), (out_of_range, "outside")):
        with pytest.raises(FormatError, match=message):
            decode(data, FrameIndexedPrior(tables, p.index, next_index=lambda k, t, i, b=bad: b), shape)
    with pytest.raises(FormatError):
        decode(data[:-4], p, shape)
    with pytest.raises(ValueError, match="frame axis"):
        FrameIndexedPrior(tables, np.zeros((1, 4), np.int64))
    with pytest.raises(ValueError, match="cannot be sliced"):
        FrameIndexedPrior(tables, p.index, next_index=lambda k, t, i: None).sliced(0, 1)


def test_max_alphabet_and_extreme_skew() -> None:
    k = 1 << 18
    rng = np.random.default_rng(1)
    x = np.zeros((1, 1, 20000), dtype=np.int64)
    x[0, 0, rng.integers(0, 20000, 5)] = k - 1
    for p in (UniformPrior((k,)), StaticPrior.fit(x, (k,))):
        data = encode(x, p)
        np.testing.assert_array_equal(decode(data, p, x.shape), x)
    p = StaticPrior.fit(x, (k,))
    # Extremely skewed: 20000 tokens, almost all zero, cost close to the ideal cross-entropy.
    assert 8 * len(encode(x, p)) <= ideal_bits(x, p.tables[0]) + 64
    y = np.full((1, 1, 3), MAX_ALPHABET - 1)
    q = UniformPrior((MAX_ALPHABET,))
    np.testing.assert_array_equal(decode(encode(y, q), q, y.shape), y)


def test_empty_and_single_symbol_cost_nothing() -> None:
    for p, x in (
        (UniformPrior((5,)), np.zeros((0, 1, 4), dtype=np.int64)),
        (UniformPrior((1, 1)), np.zeros((2, 2, 7), dtype=np.int64)),
        (AdaptiveContextPrior((1,)), np.zeros((1, 1, 3, 3), dtype=np.int64)),
    ):
        assert encode(x, p) == b""
        np.testing.assert_array_equal(decode(b"", p, x.shape), x)


def test_wavefront_plan_covers_every_position_once_after_its_neighbours() -> None:
    shape = (3, 2, 4, 5)
    seen = np.full(shape, -1)
    for step, (s, pos) in enumerate(wavefront_plan(shape)):
        assert (pos[:, 0] == s).all()
        assert (seen[tuple(pos.T)] == -1).all()
        for axis in range(4):  # every neighbour one step back on any axis was visited earlier
            q = pos.copy()
            q[:, axis] -= 1
            ok = q[:, axis] >= 0
            assert (seen[tuple(q[ok].T)] >= 0).all() and (seen[tuple(q[ok].T)] < step).all()
        seen[tuple(pos.T)] = step
    assert (seen >= 0).all()


# ---------------------------------------------------------------------------------- errors and identity


def test_bad_tokens_and_shapes_raise_shape_error() -> None:
    p = UniformPrior((4, 4))
    with pytest.raises(ShapeError):
        encode(np.full((1, 2, 3), 4), p)
    with pytest.raises(ShapeError):
        encode(np.full((1, 2, 3), -1), p)
    with pytest.raises(ShapeError):
        encode(np.zeros((1, 3, 3), dtype=np.int64), p)
    with pytest.raises(ShapeError):
        AdaptiveContextPrior((4, 4)) and encode(np.full((1, 2, 3), 9), AdaptiveContextPrior((4, 4)))
    with pytest.raises(ShapeError):
        decode(b"", p, (1 << 13, 2, 1 << 12))
    with pytest.raises(ValueError):
        encode(np.zeros((1, 2, 3), dtype=np.float32), p)


def test_garbage_bytes_raise_format_error() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 7, (1, 2, 50))
    for p in (UniformPrior((7, 7)), StaticPrior.fit(x, (7, 7)), AdaptiveContextPrior((7, 7))):
        data = encode(x, p)
        with pytest.raises(FormatError):
            decode(data[:-1], p, x.shape)  # not whole words
        with pytest.raises(FormatError):
            decode(data + b"\0\0\0\0", p, x.shape)  # ends in a zero word / data left over
        with pytest.raises(FormatError):
            decode(data + data, p, x.shape)  # data left over


def test_static_prior_is_stored_as_integers(tmp_path) -> None:
    x = np.random.default_rng(3).integers(0, 300, (2, 3, 8, 8))
    p = StaticPrior.fit(x, (300, 300, 300))
    path = tmp_path / "prior.safetensors"
    p.save(path)
    q = StaticPrior.load(path)
    assert q.digest == p.digest and q.alphabet == p.alphabet
    for a, b in zip(p.tables, q.tables, strict=True):
        np.testing.assert_array_equal(a, b)
    from safetensors.numpy import load_file

    assert all(v.dtype == np.int32 for v in load_file(str(path)).values())
    import torch

    r = StaticPrior.from_state_dict({k: torch.from_numpy(v) for k, v in p.state_dict().items()})
    assert r.digest == p.digest
    assert StaticPrior.fit(x[:1], (300, 300, 300)).digest != p.digest


def test_same_bytes_across_thread_counts_and_calls() -> None:
    import torch

    x = np.random.default_rng(5).integers(0, 1000, (2, 2, 12, 12))
    priors = [
        UniformPrior((1000, 1000)),
        StaticPrior.fit(x, (1000, 1000)),
        AdaptiveContextPrior((1000, 1000)),
    ]
    before = [encode(x, p) for p in priors]
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        after = [encode(torch.from_numpy(x), p) for p in priors]
    finally:
        torch.set_num_threads(n)
    assert before == after


def test_adaptive_beats_static_on_correlated_tokens() -> None:
    """Piecewise-constant token maps (flat regions): left/up context must pay off clearly."""
    rng = np.random.default_rng(0)
    k = 256
    blocks = rng.integers(0, k, (2, 1, 8, 8))
    x = np.repeat(np.repeat(blocks, 6, axis=2), 6, axis=3)
    noise = rng.random(x.shape) < 0.1
    x = np.where(noise, rng.integers(0, k, x.shape), x)
    static = len(encode(x, StaticPrior.fit(x, (k,))))
    adaptive = len(encode(x, AdaptiveContextPrior((k,))))
    assert adaptive < 0.7 * static, (adaptive, static)


# ------------------------------------------------------------------------------------- quantizer alphabets


def _quantizers():
    q = pytest.importorskip("ncodec.quantizers")
    return [
        q.VQ(dim=8, codebook_size=64),
        q.RVQ(dim=8, n_q=3, codebook_size=32),
        q.GRVQ(dim=8, groups=2, n_q=2, codebook_size=16),
        q.FSQ(levels=[8, 5, 5, 5]),
        q.BSQ(dim=12, bits=12, group_size=4),
        q.LFQ(dim=18, bits=18, group_size=6),  # packed alphabet 2**18
    ]


@pytest.mark.parametrize("which", range(6))
def test_every_quantizer_alphabet_round_trips(which: int) -> None:
    import torch

    quant = _quantizers()[which]
    torch.manual_seed(which)
    quant.eval()
    z = torch.randn(2, quant.dim, 6, 5)
    with torch.no_grad():
        idx = quant.quantize(z)
    alphabet = tuple(quant.alphabet)
    assert idx.shape[1] == len(alphabet)
    forms = [(idx, alphabet)]
    if tuple(quant.symbol_alphabet) != alphabet:
        forms.append((quant.indices_to_symbols(idx), tuple(quant.symbol_alphabet)))
    for tokens, alph in forms:
        x = tokens.numpy()
        for p in (UniformPrior(alph), StaticPrior.fit(x, alph), AdaptiveContextPrior(alph)):
            np.testing.assert_array_equal(decode(encode(tokens, p), p, x.shape), x)


def test_same_bytes_in_a_fresh_process_with_other_thread_settings() -> None:
    """A separate interpreter (1 thread, other numpy state) writes the same bytes."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, sys\n"
        "from ncodec.entropy import AdaptiveContextPrior, StaticPrior, encode\n"
        "x = np.random.default_rng(11).integers(0, 500, (2, 2, 9, 7))\n"
        "s = StaticPrior.fit(x, (500, 500))\n"
        "sys.stdout.write((encode(x, s) + encode(x, AdaptiveContextPrior((500, 500), init=s))).hex())\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    x = np.random.default_rng(11).integers(0, 500, (2, 2, 9, 7))
    s = StaticPrior.fit(x, (500, 500))
    assert out == (encode(x, s) + encode(x, AdaptiveContextPrior((500, 500), init=s))).hex()


def test_neural_prior_integer_tables_and_bad_output() -> None:
    k = 6
    f = freqs_from_counts(np.array([10, 1, 1, 1, 1, 30]))
    p = NeuralPrior((k,), lambda known, s, pos: np.tile(f, (len(pos), 1)), weights_digest=b"w" * 32)
    x = np.array([[[5, 5, 0, 5, 1, 5, 5]]])
    np.testing.assert_array_equal(decode(encode(x, p), p, x.shape), x)
    assert p.digest == b"w" * 32
    bad = NeuralPrior((k,), lambda known, s, pos: np.ones((len(pos), k), dtype=np.int64))
    with pytest.raises(ValueError, match="sum to 2"):
        encode(x, bad)
    wrong = NeuralPrior((k,), lambda known, s, pos: np.ones((len(pos), k + 1)))
    with pytest.raises(ValueError, match="shape"):
        encode(x, wrong)


def test_freqs_from_probabilities_rows() -> None:
    p = np.array([[0.7, 0.2, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25]])
    f = freqs_from_probabilities(p)
    assert f.shape == (2, 4) and (f >= 1).all() and (f.sum(axis=1) == TOTAL).all()
    assert f[0, 0] > f[0, 1] > f[0, 2] > f[0, 3] == 1
    np.testing.assert_array_equal(f, freqs_from_probabilities(p))
