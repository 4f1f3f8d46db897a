"""Datasets, media readers and the data fetcher (without the fetched data; full-data checks are slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ncodec.datasets import (
    AudioExcerpts,
    AudioSegments,
    ImageCrops,
    KodakLikeImages,
    SyntheticCameraClips,
    VideoClips,
    apply_channel_policy,
    data_root,
    load_manifest,
    normalize_loudness,
    probe_audio,
    probe_video,
)
from ncodec.datasets.fetch import _matches, write_manifests
from ncodec.datasets.media import load_audio, load_image, load_video
from ncodec.datasets.sources import SOURCES
from ncodec.errors import MediaError

DATA = Path(__file__).parent / "data"


def _skimage(*names: str) -> list[Path]:
    import skimage

    return [Path(skimage.__file__).parent / "data" / n for n in names]


# ---------------------------------------------------------------- sources, fetch, manifests


def test_eval_sources_never_in_train() -> None:
    train = {(s.package, m) for s in SOURCES if s.split == "train" for m in s.members}
    evals = {(s.package, m) for s in SOURCES if s.split == "eval" for m in s.members}
    assert not train & evals
    assert {s.category for s in SOURCES if s.split == "eval"} == {"image", "speech", "music", "video"}
    from fnmatch import fnmatchcase

    for s in SOURCES:  # no train pattern matches an evaluation member path of the same package
        if s.split != "train":
            continue
        for e in SOURCES:
            if e.split == "eval" and e.package == s.package:
                for em in e.members:
                    assert not any(fnmatchcase(em, m) for m in s.members), (s.name, em)


def test_data_root_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NCODEC_DATA", str(tmp_path / "d"))
    assert data_root() == tmp_path / "d"
    monkeypatch.delenv("NCODEC_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert data_root() == tmp_path / "c" / "ncodec" / "data"
    assert data_root(tmp_path) == tmp_path


def test_member_matching() -> None:
    assert _matches("./usr/share/palapeli/collection/a.jpg", ["usr/share/palapeli/collection/*.jpg"])
    assert _matches("./usr/share/klettres/ar/alpha/a-01.ogg", ["usr/share/klettres/*.ogg"])
    assert not _matches("./usr/share/palapeli/backgrounds/a.jpg", ["usr/share/palapeli/collection/*.jpg"])


def test_write_manifests_drops_eval_duplicates_from_train(tmp_path: Path) -> None:
    recs = {
        "train": [{"path": "a", "sha256": "1"}, {"path": "b", "sha256": "2"}],
        "eval": [{"path": "c", "sha256": "2"}],
    }
    paths = write_manifests(tmp_path, recs)
    train = json.loads(paths["train"].read_text())
    assert [r["path"] for r in train["items"]] == ["a"]
    assert train["split"] == "train" and train["version"] == 1
    got = load_manifest("eval", tmp_path)
    assert got[0]["abspath"] == str(tmp_path / "c")


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="fetch_data.py"):
        load_manifest("train", tmp_path)


# ---------------------------------------------------------------- readers


def test_readers_on_fixtures() -> None:
    x, rate = load_audio(DATA / "speech_hts1a_8k.wav")
    assert rate == 8000 and x.shape == (24000, 1) and x.dtype == np.float32
    info = probe_audio(DATA / "music_hr3-caves_1s.flac")
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, 44100)
    v, fps = load_video(DATA / "video_bikes_16f.mp4")
    assert v.shape == (16, 176, 256, 3) and fps == pytest.approx(25.0)
    vi = probe_video(DATA / "frames_mire2")
    assert (vi.width, vi.height, vi.frames) == (96, 72, 4)
    with pytest.raises(MediaError):
        load_image(DATA / "speech_hts1a_8k.wav")
    with pytest.raises(MediaError):
        load_audio(DATA / "README.md")


# ---------------------------------------------------------------- images


def test_image_crops_shapes_and_workers() -> None:
    ds = ImageCrops(
        _skimage("astronaut.png", "coffee.png", "rocket.jpg", "chelsea.png"),
        crop=128,
        downscale=(1.5, 2.5),
        samples_per_epoch=8,
    )
    torch.manual_seed(0)
    x = ds[0]
    assert (
        x.shape == (3, 128, 128) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
    )
    batches = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert len(batches) == 2 and batches[0].shape == (4, 3, 128, 128)
    assert not torch.equal(batches[0][0], batches[1][0])
    with pytest.raises(MediaError):
        ImageCrops(_skimage("chelsea.png"), crop=400)


def test_image_crops_downscale_is_applied() -> None:
    # A crop after a x2 downscale holds the content of a twice larger region: with the factor fixed the
    # crop equals a crop of the downscaled photo.
    from PIL import Image

    path = _skimage("astronaut.png")[0]
    ds = ImageCrops([path], crop=256, downscale=(2.0, 2.0), hflip=False)
    x = ds[0]
    small = np.asarray(Image.open(path).convert("RGB").resize((256, 256), Image.Resampling.LANCZOS))
    assert np.allclose(x.permute(1, 2, 0).numpy() * 255, small, atol=0.5)


def test_kodak_like_images() -> None:
    ds = KodakLikeImages(_skimage("retina.jpg", "chelsea.png"))
    assert len(ds) == 1
    name, x = ds[0]
    assert name == "retina.jpg" and x.shape == (3, 512, 768)


# ---------------------------------------------------------------- audio


def test_audio_segments_resample_channels_and_pad() -> None:
    ds = AudioSegments(
        [DATA / "speech_hts1a_8k.wav", DATA / "music_hr3-caves_1s.flac"],
        sample_rate=16000,
        seconds=0.5,
        channels="stereo",
        samples_per_epoch=4,
    )
    for i in range(4):
        x = ds[i]
        assert x.shape == (2, 8000)
    mono = AudioSegments([DATA / "music_hr3-caves_1s.flac"], sample_rate=24000, seconds=2.0, channels="mono")
    y = mono[0]
    assert y.shape == (1, 48000)
    assert float(y[0, 24100:].abs().max()) == 0.0  # 1 s file, 2 s segment: zero-padded
    assert float(y[0, :23000].abs().max()) > 0.01
    batch = next(iter(DataLoader(ds, batch_size=2, num_workers=2)))
    assert batch.shape == (2, 2, 8000)


def test_channel_policy_and_loudness() -> None:
    import torchaudio.functional as AF

    x = torch.stack([torch.ones(10), -torch.ones(10)])
    assert torch.equal(apply_channel_policy(x, "mono"), torch.zeros(1, 10))
    assert apply_channel_policy(x[:1], "stereo").shape == (2, 10)
    a, rate = load_audio(DATA / "music_hr3-caves_1s.flac")
    t = torch.from_numpy(a.T.copy())
    y = normalize_loudness(0.1 * t, rate, -23.0)
    assert float(AF.loudness(y, rate)) == pytest.approx(-23.0, abs=0.1)
    assert float(y.abs().max()) <= 0.99 + 1e-6


def test_audio_excerpts() -> None:
    ds = AudioExcerpts(
        [DATA / "speech_hts1a_8k.wav"], sample_rate=8000, seconds=1.0, offset=2.5, channels="mono"
    )
    name, x = ds[0]
    full, _ = load_audio(DATA / "speech_hts1a_8k.wav")
    assert name == "speech_hts1a_8k.wav" and x.shape == (1, 8000)
    assert np.allclose(x[0].numpy(), full[16000:24000, 0], atol=1e-6)  # moved back to fit: 2.0 s .. 3.0 s


# ---------------------------------------------------------------- video


def test_video_clips_train_and_eval() -> None:
    train = VideoClips(
        [DATA / "video_bikes_16f.mp4", DATA / "frames_mire2"], frames=4, crop=(64, 64), samples_per_epoch=6
    )
    x = train[0]
    assert x.shape == (4, 3, 64, 64)
    ev = VideoClips([DATA / "video_bikes_16f.mp4"], frames=5, random_start=False)
    assert len(ev) == 3  # windows 0-4, 5-9, 10-14
    full, _ = load_video(DATA / "video_bikes_16f.mp4")
    assert np.allclose(ev[1].permute(0, 2, 3, 1).numpy() * 255, full[5:10], atol=1e-3)
    with pytest.raises(MediaError):
        VideoClips([DATA / "frames_mire2"], frames=10)


def test_synthetic_camera_clips() -> None:
    ds = SyntheticCameraClips(
        _skimage("astronaut.png", "coffee.png"), frames=6, size=(96, 64), seed=3, samples_per_epoch=4
    )
    a, b = ds[1], ds[1]
    assert a.shape == (6, 3, 64, 96) and torch.equal(a, b)  # deterministic per index
    assert not torch.equal(ds[0], ds[2])
    diffs = [(a[i + 1] - a[i]).abs().mean().item() for i in range(5)]
    assert all(d > 1e-4 for d in diffs)  # the camera moves
    assert all(d < 0.2 for d in diffs)  # but consecutive frames stay similar
    batch = next(iter(DataLoader(ds, batch_size=2, num_workers=2)))
    assert batch.shape == (2, 6, 3, 64, 96)


# ---------------------------------------------------------------- full data set (slow)


def _manifest_or_skip(split: str) -> list[dict]:
    try:
        return load_manifest(split)
    except MediaError:
        pytest.skip(f"no {split} manifest under {data_root()}: run python scripts/fetch_data.py")


@pytest.mark.slow
def test_fetched_manifests_are_consistent() -> None:
    ev, tr = _manifest_or_skip("eval"), _manifest_or_skip("train")
    assert not {r["sha256"] for r in ev} & {r["sha256"] for r in tr}
    assert not {r["path"] for r in ev} & {r["path"] for r in tr}
    assert {r["category"] for r in ev} == {"image", "speech", "music", "video"}
    for r in ev + tr:
        assert not Path(r["path"]).is_absolute() and len(r["sha256"]) == 64 and r["bytes"] > 0
        if r["media"] in ("audio", "video"):
            assert r["duration"] > 0
    sample = [r for r in ev if r["media"] == "image"][:2]
    from ncodec.datasets.fetch import sha256_file

    for r in sample:
        assert sha256_file(r["abspath"]) == r["sha256"]


@pytest.mark.slow
def test_training_datasets_on_fetched_data() -> None:
    tr = _manifest_or_skip("train")
    imgs = [r["abspath"] for r in tr if r["media"] == "image"]
    assert len(imgs) >= 50
    ds = ImageCrops(imgs, crop=256, samples_per_epoch=4)
    assert ds[0].shape == (3, 256, 256)
    speech = [r for r in tr if r["category"] == "speech"][:50]
    seg = AudioSegments.from_manifest(speech, sample_rate=24000, seconds=1.0)
    assert seg[0].shape == (1, 24000)
    clips = SyntheticCameraClips(imgs[:5], frames=8, size=(128, 128))
    assert clips[0].shape == (8, 3, 128, 128)


# ---------------------------------------------------------------- fetch, offline (a locally built .deb)


@pytest.fixture()
def local_deb_root(tmp_path: Path) -> Path:
    import shutil
    import subprocess

    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not available")
    pkg = tmp_path / "build" / "ncodec-testpkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        "Package: ncodec-testpkg\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\n"
        "Description: test\n"
    )
    (pkg / "usr/share/t/clips").mkdir(parents=True)
    shutil.copy(DATA / "speech_hts1a_8k.wav", pkg / "usr/share/t/clips/a.wav")
    shutil.copy(DATA / "music_hr3-caves_1s.flac", pkg / "usr/share/t/clips/b.flac")
    (pkg / "usr/share/t/notes.txt").write_text("not media")
    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    subprocess.run(
        [
            "dpkg-deb",
            "--build",
            "--root-owner-group",
            str(pkg),
            str(root / "downloads" / "ncodec-testpkg_1.0_all.deb"),
        ],
        check=True,
        capture_output=True,
    )
    return root


def test_fetch_extracts_only_members_and_is_idempotent(local_deb_root: Path, monkeypatch) -> None:
    from ncodec.datasets import fetch as fetch_mod
    from ncodec.datasets.sources import Source

    train = Source(
        "t-train",
        "deb",
        "ncodec-testpkg",
        "train",
        "speech",
        ("usr/share/t/*.wav", "usr/share/t/*.flac"),
        "MIT",
    )
    ev = Source("t-eval", "deb", "ncodec-testpkg", "eval", "speech", ("usr/share/t/clips/a.wav",), "MIT")
    monkeypatch.setattr(fetch_mod, "SOURCES", (train, ev))
    paths = fetch_mod.fetch(local_deb_root, progress=False)
    assert not (local_deb_root / "t-train" / "usr/share/t/notes.txt").exists()
    ev_items = json.loads(paths["eval"].read_text())["items"]
    tr_items = json.loads(paths["train"].read_text())["items"]
    assert [r["path"] for r in ev_items] == ["t-eval/usr/share/t/clips/a.wav"]
    assert ev_items[0]["duration"] == pytest.approx(3.0) and ev_items[0]["sample_rate"] == 8000
    assert ev_items[0]["sha256"] == fetch_mod.sha256_file(DATA / "speech_hts1a_8k.wav")
    # The same clip in the train source is dropped (it is an evaluation item); the other one stays.
    assert [r["path"] for r in tr_items] == ["t-train/usr/share/t/clips/b.flac"]
    stamp = (local_deb_root / "t-eval" / ".items.json").stat().st_mtime_ns
    fetch_mod.fetch(local_deb_root, progress=False)
    assert (local_deb_root / "t-eval" / ".items.json").stat().st_mtime_ns == stamp  # nothing redone
    # A partial extraction left by an interrupted run is cleaned up and redone.
    (local_deb_root / ".t-new.partial").mkdir()
    new = Source("t-new", "deb", "ncodec-testpkg", "eval", "music", ("usr/share/t/clips/b.flac",), "MIT")
    monkeypatch.setattr(fetch_mod, "SOURCES", (train, ev, new))
    paths = fetch_mod.fetch(local_deb_root, progress=False)
    assert len(json.loads(paths["eval"].read_text())["items"]) == 2
    assert not (local_deb_root / ".t-new.partial").exists()
    bad = Source("t-bad", "deb", "ncodec-testpkg", "eval", "music", ("usr/share/none/*.flac",), "MIT")
    monkeypatch.setattr(fetch_mod, "SOURCES", (bad,))
    with pytest.raises(fetch_mod.FetchError, match="no member"):
        fetch_mod.fetch(local_deb_root, progress=False)
