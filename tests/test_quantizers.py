"""Tests of the quantizer library: interface, inverses, estimators, training behaviour, real data."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ncodec.errors import ShapeError
from ncodec.kernels import vq_search
from ncodec.quantizers import BSQ, FSQ, GRVQ, LFQ, RVQ, VQ, build_quantizer, rotate_to

SHAPES = [(2, None, 5, 6), (2, None, 11), (1, None, 3, 4, 5)]  # image, audio, video; None = channels


def _latent(dim: int, shape: tuple, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    full = tuple(dim if s is None else s for s in shape)
    return torch.randn(full, generator=g)


def _all_quantizers(dim: int = 8) -> list:
    return [
        VQ(dim, 64),
        VQ(dim, 50, codebook_dim=3, metric="cosine", estimator="rotation", learning="grad"),
        RVQ(dim, 3, 32),
        RVQ(dim, 3, 16, codebook_dim=4, quantizer_dropout=0.5),
        GRVQ(dim, 2, 2, 16),
        FSQ([8, 5, 5, 5], dim=dim),
        FSQ([4, 3, 2]),
        BSQ(dim, 10, group_size=4),
        LFQ(dim, 6),
    ]


def _fit(q, z: torch.Tensor, steps: int = 2):
    q.train()
    for _ in range(steps):
        q(z)
    return q.eval()


# ------------------------------------------------------------------------------------------- interface
@pytest.mark.parametrize("shape", SHAPES, ids=["image", "audio", "video"])
@pytest.mark.parametrize("qi", range(9))
def test_interface_and_eval_equivalence(qi: int, shape: tuple) -> None:
    q = _all_quantizers(8)[qi]
    dim = q.dim
    z = _latent(dim, shape)
    _fit(q, z)
    out = q(z)
    assert out.z_q.shape == z.shape
    lead = (z.shape[0], *z.shape[2:])
    assert out.indices.shape == (lead[0], q.num_streams, *lead[1:])
    assert out.indices.dtype == torch.long
    assert out.loss.dim() == 0
    for s, a in enumerate(q.alphabet):
        col = out.indices[:, s]
        assert int(col.min()) >= 0 and int(col.max()) < a
    idx = q.quantize(z)
    assert torch.equal(idx, out.indices)
    assert torch.equal(q.dequantize(idx), out.z_q)
    assert isinstance(out.stats, dict) and all(isinstance(v, float) for v in out.stats.values())
    assert math.isclose(q.bits_per_position, sum(math.log2(a) for a in q.alphabet))
    # symbol view round trip
    sym = q.indices_to_symbols(idx)
    assert sym.shape[1] == len(q.symbol_alphabet)
    assert torch.equal(q.symbols_to_indices(sym), idx)
    # rebuild from config has the same alphabet
    assert build_quantizer(q.config()).alphabet == q.alphabet


@pytest.mark.parametrize(
    "q", [VQ(4, 16), FSQ([5, 5]), BSQ(4, 4), RVQ(4, 2, 8)], ids=lambda q: type(q).__name__
)
def test_bad_shapes_are_refused(q) -> None:
    with pytest.raises(ShapeError):
        q.quantize(torch.randn(2, q.dim + 1, 4))
    with pytest.raises(ShapeError):
        q.quantize(torch.randn(5))
    with pytest.raises(ShapeError):
        q.dequantize(torch.zeros(2, q.num_streams + 3, 4, dtype=torch.long))
    with pytest.raises(ShapeError):
        bad = torch.zeros(1, q.num_streams, 3, dtype=torch.long)
        bad[0, 0, 1] = q.alphabet[0]
        q.dequantize(bad)
    with pytest.raises(ShapeError):
        q.dequantize(torch.zeros(1, q.num_streams, 3))


# ------------------------------------------------------------------------------------------- inverses
def test_vq_round_trip_exhaustive_and_large_sampled() -> None:
    for metric in ("euclidean", "cosine"):
        q = VQ(16, 512, metric=metric, kmeans_init=False).eval()
        i = torch.arange(512).reshape(1, 1, 512)
        assert torch.equal(q.quantize(q.dequantize(i)), i)
    big = VQ(8, 1 << 18, kmeans_init=False).eval()
    i = torch.randint(0, 1 << 18, (2, 1, 300))
    assert torch.equal(big.quantize(big.dequantize(i)), i)


def test_factorised_vq_inverse_in_code_space() -> None:
    q = VQ(32, 128, codebook_dim=4, kmeans_init=False).eval()
    assert torch.equal(q.search(q.codes()), torch.arange(128))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(2, 9), min_size=1, max_size=5))
def test_fsq_round_trip_exhaustive(levels: list[int]) -> None:
    q = FSQ(levels)
    n = math.prod(levels)
    i = torch.arange(n).reshape(1, 1, n)
    codes = q.dequantize(i)
    assert float(codes.abs().max()) <= 1.0
    assert torch.equal(q.codes_to_indices(codes), i)
    sym = q.indices_to_symbols(i)
    assert torch.equal(q.symbols_to_indices(sym), i)
    for d, lv in enumerate(levels):  # every level of every dimension is used
        assert sorted(sym[0, d].unique().tolist()) == list(range(lv))


def test_fsq_bounding_reaches_every_level() -> None:
    """Even and odd levels: large latents reach the extreme symbols, so all L values are usable."""
    for levels in ([2], [3], [4], [5], [8], [7]):
        q = FSQ(levels)
        z = torch.linspace(-12, 12, 2001).reshape(1, 1, -1)
        sym = q.indices_to_symbols(q.quantize(z))
        assert sorted(sym.unique().tolist()) == list(range(levels[0])), levels


def test_fsq_large_alphabet_sampled() -> None:
    q = FSQ([8, 8, 8, 6, 5, 5, 5, 5])
    i = torch.randint(0, q.alphabet[0], (1, 1, 5000))
    assert torch.equal(q.codes_to_indices(q.dequantize(i)), i)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 20), st.integers(1, 16))
def test_binary_round_trip(bits: int, group: int) -> None:
    for cls in (BSQ, LFQ):
        q = cls(bits, bits, group_size=group)
        n = 1 << bits
        i = torch.arange(n).reshape(1, 1, n) if n <= 4096 else torch.randint(0, n, (1, 1, 4096))
        assert torch.equal(q.quantize(q.dequantize(i)), i)
        sym = q.indices_to_symbols(i)
        assert list(q.symbol_alphabet) == [1 << min(group, bits - k) for k in range(0, bits, group)]
        assert torch.equal(q.symbols_to_indices(sym), i)


def test_bsq_codes_on_sphere_and_packing_62_bits() -> None:
    q = BSQ(62, 62, group_size=16)
    z = torch.randn(3, 62, 5)
    codes = q.dequantize(q.quantize(z))
    assert torch.allclose(codes.norm(dim=1), torch.ones(3, 5))
    assert torch.equal(torch.sign(codes), torch.where(z > 0, 1.0, -1.0))
    assert q.alphabet == (1 << 62,)


# ------------------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "q",
    [
        VQ(8, 32, estimator="ste"),
        VQ(8, 32, estimator="rotation"),
        VQ(8, 32, codebook_dim=3, estimator="rotation", learning="grad"),
        RVQ(8, 3, 16, estimator="rotation"),
        GRVQ(8, 2, 2, 16),
        FSQ([5, 5, 5], dim=8),
        BSQ(8, 8),
        LFQ(8, 8),
    ],
    ids=lambda q: f"{type(q).__name__}",
)
def test_gradients_reach_input(q) -> None:
    z = torch.randn(2, 8, 6, 6, requires_grad=True)
    q.train()
    out = q(z)
    (out.z_q * torch.randn_like(out.z_q)).sum().backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    z.grad = None
    out = q(z)
    if out.loss.requires_grad:
        out.loss.backward()
        assert z.grad is not None and float(z.grad.abs().sum()) > 0


def test_rotation_trick_value_and_gradient_direction() -> None:
    e = torch.randn(64, 5, requires_grad=True)
    tgt = torch.randn(64, 5)
    out = rotate_to(e, tgt)
    assert torch.equal(out, tgt)
    g = torch.randn(64, 5)
    out.backward(g)
    # the gradient is the output gradient rotated (and scaled): the norms scale by |q|/|e|
    scale = tgt.norm(dim=1) / e.detach().norm(dim=1)
    assert torch.allclose(e.grad.norm(dim=1), g.norm(dim=1) * scale, rtol=1e-4)
    assert not torch.allclose(e.grad, g)


def test_grad_codebook_receives_gradient() -> None:
    q = VQ(8, 16, learning="grad", kmeans_init=False).train()
    out = q(torch.randn(4, 8, 5))
    out.loss.backward()
    assert q.codebook.grad is not None and float(q.codebook.grad.abs().sum()) > 0


# ------------------------------------------------------------------------------------------- training
def test_ema_moves_codes_toward_data() -> None:
    torch.manual_seed(0)
    centers = torch.randn(8, 4) * 5
    data = (centers[torch.randint(0, 8, (2000,))] + 0.1 * torch.randn(2000, 4)).T.reshape(1, 4, 2000)
    q = VQ(4, 8, kmeans_init=False, decay=0.8)

    def err() -> float:
        return float(vq_search(data[0].T, q.codebook, return_distance=True)[1].mean())

    before = err()
    q.train()
    for _ in range(30):
        q(data)
    assert err() < 0.2 * before


def test_dead_code_restart_revives_codes() -> None:
    torch.manual_seed(0)
    q = VQ(4, 32, kmeans_init=False, dead_code_threshold=1.0, decay=0.5)
    with torch.no_grad():
        q.codebook[16:] += 100.0  # half the codes far from any data: never chosen
        q.embed_avg.copy_(q.codebook)
    data = torch.randn(1, 4, 4096)
    q.train()
    out = None
    for _ in range(5):
        out = q(data)
    used = q.quantize(data).unique().numel()
    assert used > 16
    assert float(q.codebook[16:].abs().max()) < 50
    assert out is not None and out.stats["usage"] > 0.5


def test_rvq_error_falls_with_n_q_and_dropout_trains_all() -> None:
    torch.manual_seed(0)
    z = torch.randn(4, 16, 64)
    q = RVQ(16, 6, 64, quantizer_dropout=0.5)
    _fit(q, z, steps=6)
    errs = [float((q.dequantize(q.quantize(z, n_q=n)) - z).pow(2).mean()) for n in range(1, 7)]
    assert all(a > b for a, b in zip(errs, errs[1:], strict=False)), errs
    with pytest.raises(ShapeError):
        q.quantize(z, n_q=7)


def test_rvq_beam_never_worse_than_greedy() -> None:
    torch.manual_seed(1)
    z = torch.randn(2, 8, 300)
    for q in (RVQ(8, 4, 16, kmeans_init=False), RVQ(8, 3, 16, codebook_dim=3, kmeans_init=False)):
        q.eval()
        greedy = (q.dequantize(q.quantize(z)) - z).pow(2).sum(1)
        beam = (q.dequantize(q.quantize(z, beam=4)) - z).pow(2).sum(1)
        assert bool((beam <= greedy + 1e-5).all())
        assert float(beam.mean().detach()) < float(greedy.mean().detach())


def test_grvq_streams_group_major() -> None:
    q = GRVQ(8, 2, 3, 16).eval()
    z = torch.randn(2, 8, 7)
    idx = q.quantize(z)
    assert idx.shape == (2, 6, 7)
    assert torch.equal(idx[:, :3], q.rvqs[0].quantize(z[:, :4]))
    assert torch.equal(idx[:, 3:], q.rvqs[1].quantize(z[:, 4:]))


def test_bsq_entropy_terms_group_factorised() -> None:
    from ncodec.quantizers.binary import binary_entropy_terms

    logits = torch.randn(256, 6) * 3
    per, cb = binary_entropy_terms(logits, group_size=6)
    # brute force over all 64 codes for one group
    p = torch.sigmoid(logits)
    codes = ((torch.arange(64)[:, None] >> torch.arange(6)) & 1).float()
    probs = (p[:, None, :] * codes + (1 - p[:, None, :]) * (1 - codes)).prod(-1)
    h = lambda x: float(-(x * torch.log2(x.clamp_min(1e-30))).sum(-1).mean())  # noqa: E731
    assert math.isclose(float(per), h(probs), rel_tol=1e-4)
    assert math.isclose(float(cb), h(probs.mean(0, keepdim=True)), rel_tol=1e-4)
    # factorised over groups of 2: sum of three 4-entry entropies >= joint entropy
    _, cb2 = binary_entropy_terms(logits, group_size=2)
    assert float(cb2) >= float(cb) - 1e-4


def test_bsq_large_bits_no_big_table() -> None:
    q = BSQ(64, 48, group_size=8).train()
    out = q(torch.randn(2, 64, 4, 4))
    assert q.alphabet == (1 << 48,) and q.usage is None
    assert out.stats["codebook_entropy_bits"] <= 48


# ------------------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_same_indices(dtype) -> None:
    for q in _all_quantizers(8):
        _fit(q, _latent(q.dim, (2, None, 6, 6), seed=3))
        z = _latent(q.dim, (2, None, 6, 6), seed=4).to(dtype)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            idx_low = q.quantize(z)
        assert torch.equal(idx_low, q.quantize(z.float())), type(q).__name__
        assert q(z).z_q.dtype == dtype


def test_fsq_bf16_uses_all_codes() -> None:
    """vector-quantize-pytorch #114: bf16 FSQ used about half the codes."""
    q = FSQ([8, 5, 5, 5])
    z = (torch.rand(1, 4, 200000) * 6 - 3).bfloat16()
    assert q.quantize(z).unique().numel() == 1000


# ------------------------------------------------------------------------------------------- real data
def _real_patches() -> torch.Tensor:
    skdata = pytest.importorskip("skimage.data")
    rows = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        img = torch.from_numpy(getattr(skdata, name)()[..., :3].copy()).float().div(255).permute(2, 0, 1)
        c, h, w = img.shape
        h, w = h - h % 4, w - w % 4
        p = img[:, :h, :w].reshape(c, h // 4, 4, w // 4, 4).permute(1, 3, 0, 2, 4).reshape(-1, 48)
        rows.append(p)
    return torch.cat(rows)


def test_vq_real_photos_kmeans_ema_usage_and_error() -> None:
    torch.manual_seed(0)
    patches = _real_patches()  # ~57k real 4x4 RGB patches
    patches = patches[torch.randperm(patches.shape[0])]
    batches = patches.split(16384)

    def train(kmeans_init: bool) -> tuple[VQ, float]:
        torch.manual_seed(0)
        q = VQ(48, 1024, kmeans_init=kmeans_init, dead_code_threshold=0.0, stats_window=len(batches) * 2)
        q.train()
        for _ in range(2):
            for b in batches:
                q(b.T.unsqueeze(0))
        q.eval()
        x = patches.T.unsqueeze(0)
        mse = float((q.dequantize(q.quantize(x)) - x).pow(2).mean())
        return q, mse

    q, mse_km = train(True)
    usage = q.quantize(patches.T.unsqueeze(0)).unique().numel() / 1024
    assert usage >= 0.95, usage
    _, mse_rand = train(False)
    assert mse_km < mse_rand, (mse_km, mse_rand)
