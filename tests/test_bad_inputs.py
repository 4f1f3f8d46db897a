"""Every command and API entry point answers bad input the same way: one clear error naming the
problem, a non-zero exit (2 for a bad input, 1 for a damaged file under ``info``), no traceback, and no
partial, created or changed output.  One table row per class of bad input."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ncodec.cli import main
from ncodec.codecs.image.codec import ImageCodec, ImageTokens
from ncodec.codecs.image.tokens import TokenImage, TokenImageCodec
from ncodec.errors import NcodecError
from ncodec.io import sample_photo

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
HYPER = GOLDEN / "image" / "golden-hyperprior.safetensors"


def _png16(path: Path) -> None:
    """A 16-bit RGB PNG (Pillow reads these as 8-bit without a word, so it is written by hand)."""
    a = (np.arange(20 * 30 * 3).reshape(20, 30, 3) * 97 % 65536).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in a)

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    ihdr = struct.pack(">IIBBBBB", 30, 20, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    f = {}
    photo = Image.open(sample_photo()).convert("RGB").crop((0, 0, 72, 56))
    f["photo"] = tmp_path / "photo.png"
    photo.save(f["photo"])
    f["animated"] = tmp_path / "anim.gif"
    photo.save(f["animated"], save_all=True, append_images=[photo.rotate(90)])
    f["tiff2"] = tmp_path / "pages.tif"
    photo.save(f["tiff2"], save_all=True, append_images=[photo])
    f["png16"] = tmp_path / "rgb16.png"
    _png16(f["png16"])
    f["transparent"] = tmp_path / "alpha.png"
    rgba = photo.convert("RGBA")
    rgba.putalpha(100)
    rgba.save(f["transparent"])
    f["text"] = tmp_path / "notes.png"
    f["text"].write_text("not an image")
    f["empty"] = tmp_path / "empty.png"
    f["empty"].write_bytes(b"")
    codec = ImageCodec.from_file(HYPER, name="golden-hyperprior")
    x = torch.from_numpy(np.asarray(photo)).permute(2, 0, 1).float() / 255
    f["ncd"] = tmp_path / "photo.ncd"
    f["ncd"].write_bytes(codec.compress(x, 2))
    f["truncated"] = tmp_path / "cut.ncd"
    f["truncated"].write_bytes(f["ncd"].read_bytes()[:-40])
    f["batch"] = tmp_path / "batch.ncd"
    f["batch"].write_bytes(codec.compress(torch.stack([x, x.flip(2)]), 2))
    f["audio"] = tmp_path / "audio.ncd"
    shutil.copy(GOLDEN / "static_audio.ncd", f["audio"])
    f["keep"] = tmp_path / "keep.png"
    f["keep"].write_bytes(b"existing output")
    return f


M = ["--model", str(HYPER)]
# (name, argv with {placeholders}, exit code, text the one error line must contain)
O = "{tmp}/o.ncd"
RD = ["bench", "rd", "{tmp}", "--codec", "jpeg"]
CLI = [
    ("encode: missing input", ["encode", "{tmp}/nope.png", O, *M], 2, "no such file"),
    ("encode: not an image", ["encode", "{text}", O, *M], 2, "cannot read image"),
    ("encode: empty file", ["encode", "{empty}", O, *M], 2, "cannot read image"),
    ("encode: animated GIF", ["encode", "{animated}", O, *M], 2, "2 frames"),
    ("encode: multi-page TIFF", ["encode", "{tiff2}", O, *M], 2, "2 frames"),
    ("encode: 16-bit RGB PNG", ["encode", "{png16}", O, *M], 2, "16-bit"),
    ("encode: transparent pixels", ["encode", "{transparent}", O, *M], 2, "transparent"),
    ("encode: output exists", ["encode", "{photo}", "{keep}", *M], 2, "exists (use --force"),
    ("encode: no output folder", ["encode", "{photo}", "{tmp}/no/dir/o.ncd", *M], 2, "no such folder"),
    ("encode: quality out of range", ["encode", "{photo}", O, "--quality", "9", *M], 2, "--quality"),
    ("encode: negative refine", ["encode", "{photo}", O, "--refine", "-2", *M], 2, "--refine"),
    ("encode: unknown model", ["encode", "{photo}", O, "--model", "image-nope"], 2, "unknown model"),
    ("encode: missing weights", ["encode", "{photo}", O, "--model", "{tmp}/w.safetensors"], 2,
     "no such weights file"),
    ("encode: an .ncd as input", ["encode", "{audio}", O, *M], 2, "cannot read image"),
    ("decode: /dev/zero", ["decode", "/dev/zero", "{tmp}/o.png", *M], 2, "bad magic"),
    ("decode: an image", ["decode", "{photo}", "{tmp}/o.png", *M], 2, "not an .ncd file"),
    ("decode: truncated", ["decode", "{truncated}", "{tmp}/o.png", *M], 2, "truncated"),
    ("decode: another medium", ["decode", "{audio}", "{tmp}/o.png"], 2, "decoded audio is written as"),
    ("decode: a batch file", ["decode", "{batch}", "{tmp}/o.png", *M], 2, "batch of 2 images"),
    ("decode: unwritable format", ["decode", "{ncd}", "{tmp}/o.psd", *M], 2, "cannot write"),
    ("decode: unknown format", ["decode", "{ncd}", "{tmp}/o.xyz", *M], 2, "unknown image format"),
    ("decode: output exists", ["decode", "{ncd}", "{keep}", *M], 2, "exists (use --force"),
    ("decode: header model not shipped", ["decode", "{ncd}", "{tmp}/o.png"], 2, "unknown model"),
    ("info: missing file", ["info", "{tmp}/nope.ncd"], 2, "No such file"),
    ("info: /dev/zero", ["info", "/dev/zero"], 2, "bad magic"),
    ("info: truncated", ["info", "{truncated}"], 1, "truncated"),
    ("demo: quality out of range", ["demo", "--quality", "9", "--out", "{tmp}/demo", *M], 2, "--quality"),
    ("demo: zero quantizer steps", ["demo", "--quantizers", "--steps", "0"], 2, "--steps"),
    ("bench rd: points out of range", [*RD, "--points", "jpeg=500,-3"], 2,
     "jpeg=500"),
    ("bench rd: fractional quality", [*RD, "--points", "jpeg=50.5"], 2,
     "whole numbers"),
    ("bench rd: zero limit", [*RD, "--limit", "0"], 2, "--limit"),
    ("bench rd: model quality out of range", ["bench", "rd", "{tmp}", "--codec", str(HYPER), "--points",
     f"{HYPER}=9"], 2, "in 0..5"),
]  # fmt: skip


@pytest.mark.parametrize("what,argv,code,text", CLI, ids=[c[0] for c in CLI])
def test_cli_bad_input(
    tmp_path: Path, files, capsys, what: str, argv: list[str], code: int, text: str
) -> None:
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    args = [a.format(tmp=tmp_path, **files) for a in argv]
    assert main(args) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err and text in err[-1] and err[-1].startswith(f"ncodec {args[0]}: error:"), err
    assert not any("Traceback" in line for line in err)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, "an output was created or changed"  # also no temporary files left
    assert not (tmp_path / "demo").exists()


def _hyper() -> ImageCodec:
    return ImageCodec.from_file(HYPER, name="golden-hyperprior")


def _fsq() -> TokenImageCodec:
    return TokenImageCodec.from_file(GOLDEN / "image" / "golden-fsq.safetensors", name="golden-fsq")


X = torch.rand(3, 40, 48)
API = [
    ("uint8 pixels", lambda c: c.compress((X * 255).byte(), 1), "dtype torch.uint8"),
    ("values above 1", lambda c: c.compress(X * 255, 1), "in \\[0, 1\\]"),
    ("negative values", lambda c: c.compress(X - 0.5, 1), "in \\[0, 1\\]"),
    ("bool tensor", lambda c: c.compress(X > 0.5, 1), "dtype torch.bool"),
    ("int64 tensor", lambda c: c.compress(X.long(), 1), "dtype torch.int64"),
    ("complex tensor", lambda c: c.compress(X.to(torch.complex64), 1), "dtype torch.complex64"),
    ("NaN", lambda c: c.compress(torch.where(X > 0.9, float("nan"), X), 1), "NaN or Inf"),
    ("Inf", lambda c: c.compress(torch.where(X > 0.9, float("inf"), X), 1), "NaN or Inf"),
    ("empty batch", lambda c: c.compress(X[None][:0], 1), "empty batch"),
    ("numpy array", lambda c: c.compress(X.numpy(), 1), "got ndarray"),
    ("PIL image", lambda c: c.compress(Image.new("RGB", (8, 8)), 1), "got Image"),
    ("grey tensor", lambda c: c.compress(X[:1], 1), "RGB image"),
    ("quality True", lambda c: c.compress(X, True), "quality"),
    ("quality 1.5", lambda c: c.compress(X, 1.5), "quality"),
    ("quality 9", lambda c: c.compress(X, 9), "quality"),
    ("channels 7", lambda c: c.compress(X, 1, channels=7), "channels"),
]
HYPER_ONLY = [
    ("refine 1.5", lambda c: c.compress(X, 1, refine=1.5), "refine"),
    ("z tokens of another shape", lambda c: c.decode(_retoken(c, z=lambda z: z[:, :3])), "z tokens"),
    (
        "y tokens of another shape",
        lambda c: c.decode(_retoken(c, y=lambda y: y[:, :, :1])),
        "y tokens|exceeds",
    ),
    ("negative tokens", lambda c: c.decode(_retoken(c, y=lambda y: y - 10**6)), "non-negative"),
    ("float tokens", lambda c: c.decode(_retoken(c, y=lambda y: y.astype(np.float32))), "integer"),
    ("huge tokens", lambda c: c.decode(_retoken(c, z=lambda z: z + 10**9)), "exact range"),
    ("size beyond the latent", lambda c: c.decode(_retoken(c, height=4000)), "exceeds the coded latent"),
]
FSQ_ONLY = [
    ("tokens outside the alphabet", lambda c: c.decode(_retoken_fsq(c, lambda t: t + 100)), "outside"),
    ("tokens of another rank", lambda c: c.decode(_retoken_fsq(c, lambda t: t[0])), "needs"),
    ("cropped size", lambda c: c.decode(_retoken_fsq(c, lambda t: t[:, :, :1])), "exceeds the coded latent"),
]


def _retoken(c: ImageCodec, z=None, y=None, height=None) -> ImageTokens:
    t = c.encode(X, 1)
    return ImageTokens(
        (z or (lambda a: a))(t.z), (y or (lambda a: a))(t.y), t.quality, height or t.height, t.width
    )


def _retoken_fsq(c: TokenImageCodec, fn) -> TokenImage:
    t = c.encode(X, 1)
    return TokenImage(fn(t.tokens), t.quality, t.height, t.width)


@pytest.mark.parametrize(
    "kind,what,call,text",
    [("hyper", *a) for a in API + HYPER_ONLY] + [("fsq", *a) for a in API + FSQ_ONLY],
    ids=[f"hyper: {a[0]}" for a in API + HYPER_ONLY] + [f"fsq: {a[0]}" for a in API + FSQ_ONLY],
)
def test_api_bad_input(kind: str, what: str, call, text: str) -> None:
    codec = _hyper() if kind == "hyper" else _fsq()
    with pytest.raises((NcodecError, ValueError), match=text) as exc:
        call(codec)
    assert isinstance(exc.value, NcodecError | ValueError) and not isinstance(
        exc.value, AttributeError | TypeError
    )


def test_pixel_budget_names_its_limit_and_how_to_raise_it(tmp_path: Path, monkeypatch, capsys) -> None:
    photo = tmp_path / "p.png"
    Image.new("RGB", (300, 200)).save(photo)
    monkeypatch.setenv("NCODEC_MAX_PIXELS", "1000")
    assert main(["encode", str(photo), str(tmp_path / "o.ncd"), *M]) == 2
    err = capsys.readouterr().err
    assert "budget of 1000 pixels" in err and "NCODEC_MAX_PIXELS" in err and not (tmp_path / "o.ncd").exists()
    monkeypatch.setenv("NCODEC_MAX_PIXELS", "60000")  # raised: the same image codes
    assert main(["encode", str(photo), str(tmp_path / "o.ncd"), *M]) == 0


def test_damaged_jpeg_data_is_refused(tmp_path: Path, capsys) -> None:
    """Pillow decodes a JPEG with damaged entropy-coded data without a word; libjpeg's warning is caught."""
    import random

    good = tmp_path / "good.jpg"
    Image.open(sample_photo()).convert("RGB").save(good, quality=90)
    data = bytearray(good.read_bytes())
    rng = random.Random(1)
    for _ in range(3):  # three bit flips in the scan data: libjpeg warns "extraneous bytes before marker"
        i = rng.randrange(len(data) // 3, len(data) - 10)
        data[i] ^= 1 << rng.randrange(8)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(bytes(data))
    from ncodec.io import read_image

    assert read_image(good)[0].shape == (3, 256, 384)  # an intact JPEG is read as before
    assert main(["encode", str(bad), str(tmp_path / "o.ncd"), *M]) == 2
    err = capsys.readouterr().err
    assert "damaged JPEG data (Corrupt JPEG data" in err and "Traceback" not in err
    assert not (tmp_path / "o.ncd").exists()
