"""Reading and writing image files for the codec, with a strict, documented policy.

ncodec's image models code 8-bit RGB.  Other inputs are coded faithfully or refused, never silently
altered:

* ``RGB``: coded as is.
* ``L`` (8-bit grey): coded as three equal channels; decoded back to a grey image (``channels = 1``).
* ``RGBA`` / ``LA`` whose alpha is fully opaque: the colour is coded and the decoder restores the opaque
  alpha (``channels = 4`` / ``2``).  Any transparent pixel: refused (alpha is not coded).
* ``P`` (palette) without transparency: its exact RGB colours are coded (decoded as RGB).
* 16-bit, 32-bit and float images (``I;16``, ``I``, ``F``), bilevel (``1``), ``CMYK`` and others: refused.

Files are written atomically (a temporary file in the same folder, then a rename), and an existing
file is replaced only with ``force=True``: an interrupted or failed run leaves no partial output.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ncodec.errors import MediaError
from ncodec.io.atomic import write_atomic

#: Largest image accepted, in pixels (beyond this Pillow's decompression-bomb guard also fires).
MAX_PIXELS = 1 << 28


def _check_jpeg(path: Path) -> None:
    """Refuse a JPEG whose entropy-coded data is damaged.  Pillow decodes such files without a word;
    libjpeg only prints "Corrupt JPEG data" on the process's stderr, so the file is decoded once more
    through torchvision's libjpeg with that stream captured."""
    import tempfile

    from torchvision.io import decode_jpeg

    data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            decode_jpeg(data)
        except RuntimeError:
            pass  # a JPEG variant torchvision does not decode but Pillow did: nothing learned
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read().decode(errors="replace")
    lines = [line for line in text.splitlines() if "Corrupt JPEG data" in line]
    if lines:
        raise MediaError(f"{path}: damaged JPEG data ({lines[0].strip()}); re-save it from a good copy")


def pixel_budget() -> int:
    """The largest image read, in pixels: :data:`MAX_PIXELS`, or ``$NCODEC_MAX_PIXELS`` when set."""
    text = os.environ.get("NCODEC_MAX_PIXELS", "")
    if not text:
        return MAX_PIXELS
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise MediaError(f"NCODEC_MAX_PIXELS={text!r}: expected a positive whole number of pixels")
    return int(text)


def read_image(path: str | os.PathLike[str]) -> tuple[torch.Tensor, int]:
    """An image file → ``(x (3, H, W) float32 in [0, 1], channels)`` where ``channels`` (1, 2, 3, 4) is
    what :func:`write_image` restores."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    budget = pixel_budget()
    guard = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # our budget below replaces Pillow's bomb guard (89 M pixels)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > budget:
                    raise MediaError(
                        f"{path}: {im.width}x{im.height} is more than the budget of {budget} pixels "
                        "(set NCODEC_MAX_PIXELS to raise it)"
                    )
                frames = getattr(im, "n_frames", 1)
                if frames > 1:
                    raise MediaError(f"{path}: {frames} frames (animated or multi-page); one image only")
                if any(";16" in str(t.args) for t in im.tile):  # Pillow would read it as 8-bit
                    raise MediaError(f"{path}: 16-bit samples are not supported (8-bit only)")
                im.load()
                if im.format == "JPEG":
                    _check_jpeg(path)
                mode = im.mode
                if mode == "P":
                    if "transparency" in im.info:
                        raise MediaError(f"{path}: palette image with transparency is not supported")
                    im = im.convert("RGB")
                    mode = "RGB"
                arr = np.asarray(im)
    except MediaError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise MediaError(f"{path}: cannot read image ({exc})") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    if arr.size == 0 or arr.ndim < 2 or min(arr.shape[:2]) < 1:
        raise MediaError(f"{path}: empty image")
    if mode in ("RGB", "L"):
        channels = 3 if mode == "RGB" else 1
    elif mode in ("RGBA", "LA"):
        if not bool((arr[..., -1] == 255).all()):
            raise MediaError(f"{path}: {mode} image with transparent pixels (alpha is not coded)")
        channels = 4 if mode == "RGBA" else 2
        arr = arr[..., :-1]
    else:
        raise MediaError(
            f"{path}: image mode {mode!r} is not supported (ncodec codes 8-bit RGB or grey; convert it first)"
        )
    if arr.dtype != np.uint8:
        raise MediaError(f"{path}: {arr.dtype} samples are not supported (8-bit only)")
    if arr.ndim == 2:
        arr = arr[..., None]
    x = torch.from_numpy(arr.astype(np.float32)).permute(2, 0, 1).div_(255.0)  # no uint8 copy on the way
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1).contiguous()
    return x, channels


def to_pil(x: torch.Tensor, channels: int = 3, consume: bool = False) -> Image.Image:
    """``(3, H, W)`` in [0, 1] → a Pillow image with the layout ``channels`` asks for.  With ``consume``
    the conversion works in ``x`` itself (no float copy of a large image; ``x`` is overwritten)."""
    if x.dim() == 4:
        x = x[0]
    x = x.clamp_(0, 1) if consume else x.clamp(0, 1)
    rgb = x.mul_(255).round_().to(torch.uint8).permute(1, 2, 0).numpy()
    if channels in (1, 2):
        grey = np.round(rgb.astype(np.float32).mean(-1)).astype(np.uint8)
        im = Image.fromarray(grey, "L")
    else:
        im = Image.fromarray(rgb, "RGB")
    if channels in (2, 4):
        im.putalpha(255)
    return im


def image_format(path: str | os.PathLike[str]) -> str:
    """The Pillow format an output path's extension names; MediaError when Pillow cannot write it (checked
    before any work, so a bad output name costs nothing)."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"{path}: unknown image format {path.suffix!r}")
    if fmt not in Image.SAVE:
        raise MediaError(f"{path}: Pillow reads {fmt} but cannot write it (use .png, .webp, .tif, ...)")
    return fmt


def save_image(path: str | os.PathLike[str], image: Image.Image, *, force: bool = False) -> None:
    """Save ``image`` to ``path`` atomically, in the format its extension names; replace a file only with
    ``force``."""
    path = Path(path)
    fmt = image_format(path)

    def save(f) -> None:
        try:
            image.save(f, format=fmt)
        except (KeyError, ValueError, OSError, TypeError) as exc:  # Pillow: no writer for this mode/format
            raise MediaError(f"{path}: cannot write a {image.mode} image as {fmt} ({exc})") from exc

    write_atomic(path, save, force=force)
