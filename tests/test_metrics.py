"""Metrics against hand-checked values, and BD-rate against CompressAI's published Kodak numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ncodec.errors import ShapeError
from ncodec.metrics import audio as am
from ncodec.metrics import (
    bd_psnr,
    bd_rate,
    bpp,
    kbps,
    mel_distance,
    ms_ssim,
    ms_ssim_db,
    psnr,
    psnr_y,
    si_sdr,
    stft_distance,
    video_bpp,
    video_ms_ssim,
    video_psnr,
)

DATA = Path(__file__).parent / "data"


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


# ---------------------------------------------------------------- images


def test_psnr_hand_values() -> None:
    ref = np.zeros((4, 5, 3), np.uint8)
    rec = np.ones((4, 5, 3), np.uint8)
    assert psnr(ref, rec) == pytest.approx(10 * math.log10(255**2))  # MSE 1 -> 48.1308 dB
    assert psnr(ref, rec) == pytest.approx(48.1308, abs=1e-4)
    rec2 = ref.copy()
    rec2[0, 0, 0] = 60  # one error of 60 over 60 values: MSE = 3600 / 60 = 60
    assert psnr(ref, rec2) == pytest.approx(10 * math.log10(255**2 / 60))
    assert psnr(ref, ref) == math.inf


def test_psnr_y_uses_bt601_luma() -> None:
    ref = np.zeros((2, 2, 3), np.uint8)
    rec = np.zeros((2, 2, 3), np.uint8)
    rec[..., 1] = 10  # green only: luma error 0.587 * 10 everywhere
    assert psnr_y(ref, rec) == pytest.approx(10 * math.log10(255**2 / (5.87**2)))
    # Pure-blue error is weighted 0.114.
    rec_b = np.zeros_like(ref)
    rec_b[..., 2] = 10
    assert psnr_y(ref, rec_b) == pytest.approx(10 * math.log10(255**2 / (1.14**2)))


def test_psnr_rejects_shape_mismatch() -> None:
    with pytest.raises(ShapeError):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_bpp_and_kbps() -> None:
    assert bpp(1000, 80, 100) == pytest.approx(1.0)
    assert video_bpp(3000, 3, 80, 100) == pytest.approx(1.0)
    assert kbps(1000, 2.0) == pytest.approx(4.0)
    with pytest.raises(ShapeError):
        kbps(10, 0.0)


def test_ms_ssim_identity_noise_and_small_images() -> None:
    img = _astronaut()
    assert ms_ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    rng = np.random.default_rng(0)
    small = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    large = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    s_small, s_large = ms_ssim(img, small), ms_ssim(img, large)
    assert 1.0 > s_small > s_large > 0.5
    assert ms_ssim_db(0.99) == pytest.approx(20.0)
    with pytest.raises(ShapeError):
        ms_ssim(img[:160, :300], img[:160, :300])


def test_video_metrics_average_frames() -> None:
    ref = np.zeros((3, 8, 8, 3), np.uint8)
    rec = ref.copy()
    rec[1] = 1  # frame 1: MSE 1; frames 0 and 2 identical (capped at 100 dB)
    expected = (100.0 + 10 * math.log10(255**2) + 100.0) / 3
    assert video_psnr(ref, rec) == pytest.approx(expected)
    img = _astronaut()[:200, :200]
    vid = np.stack([img, img])
    assert video_ms_ssim(vid, vid) == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------- audio


def test_si_sdr_hand_values() -> None:
    rng = np.random.default_rng(1)
    s = rng.standard_normal(48000)
    s -= s.mean()
    n = rng.standard_normal(48000)
    n -= n.mean()
    n -= s * (n @ s) / (s @ s)  # make the noise orthogonal to s
    n *= math.sqrt((s @ s) / (n @ n)) / 10  # noise energy = signal energy / 100 -> 20 dB
    assert si_sdr(s, s + n) == pytest.approx(20.0, abs=1e-6)
    assert si_sdr(s, 0.3 * (s + n)) == pytest.approx(20.0, abs=1e-6)  # scale invariant
    assert si_sdr(s, s) > 100
    stereo = np.stack([s, s], axis=1)
    assert si_sdr(stereo, stereo + np.stack([n, n], 1)) == pytest.approx(20.0, abs=1e-6)


def test_mel_and_stft_distance_properties() -> None:
    import soundfile as sf

    x, rate = sf.read(DATA / "speech_hts1a_8k.wav", dtype="float32", always_2d=True)
    assert mel_distance(x, x, rate) == pytest.approx(0.0, abs=1e-9)
    assert stft_distance(x, x, rate) == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(2)
    a = x + 0.003 * rng.standard_normal(x.shape).astype(np.float32)
    b = x + 0.03 * rng.standard_normal(x.shape).astype(np.float32)
    assert 0 < mel_distance(x, a, rate) < mel_distance(x, b, rate)
    assert 0 < stft_distance(x, a, rate) < stft_distance(x, b, rate)
    assert mel_distance(x, b, rate) == pytest.approx(mel_distance(b, x, rate), rel=1e-5)


def test_mel_distance_hand_check_single_scale() -> None:
    # A constant gain g changes every log10 mel value by log10(g) (where above the 1e-5 clamp): for a
    # loud full-band signal the distance at one scale is |log10 g|.
    rng = np.random.default_rng(3)
    x = (0.5 * rng.standard_normal((44100, 1))).astype(np.float64)
    d = mel_distance(x, 2.0 * x, 44100, windows=(1024,), n_mels=(80,))
    assert d == pytest.approx(math.log10(2.0), rel=1e-3)


@pytest.mark.skipif(not am.pesq_available() or not am.stoi_available(), reason="pesq/pystoi not installed")
def test_pesq_and_stoi() -> None:
    import soundfile as sf

    x, rate = sf.read(DATA / "speech_hts1a_8k.wav", dtype="float32", always_2d=True)
    assert am.pesq_wb(x, x, rate) > 4.5
    assert am.stoi(x, x, rate) == pytest.approx(1.0, abs=1e-3)
    noisy = x + 0.05 * np.random.default_rng(4).standard_normal(x.shape).astype(np.float32)
    assert am.pesq_wb(x, noisy, rate) < 3.0
    assert am.stoi(x, noisy, rate) < 0.95


# ---------------------------------------------------------------- Bjøntegaard


def test_bd_rate_hand_values() -> None:
    rate = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    q = np.array([28.0, 31.0, 34.0, 37.0, 40.0])
    for method in ("cubic", "pchip"):
        assert bd_rate(rate, q, rate, q, method) == pytest.approx(0.0, abs=1e-9)
        assert bd_rate(rate, q, rate / 2, q, method) == pytest.approx(-50.0, abs=1e-6)
        assert bd_rate(rate, q, rate * 1.1, q, method) == pytest.approx(10.0, abs=1e-6)
        assert bd_psnr(rate, q, rate, q + 1.0, method) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ShapeError):
        bd_rate(rate[:3], q[:3], rate, q)
    with pytest.raises(ShapeError):
        bd_rate(rate, q, rate, q + 100)  # no overlap


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_bd_rate_matches_compressai_published(method: str) -> None:
    doc = json.loads((DATA / "compressai_kodak.json").read_text())
    jpeg = doc["curves"]["jpeg"]
    for name, expected in doc["expected_bd_rate_vs_jpeg_psnr_percent"].items():
        c = doc["curves"][name]
        got = bd_rate(jpeg["bpp"], jpeg["psnr-rgb"], c["bpp"], c["psnr-rgb"], method)
        assert got == pytest.approx(expected, abs=1.0), (name, got)
    # Reversed roles give the inverse ratio, not the negated percentage.
    fac = doc["curves"]["bmshj2018-factorized"]
    fwd = bd_rate(jpeg["bpp"], jpeg["psnr-rgb"], fac["bpp"], fac["psnr-rgb"], method)
    back = bd_rate(fac["bpp"], fac["psnr-rgb"], jpeg["bpp"], jpeg["psnr-rgb"], method)
    assert (1 + fwd / 100) * (1 + back / 100) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_bd_rate_and_psnr_match_an_independent_implementation(method: str) -> None:
    """ncodec's BD-rate and BD-PSNR agree with the ``bjontegaard`` package (written independently) on
    compressai's published Kodak curves and on ncodec's own committed image RD curves (RGB PSNR and
    MS-SSIM dB), to 1e-6 relative: a changed fit (a quadratic for the cubic, a linear PCHIP) fails."""
    import bjontegaard  # a dev dependency: a missing package fails, it does not skip

    kodak = json.loads((DATA / "compressai_kodak.json").read_text())["curves"]
    pairs = [((kodak["jpeg"]["bpp"], kodak["jpeg"]["psnr-rgb"]), (c["bpp"], c["psnr-rgb"]))
             for n, c in kodak.items() if n != "jpeg"]  # fmt: skip
    results = Path(__file__).parents[1] / "docs" / "results" / "image_rd.json"
    ours = json.loads(results.read_text())["curves"]
    for metric in ("psnr", "ms_ssim_db"):
        anchor = ([p["bpp"] for p in ours["jpeg"]], [p[metric] for p in ours["jpeg"]])
        for name in ("webp", "avif", "image-hyperprior-v5", "bmshj2018-hyperprior"):
            pairs.append((anchor, ([p["bpp"] for p in ours[name]], [p[metric] for p in ours[name]])))
    assert len(pairs) >= 10
    for (ra, qa), (rt, qt) in pairs:
        ref = bjontegaard.bd_rate(ra, qa, rt, qt, method, require_matching_points=False, min_overlap=0)
        assert bd_rate(ra, qa, rt, qt, method) == pytest.approx(ref, rel=1e-6, abs=1e-9)
        ref = bjontegaard.bd_psnr(ra, qa, rt, qt, method, require_matching_points=False, min_overlap=0)
        assert bd_psnr(ra, qa, rt, qt, method) == pytest.approx(ref, rel=1e-6, abs=1e-9)


def test_yuv420_psnr_weights_luma_six_to_one() -> None:
    from ncodec.metrics.video import psnr_yuv420, video_psnr_yuv420

    rng = np.random.default_rng(3)
    ref = rng.integers(20, 200, size=(34, 51, 3)).astype(np.uint8)  # odd width: chroma edge-padded
    assert psnr_yuv420(ref, ref) == 100.0
    grey_shift = ref + np.uint8(2)  # a grey offset moves Y by 2 * (0.2568 + 0.5041 + 0.0979), not Cb/Cr
    dy = 2 * (0.256788 + 0.504129 + 0.097906)
    expected = (6 * 10 * np.log10(255.0**2 / dy**2) + 100 + 100) / 8
    assert abs(psnr_yuv420(ref, grey_shift) - expected) < 0.02
    assert (
        abs(video_psnr_yuv420(np.stack([ref, ref]), np.stack([ref, grey_shift])) - (100 + expected) / 2)
        < 0.02
    )
