"""The RD harness and ``ncodec bench rd``: interface, caching/resume, BD table, outputs, clean failures."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncodec.cli import main
from ncodec.errors import MediaError, NcodecError
from ncodec.rd import (
    ImageModelAdapter,
    Item,
    RDCodec,
    bd_table,
    curves,
    get_codec,
    load_items,
    register_codec,
    run_rd,
)
from ncodec.rd.inputs import kodak_crop

DATA = Path(__file__).parent / "data"


def _skimage(name: str) -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / name


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    d = tmp_path / "photos"
    d.mkdir()
    for name in ("astronaut.png", "chelsea.png"):
        img = Image.open(_skimage(name)).convert("RGB")
        img.crop((0, 0, 192, 176)).save(d / name)
    return d


class CountingJpeg:
    """A real codec (Pillow JPEG) that counts its calls and can be told to fail after some."""

    media = "image"
    point_label = "quality"
    config = "counting-jpeg-v1"

    def __init__(self, name: str = "cjpeg", fail_after: int | None = None) -> None:
        self.name = name
        self.rate_points = [20, 50, 80, 95]
        self.calls = 0
        self.fail_after = fail_after

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        buf = io.BytesIO()
        Image.fromarray(item.data).save(buf, format="JPEG", quality=int(point))
        return len(buf.getvalue()), np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_protocol_and_unknown_codec() -> None:
    assert isinstance(get_codec("jpeg"), RDCodec)
    assert isinstance(CountingJpeg(), RDCodec)
    with pytest.raises(NcodecError, match="unknown codec"):
        get_codec("no-such-codec")
    with pytest.raises(ValueError):
        register_codec("Bad,Name", CountingJpeg)


def test_run_rd_caches_and_resumes(photo_dir: Path, tmp_path: Path) -> None:
    items = load_items(photo_dir)
    cache = tmp_path / "cache.jsonl"
    broken = CountingJpeg(fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        run_rd(items, [broken], cache_path=cache, progress=False)
    assert len(cache.read_text().splitlines()) == 3  # the points done before the interruption are kept
    resumed = CountingJpeg()
    rows = run_rd(items, [resumed], cache_path=cache, progress=False)
    assert resumed.calls == 4 * len(items) - 3
    assert len(rows) == 4 * len(items)
    again = CountingJpeg()
    rows2 = run_rd(items, [again], cache_path=cache, progress=False)
    assert again.calls == 0 and [r["bytes"] for r in rows2] == [r["bytes"] for r in rows]
    # A changed configuration is not served from the cache.
    other = CountingJpeg()
    other.config = "counting-jpeg-v2"
    run_rd(items, [other], cache_path=cache, progress=False)
    assert other.calls == 4 * len(items)


def test_curves_average_items_and_bd_table(photo_dir: Path) -> None:
    items = load_items(photo_dir)
    jpeg, webp = get_codec("jpeg"), get_codec("webp")
    points = {"jpeg": [10, 30, 60, 90], "webp": [10, 30, 60, 90]}
    rows = run_rd(items, [jpeg, webp], points=points, progress=False)
    assert len(rows) == 2 * 4 * len(items)
    c = curves(rows)
    first = [r for r in rows if r["codec"] == "jpeg" and r["point"] == 10]
    entry = next(e for e in c["jpeg"] if e["point"] == 10)
    assert entry["bpp"] == pytest.approx(np.mean([r["bpp"] for r in first]))
    assert entry["psnr"] == pytest.approx(np.mean([r["psnr"] for r in first]))
    for r in first:
        h, w = 176, 192
        assert r["bpp"] == pytest.approx(8 * r["bytes"] / (h * w))
    table = bd_table(c, "jpeg", "image", ["psnr", "ms_ssim_db"])
    assert table["jpeg"]["psnr"] == pytest.approx(0.0, abs=1e-9)
    assert table["webp"]["psnr"] is not None and -80 < table["webp"]["psnr"] < 20


def test_image_model_adapter_plugs_a_bytes_codec_in(photo_dir: Path) -> None:
    class PngModel:
        """Stands in for an ncodec model: compress(x)->bytes, decompress(bytes)->x (lossless PNG)."""

        def compress(self, x):
            arr = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="PNG")
            return buf.getvalue()

        def decompress(self, data):
            import torch

            arr = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255

    adapter = ImageModelAdapter("png-model", lambda q: PngModel(), rate_points=[1])
    items = load_items(photo_dir)
    rows = run_rd(items, [adapter], progress=False)
    for r, it in zip(rows, items, strict=True):
        buf = io.BytesIO()
        Image.fromarray(it.data).save(buf, format="PNG")
        assert r["bytes"] == len(buf.getvalue())
        assert r["psnr"] == 100.0  # lossless (capped)


def test_kodak_crop_downscales_then_centre_crops() -> None:
    img = np.asarray(Image.open(_skimage("retina.jpg")).convert("RGB"))  # 1411x1411
    out = kodak_crop(img)
    assert out is not None and out.shape == (512, 768, 3)
    # Same as a Lanczos resize to 768x768 followed by the centre rows 128..640.
    ref = np.asarray(Image.fromarray(img).resize((768, 768), Image.Resampling.LANCZOS))[128:640]
    assert np.array_equal(out, ref)
    portrait = np.asarray(Image.open(_skimage("hubble_deep_field.jpg")).convert("RGB")).transpose(1, 0, 2)
    out_p = kodak_crop(np.ascontiguousarray(portrait))  # 872 wide x 1000 high -> 512x768
    assert out_p is not None and out_p.shape == (768, 512, 3)
    assert kodak_crop(np.zeros((300, 400, 3), np.uint8)) is None  # never upscaled


def test_load_items_audio_excerpt_and_video(tmp_path: Path) -> None:
    items = load_items(DATA / "speech_hts1a_8k.wav", excerpt=1.0, offset=2.5)
    assert items[0].data.shape == (8000, 1) and items[0].meta["excerpt_start_s"] == pytest.approx(2.0)
    vids = load_items(DATA / "frames_mire2", media="video", frames=3)
    assert vids[0].data.shape == (3, 72, 96, 3) and vids[0].fps == 25.0


def _bench(args: list[str]) -> int:
    return main(["bench", "rd", *args])


def test_cli_writes_csv_json_png_and_prints_bd(photo_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    rc = _bench(
        [
            str(photo_dir),
            "--codec",
            "jpeg,webp",
            "--anchor",
            "jpeg",
            "--out",
            str(out),
            "--no-progress",
            "--points",
            "jpeg=10,30,60,90;webp=10,30,60,90",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "BD-rate vs jpeg" in printed and "webp" in printed
    doc = json.loads((out / "rd.json").read_text())
    assert doc["media"] == "image" and doc["anchor"] == "jpeg"
    assert [p["point"] for p in doc["curves"]["jpeg"]] == [10, 30, 60, 90]
    assert len(doc["items"]) == 2
    with open(out / "rd.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 4 * 2 and {"codec", "point", "item", "bytes", "bpp", "psnr", "ms_ssim"} <= set(
        rows[0]
    )
    png = (out / "rd.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert doc["bd_rate_percent"]["jpeg"]["psnr"] == pytest.approx(0.0, abs=1e-9)
    md = (out / "rd.md").read_text()
    assert "BD-rate against **jpeg**" in md and md.count("| jpeg |") == 5  # 4 points + BD row


def test_cli_audio_run(tmp_path: Path, capsys) -> None:
    d = tmp_path / "audio"
    d.mkdir()
    shutil.copy(DATA / "speech_hts1a_8k.wav", d)
    out = tmp_path / "out"
    rc = _bench(
        [
            str(d),
            "--codec",
            "opus,mp3",
            "--anchor",
            "opus",
            "--out",
            str(out),
            "--no-progress",
            "--no-plot",
            "--points",
            "opus=8,16,24,32;mp3=24,32,48,64",
        ]
    )
    assert rc == 0
    doc = json.loads((out / "rd.json").read_text())
    assert doc["rate"] == "kbps"
    mel = [p["mel_distance"] for p in doc["curves"]["opus"]]
    assert mel[0] > mel[-1] > 0  # more bits, closer
    assert not (out / "rd.png").exists()


@pytest.mark.parametrize("setup", ["empty", "missing", "garbage", "wrong-media", "text-file", "bad-manifest"])
def test_cli_fails_cleanly(setup: str, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in"
    if setup != "missing":
        src.mkdir()
    if setup == "garbage":
        (src / "broken.jpg").write_bytes(b"this is not a jpeg")
    if setup == "wrong-media":
        shutil.copy(DATA / "speech_hts1a_8k.wav", src)
    if setup == "text-file":
        src = src / "notes.txt"
        src.write_text("hello")
    if setup == "bad-manifest":
        src = src / "eval.json"
        src.write_text('{"items": [{"path": "nowhere/a.png", "media": "image"}]}')
    out = tmp_path / "out"
    rc = _bench([str(src), "--codec", "jpeg", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("ncodec bench: error:") and err.count("\n") == 1, err
    assert not out.exists()  # no partial output


def test_cli_rejects_bad_options(photo_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    for extra in (
        ["--codec", "jpeg,nope"],
        ["--codec", "jpeg", "--anchor", "webp"],
        ["--codec", "jpeg,opus"],
        ["--codec", "jpeg", "--points", "jpeg=a,b"],
        ["--codec", "jpeg", "--crop", "12by5"],
    ):
        assert _bench([str(photo_dir), "--out", str(out), "--no-progress", *extra]) == 2
        assert "error:" in capsys.readouterr().err
    assert not out.exists()
    assert main(["bench"]) == 2


def test_media_error_for_tiny_crops(photo_dir: Path) -> None:
    with pytest.raises(MediaError, match="smaller than the crop"):
        load_items(photo_dir, crop=(768, 512))


def test_nan_metrics_do_not_break_curves() -> None:
    rows = [
        {
            "codec": "a",
            "media": "video",
            "point": p,
            "point_label": "crf",
            "item": i,
            "bpp": 0.1 * p,
            "bytes": 1.0,
            "seconds": 0.0,
            "psnr": 30 + p,
            "psnr_y": 30 + p,
            "ms_ssim": math.nan if i else 0.9,
            "ms_ssim_db": math.nan if i else 10.0 + p,
        }
        for p in (1, 2, 3, 4)
        for i in (0, 1)
    ]
    c = curves(rows)
    assert c["a"][0]["ms_ssim_db"] == 11.0 and c["a"][0]["n_ms_ssim_db"] == 1
    table = bd_table(c, "a", "video", ["psnr", "ms_ssim_db"])
    # Item 1 has no MS-SSIM at any point: the means over item 0 are comparable.
    assert table["a"]["psnr"] == pytest.approx(0.0, abs=1e-9)
    assert table["a"]["ms_ssim_db"] == pytest.approx(0.0, abs=1e-9)
    rows[0]["ms_ssim_db"] = math.nan  # now point 1 averages no item, the others one: not comparable
    table = bd_table(curves(rows), "a", "video", ["ms_ssim_db"])
    assert table["a"]["ms_ssim_db"] is None


PLUGIN = '''
import io

import numpy as np
from PIL import Image

from ncodec.rd import ImageModelAdapter, register_codec


class WebpModel:
    """A bytes-in/bytes-out image codec with a quality ladder, as ncodec's own models will be."""

    def __init__(self, quality):
        self.quality = int(quality)

    def compress(self, x):
        arr = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="WEBP", quality=self.quality)
        return buf.getvalue()

    def decompress(self, data):
        import torch

        arr = np.array(Image.open(io.BytesIO(data)).convert("RGB"))
        return torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255


register_codec(
    "plugin-webp", lambda: ImageModelAdapter("plugin-webp", WebpModel, [10, 30, 60, 90]), replace=True
)
'''


def test_cli_plugin_registers_a_model(photo_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "my_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    rc = _bench(
        [
            str(photo_dir),
            "--plugin",
            "my_plugin",
            "--codec",
            "webp,plugin-webp",
            "--anchor",
            "webp",
            "--points",
            "webp=10,30,60,90",
            "--out",
            str(out),
            "--no-progress",
            "--no-plot",
        ]
    )
    assert rc == 0
    doc = json.loads((out / "rd.json").read_text())
    # The plugin is WebP behind the model interface: same files, so (near) zero BD-rate.
    assert abs(doc["bd_rate_percent"]["plugin-webp"]["psnr"]) < 1.0
    assert main(["bench", "rd", "--plugin", "my_plugin", "--list-codecs"]) == 0
    assert "plugin-webp" in capsys.readouterr().out
    assert _bench([str(photo_dir), "--plugin", "no_such_module_xyz", "--out", str(out)]) == 2
