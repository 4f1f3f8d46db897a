"""Triton quantizer kernels against their torch references, on CPU through Triton's interpreter.

How the interpreter is switched on.  Triton reads ``TRITON_INTERPRET`` when a ``@triton.jit`` function
is *decorated* -- its own library functions (``tl.zeros``, ...) at ``import triton``, ours at the import
of ``ncodec.kernels.triton_*`` -- and in a few places at launch.  Another module (vector-quantize-pytorch,
torch.compile) may already have imported Triton in compiled mode.  So this module takes the Python
modules of Triton (not its C extension) and of our kernels out of ``sys.modules``, sets
``TRITON_INTERPRET=1``, imports fresh interpreted copies of both, keeps private references to them, and
puts ``sys.modules`` and ``os.environ`` back as they were.  Other test modules, and the dispatcher on a
real GPU, keep compiled Triton; the tests here use the interpreted copies, with ``TRITON_INTERPRET=1``
set again by an autouse fixture while each test runs.  This works whatever was imported before.

Every kernel output buffer is poisoned (NaN / the most negative integer) before the kernel runs, so an
element the kernel forgot to write fails the comparison.  Inputs are fresh random draws on every run
(no fixed seed); comparisons are exact wherever the math is exact, and where float32 rounding can
legitimately flip a result (near-ties), the test checks the flipped answer is as good as the reference's.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from types import ModuleType, SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ncodec.kernels as kernels
from ncodec.errors import ShapeError
from ncodec.kernels import reference as ref

pytest.importorskip("triton")  # before the swap below: skip cleanly where Triton is not installed

_MODULES = ("_triton_common", "triton_vq", "triton_fsq", "triton_binary")


def _probe(x_ptr, r_ptr, t_ptr, n, BLOCK: tl.constexpr):
    """Applies the FSQ kernel's portable rint and tanh helpers to a vector (decorated at load time)."""
    o = tl.arange(0, BLOCK)
    m = o < n
    v = tl.load(x_ptr + o, mask=m)
    tl.store(r_ptr + o, tfsq._rint(v, False), mask=m)
    tl.store(t_ptr + o, tfsq._tanh(v, False), mask=m)


def _swappable(name: str) -> bool:
    is_triton = name == "triton" or name.startswith("triton.")
    is_ours = name in {f"ncodec.kernels.{m}" for m in _MODULES}
    return (is_triton and not name.startswith("triton._C")) or is_ours


def _load_interpreted() -> dict[str, ModuleType]:
    """Private copies of Triton and of the kernel modules, imported under ``TRITON_INTERPRET=1``."""
    saved_env = os.environ.get("TRITON_INTERPRET")
    saved_mods = {n: m for n, m in sys.modules.items() if _swappable(n)}
    saved_attrs = {m: getattr(kernels, m) for m in _MODULES if hasattr(kernels, m)}
    for n in saved_mods:
        del sys.modules[n]
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        mods = {m: importlib.import_module(f"ncodec.kernels.{m}") for m in _MODULES}
        # test-only kernels are decorated inside the window too (jit imports its interpreter lazily)
        mods["probe"] = importlib.import_module("triton").jit(_probe)
    finally:
        if saved_env is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = saved_env
        for n in [n for n in sys.modules if _swappable(n)]:
            del sys.modules[n]
        sys.modules.update(saved_mods)
        for m in _MODULES:
            if hasattr(kernels, m):
                delattr(kernels, m)
        for m, v in saved_attrs.items():
            setattr(kernels, m, v)
    assert mods["_triton_common"].INTERPRET, "kernels were not decorated in interpreter mode"
    return mods


_K = _load_interpreted()
common, tvq, tfsq, tbin = _K["_triton_common"], _K["triton_vq"], _K["triton_fsq"], _K["triton_binary"]
tl = tfsq.tl  # the interpreted copy of triton.language, for the probe kernel below

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.fixture(autouse=True)
def _interpreter_and_poison(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setattr(common, "POISON", True)


def _no_poison(t: torch.Tensor) -> None:
    """No element still holds the poison value."""
    if t.dtype.is_floating_point:
        assert not torch.isnan(t).any(), "unwritten (NaN-poisoned) output elements"
    else:
        assert not (t == torch.iinfo(t.dtype).min).any(), "unwritten (poisoned) output elements"


def test_compiled_triton_left_in_place() -> None:
    """The interpreted copies are private: ``sys.modules`` still holds whatever was there before."""
    assert sys.modules.get("triton") is not tvq.triton
    assert sys.modules.get("ncodec.kernels.triton_vq") is not tvq


def test_poison_allocator_really_poisons() -> None:
    assert torch.isnan(common.empty((5,), torch.float32, torch.device("cpu"))).all()
    assert (common.empty((5,), torch.long, torch.device("cpu")) == torch.iinfo(torch.long).min).all()


# ------------------------------------------------------------------------------------------------
# VQ search
# ------------------------------------------------------------------------------------------------


def _dist64(x: torch.Tensor, c: torch.Tensor, cosine: bool) -> torch.Tensor:
    """Full (N, K) distance matrix in float64 (small sizes only): the arbiter for near-ties."""
    x, c = x.double(), c.double()
    if cosine:
        x = torch.nn.functional.normalize(x, dim=-1)
        c = torch.nn.functional.normalize(c, dim=-1)
        return 1.0 - x @ c.T
    return (x * x).sum(1, keepdim=True) - 2 * x @ c.T + (c * c).sum(1)


def _check_vq(x: torch.Tensor, c: torch.Tensor, cosine: bool, **kw) -> None:
    idx, dist = tvq.vq_search_triton(x, c, cosine=cosine, return_distance=True, **kw)
    _no_poison(idx)
    _no_poison(dist)
    ridx, rdist = ref.vq_search(x, c, cosine=cosine, return_distance=True)
    assert idx.dtype == torch.long and idx.shape == (x.shape[0],)
    assert dist.dtype == torch.float32
    d64 = _dist64(x, c, cosine)
    scale = 1.0 + d64.abs().amax().item()
    tol = 1e-5 * scale * math.sqrt(x.shape[1])
    best = d64.min(1).values
    # the kernel's choice is (to float32 rounding) as good as the best
    assert (d64.gather(1, idx[:, None]).squeeze(1) <= best + tol).all()
    # and exactly the reference's wherever the best is not a near-tie
    second = d64.topk(2, dim=1, largest=False).values[:, 1] if c.shape[0] > 1 else best + 1e9
    clear = (second - best) > 2 * tol
    assert clear.float().mean() > 0.5, "test inputs are degenerate"
    assert torch.equal(idx[clear], ridx[clear])
    torch.testing.assert_close(dist, rdist, rtol=1e-4, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize(
    "n,k,d,splits",
    [
        (37, 101, 5, 1),  # odd everything, one D block (padded to 16)
        (29, 257, 70, 3),  # D loop for fp32 (70 > 64), one 128-block for 16-bit; 3 codebook splits
        (19, 64, 130, None),  # D loop for every dtype (130 > 128); automatic splits
        (1, 33, 16, 2),  # one row, a split with a single code
    ],
)
def test_vq_search_matches_reference(dtype, cosine, n, k, d, splits) -> None:
    x = torch.randn(n, d).to(dtype)
    c = torch.randn(k, d).to(dtype)
    _check_vq(x, c, cosine, splits=splits)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vq_search_well_separated_exact(dtype) -> None:
    """Inputs near distinct codes: the index must be exactly the reference's (and the planted one)."""
    k, d, n = 203, 24, 45
    c = torch.randn(k, d) * 4
    planted = torch.randint(0, k, (n,))
    x = c[planted] + 0.01 * torch.randn(n, d)
    x, c = x.to(dtype), c.to(dtype)
    for cosine in (False, True):
        idx = tvq.vq_search_triton(x, c, cosine=cosine, splits=2)
        _no_poison(idx)
        assert torch.equal(idx, ref.vq_search(x, c, cosine=cosine))
        assert torch.equal(idx, planted)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("splits", [1, 4])
def test_vq_search_exact_ties_go_to_lowest_index(dtype, splits) -> None:
    """Small integers: every score is exact in float32, so scores tie exactly and only the tie rule
    decides; duplicated codes straddle tile (32) and split boundaries."""
    k, d, n = 150, 12, 40
    c = torch.randint(-2, 3, (k, d)).float()
    for dup in (31, 32, 64, 97, 149):
        c[dup] = c[3]
    x = torch.randint(-2, 3, (n, d)).float()
    x[:10] = c[3]
    x, c = x.to(dtype), c.to(dtype)
    idx = tvq.vq_search_triton(x, c, splits=splits)
    _no_poison(idx)
    assert torch.equal(idx, ref.vq_search(x, c))
    assert (idx[:10] == 3).all()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 40), k=st.integers(1, 150), d=st.integers(1, 140), splits=st.integers(1, 6),
    dtype=st.sampled_from(DTYPES), cosine=st.booleans(), seed=st.integers(0, 2**31 - 1),
)
def test_vq_search_exact_on_integer_data_any_shape(n, k, d, splits, dtype, cosine, seed) -> None:
    """Any shape, split count and dtype: small-integer data make all Euclidean scores exact, so the
    index must equal the reference's bit for bit (ties included). Cosine scores are not exact (norms), so
    there the chosen code must be as good as the reference's to float32 rounding."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, (n, d), generator=g).to(dtype)
    c = torch.randint(-3, 4, (k, d), generator=g).to(dtype)
    idx, dist = tvq.vq_search_triton(x, c, cosine=cosine, return_distance=True, splits=splits)
    _no_poison(idx)
    _no_poison(dist)
    ridx, rdist = ref.vq_search(x, c, cosine=cosine, return_distance=True)
    if cosine:
        d64 = _dist64(x, c, True)
        assert (d64.gather(1, idx[:, None]) <= d64.gather(1, ridx[:, None]) + 1e-5).all()
    else:
        assert torch.equal(idx, ridx)
        assert torch.equal(dist, rdist)


def test_vq_search_large_odd_codebook(monkeypatch: pytest.MonkeyPatch) -> None:
    """K = 100,003 (not a power of two, > 2^16) with wider interpreter tiles to keep it quick."""
    monkeypatch.setitem(tvq._INTERP_BLOCKS, "BLOCK_K", 4096)
    k, d, n = 100_003, 8, 16
    c = torch.randn(k, d)
    planted = torch.tensor([0, 1, k - 1, k - 2, 65535, 65536, 4095, 4096] + list(range(500, 508)))
    x = c[planted] + 1e-4 * torch.randn(n, d)
    for splits in (1, 5):
        idx, dist = tvq.vq_search_triton(x, c, return_distance=True, splits=splits)
        _no_poison(idx)
        assert torch.equal(idx, planted)
        ridx, rdist = ref.vq_search(x, c, return_distance=True)
        assert torch.equal(idx, ridx)
        torch.testing.assert_close(dist, rdist, rtol=0, atol=1e-5)  # ||x||^2 + ||c||^2 - 2x.c cancels


def test_vq_search_mixed_dtypes_and_layout() -> None:
    """x bf16 with an fp32 codebook, a non-contiguous x and a float64 codebook: computed in float32."""
    c = torch.randn(90, 20)
    x = torch.randn(20, 50).T  # (50, 20) with column-major strides
    _check_vq(x, c, False)
    _check_vq(x.bfloat16(), c, False)
    _check_vq(x, c.double(), True)


def test_vq_search_empty_and_errors() -> None:
    c = torch.randn(10, 4)
    idx, dist = tvq.vq_search_triton(torch.randn(0, 4), c, return_distance=True)
    assert idx.shape == (0,) and dist.shape == (0,)
    with pytest.raises(ShapeError):
        tvq.vq_search_triton(torch.randn(3, 5), c)
    with pytest.raises(ShapeError):
        tvq.vq_search_triton(torch.randn(3, 4), torch.randn(0, 4))


def test_row_stat_modes() -> None:
    v = torch.randn(37, 45)
    sq = (v.double() ** 2).sum(1)
    torch.testing.assert_close(tvq.row_stat(v, 0).double(), sq / 2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(tvq.row_stat(v, 1).double(), 1 / sq.sqrt(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(tvq.row_stat(v, 2).double(), sq, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# RVQ
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("n,s,k,d", [(37, 3, 45, 20), (17, 4, 70, 33)])
def test_rvq_search_matches_reference_exactly(dtype, fused, n, s, k, d) -> None:
    """Integer-valued data keep every residual and score exact, so indices (with ties) and the
    quantized sum must equal the reference bit for bit."""
    x = torch.randint(-6, 7, (n, d)).to(dtype)
    cbs = torch.randint(-3, 4, (s, k, d)).to(dtype)
    idx, q = tvq.rvq_search_triton(x, cbs, fused=fused)
    _no_poison(idx)
    _no_poison(q)
    ridx, rq = ref.rvq_search(x, cbs)
    assert torch.equal(idx, ridx)
    assert q.dtype == torch.float32 and torch.equal(q, rq)


def test_rvq_search_random_floats() -> None:
    """Gaussian data: first-stage indices match away from near-ties; the sum of the chosen codes is
    the returned quantized vector."""
    x = torch.randn(40, 24)
    cbs = torch.randn(3, 64, 24)
    for fused in (True, False):
        idx, q = tvq.rvq_search_triton(x, cbs, fused=fused)
        _no_poison(q)
        recon = sum(cbs[s][idx[:, s]] for s in range(3))
        torch.testing.assert_close(q, recon, rtol=1e-6, atol=1e-6)
        ridx, _ = ref.rvq_search(x, cbs)
        assert (idx[:, 0] == ridx[:, 0]).float().mean() > 0.9


def test_rvq_errors() -> None:
    with pytest.raises(ShapeError):
        tvq.rvq_search_triton(torch.randn(4, 3), torch.randn(2, 5, 4))
    with pytest.raises(ShapeError):
        ref.rvq_search(torch.randn(4, 3), torch.randn(5, 3))


# ------------------------------------------------------------------------------------------------
# FSQ
# ------------------------------------------------------------------------------------------------

# the last has more than 2^31 codes: 64-bit index arithmetic in the inverse kernel
LEVEL_SETS = [
    [8, 5, 5, 5],
    [7, 5, 5, 5, 5, 3, 2],
    [8, 8, 8, 5, 5, 5],
    [4, 6],
    [3],
    [16, 15, 16, 16, 16, 16, 16, 16, 9],
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("levels", LEVEL_SETS)
def test_fsq_quantize_matches_reference(dtype, levels) -> None:
    z = (torch.randn(3, 37, len(levels)) * 2).to(dtype)
    z[0, 0] = 40.0  # saturated ends
    z[0, 1] = -40.0
    sym, packed = tfsq.fsq_quantize_triton(z, levels)
    _no_poison(sym)
    _no_poison(packed)
    rsym, rpacked = ref.fsq_quantize(z, levels)
    assert sym.shape == rsym.shape and packed.shape == rpacked.shape
    lv = torch.tensor(levels)
    # symbols may differ only where the bounded value is within float32-tanh error of a half-integer
    shift, half, offset = (p.double() for p in ref.fsq_bound_params(lv))
    bounded = torch.tanh(z.double() + shift) * half - offset
    near = ((bounded - bounded.floor()) - 0.5).abs() < 1e-5
    assert torch.equal(sym[~near], rsym[~near])
    assert ((sym - rsym).abs() <= 1).all()
    assert ((sym >= 0) & (sym < lv)).all()
    assert torch.equal(packed, (sym * ref.fsq_basis(levels)).sum(-1))
    rows_clear = ~near.any(-1)
    assert torch.equal(packed[rows_clear], rpacked[rows_clear])
    assert rows_clear.float().mean() > 0.9


@pytest.mark.parametrize("levels", LEVEL_SETS)
def test_fsq_unpack_and_dequantize_exact(levels) -> None:
    total = math.prod(levels)
    packed = torch.randint(0, total, (5, 41))
    packed[0, 0], packed[0, 1] = 0, total - 1
    sym = tfsq.fsq_unpack_triton(packed, levels)
    codes = tfsq.fsq_dequantize_triton(packed, levels)
    _no_poison(sym)
    _no_poison(codes)
    assert torch.equal(sym, ref.fsq_unpack(packed, levels))
    assert torch.equal(codes, ref.fsq_dequantize(packed, levels))
    assert torch.equal(codes, ref.fsq_symbols_to_codes(ref.fsq_unpack(packed, levels), levels))


def test_fsq_errors_and_empty() -> None:
    with pytest.raises(ShapeError):
        tfsq.fsq_quantize_triton(torch.randn(4, 3), [8, 5])
    sym, packed = tfsq.fsq_quantize_triton(torch.randn(0, 2), [8, 5])
    assert sym.shape == (0, 2) and packed.shape == (0,)


def test_fsq_round_and_tanh_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portable round-half-to-even and tanh used by the FSQ kernel under the interpreter."""
    probe = _K["probe"]
    halves = torch.arange(-9, 10, dtype=torch.float32) + 0.5
    x = torch.cat([halves, torch.randn(200) * 4, torch.tensor([0.0, -0.0, 1e-8, 30.0, -30.0, 100.0])])
    r = torch.full_like(x, float("nan"))
    t = torch.full_like(x, float("nan"))
    probe[(1,)](x, r, t, x.numel(), BLOCK=256)
    assert torch.equal(r, torch.round(x))  # torch.round is half-to-even
    torch.testing.assert_close(t, torch.tanh(x), rtol=0, atol=3e-7)


# ------------------------------------------------------------------------------------------------
# BSQ / LFQ
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d,group_size", [(1, None), (13, 5), (18, 4), (18, None), (62, 8), (33, 33)])
@pytest.mark.parametrize("spherical", [False, True])
def test_binary_quantize_matches_reference(dtype, d, group_size, spherical) -> None:
    z = torch.randn(3, 37, d).to(dtype)
    z[0, 0] = 0.0  # zero goes to the negative code
    out = tbin.binary_quantize_triton(z, spherical=spherical, group_size=group_size)
    expected = ref.binary_quantize(z, spherical=spherical, group_size=group_size)
    assert len(out) == len(expected) == (2 if group_size is None else 3)
    for got, want in zip(out, expected, strict=True):
        _no_poison(got)
        assert got.dtype == want.dtype and torch.equal(got, want)
    if group_size is not None:
        assert torch.equal(ref.binary_group_pack(out[2], d, group_size), out[1])
        assert (out[2] < (1 << group_size)).all()


@pytest.mark.parametrize("d", [1, 13, 18, 62])
@pytest.mark.parametrize("spherical", [False, True])
def test_binary_dequantize_exact(d, spherical) -> None:
    packed = torch.randint(0, 1 << min(d, 62), (4, 29))
    packed[0, 0] = (1 << d) - 1
    codes = tbin.binary_dequantize_triton(packed, d, spherical=spherical)
    _no_poison(codes)
    assert torch.equal(codes, ref.binary_dequantize(packed, d, spherical=spherical))
    _, back = ref.binary_quantize(codes, spherical=spherical)
    assert torch.equal(back, packed)


def test_binary_errors() -> None:
    with pytest.raises(ShapeError):
        tbin.binary_quantize_triton(torch.randn(2, 63), spherical=False)
    with pytest.raises(ShapeError):
        ref.binary_group_symbols(torch.zeros(2, dtype=torch.long), 8, 0)


# ------------------------------------------------------------------------------------------------
# Dispatch
# ------------------------------------------------------------------------------------------------


def test_force_reference_env(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("", False)]
    for value, expected in cases:
        monkeypatch.setenv(kernels.FORCE_REFERENCE_ENV, value)
        assert kernels.force_reference() is expected
    monkeypatch.delenv(kernels.FORCE_REFERENCE_ENV)
    assert kernels.force_reference() is False


def test_dispatch_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA + Triton + not forced -> kernel; anything else -> reference. A CPU tensor never goes to Triton."""
    calls: list[str] = []

    def fake_module(name: str) -> SimpleNamespace:
        def record(fn_name: str):
            return lambda *a, **k: calls.append(fn_name) or fn_name

        names = ["vq_search_triton", "rvq_search_triton", "fsq_quantize_triton", "fsq_unpack_triton",
                 "fsq_dequantize_triton", "binary_quantize_triton", "binary_dequantize_triton"]
        return SimpleNamespace(**{n: record(n) for n in names})

    monkeypatch.setattr(kernels, "_kernels", fake_module)
    monkeypatch.delenv(kernels.FORCE_REFERENCE_ENV, raising=False)
    fake_cuda = SimpleNamespace(is_cuda=True)
    assert kernels.use_triton(fake_cuda) is kernels.triton_available()
    assert kernels.vq_search(fake_cuda, None) == "vq_search_triton"
    assert kernels.rvq_search(fake_cuda, None) == "rvq_search_triton"
    assert kernels.fsq_quantize(fake_cuda, [3]) == "fsq_quantize_triton"
    assert kernels.fsq_unpack(fake_cuda, [3]) == "fsq_unpack_triton"
    assert kernels.fsq_dequantize(fake_cuda, [3]) == "fsq_dequantize_triton"
    assert kernels.binary_quantize(fake_cuda, spherical=True) == "binary_quantize_triton"
    assert kernels.binary_dequantize(fake_cuda, 4, spherical=True) == "binary_dequantize_triton"
    n_calls = len(calls)
    # CPU tensors: the reference, never the kernel
    x, c = torch.randn(6, 4), torch.randn(9, 4)
    assert torch.equal(kernels.vq_search(x, c), ref.vq_search(x, c))
    z = torch.randn(5, 4)
    assert torch.equal(kernels.fsq_quantize(z, [8, 5, 5, 5])[1], ref.fsq_quantize(z, [8, 5, 5, 5])[1])
    packed = kernels.binary_quantize(z, spherical=False)[1]
    assert torch.equal(packed, ref.binary_quantize(z, spherical=False)[1])
    assert len(calls) == n_calls
    # forced reference: a CUDA tensor goes to the reference too
    monkeypatch.setenv(kernels.FORCE_REFERENCE_ENV, "1")
    assert kernels.use_triton(fake_cuda) is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dispatch_on_gpu_matches_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU machine: the compiled kernels (not the interpreter) through the public dispatchers."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.delenv(kernels.FORCE_REFERENCE_ENV, raising=False)
    dev = torch.device("cuda")
    c = torch.randn(70_001, 64, device=dev) * 2
    planted = torch.randint(0, c.shape[0], (3000,), device=dev)
    x = c[planted] + 0.01 * torch.randn(3000, 64, device=dev)
    for dtype in DTYPES:
        assert torch.equal(kernels.vq_search(x.to(dtype), c.to(dtype)), planted)
    z = torch.randn(1000, 6, device=dev)
    s, p = kernels.fsq_quantize(z, [8, 8, 8, 5, 5, 5])
    rs, rp = ref.fsq_quantize(z, [8, 8, 8, 5, 5, 5])
    assert (p == rp).float().mean() > 0.999
    codes, packed = kernels.binary_quantize(z, spherical=True)
    assert torch.equal(packed, ref.binary_quantize(z, spherical=True)[1])
    xi = torch.randint(-6, 7, (5000, 32), device=dev).float()
    cbs = torch.randint(-3, 4, (4, 512, 32), device=dev).float()
    idx, q = kernels.rvq_search(xi, cbs)
    ridx, rq = ref.rvq_search(xi, cbs)
    assert torch.equal(idx, ridx) and torch.equal(q, rq)
