"""Classical image anchors through Pillow: JPEG (libjpeg-turbo), WebP (libwebp), AVIF (libavif).

Each writes a complete file into memory with the library's defaults except the quality knob (JPEG 4:2:0
subsampling, WebP ``method=4``, AVIF speed 6 with 4:2:0), reads it back, and reports its length.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, features

from ncodec.errors import NcodecError
from ncodec.rd.codecs import Item, register_codec


class PillowAnchor:
    """One Pillow image format swept over its ``quality`` (0–100)."""

    media = "image"
    point_label = "quality"
    point_range = (0.0, 100.0)  # Pillow's quality scale
    point_integer = True

    def __init__(self, name: str, fmt: str, rate_points: Sequence[float], **save_kwargs: object) -> None:
        self.name = name
        self.format = fmt
        self.rate_points = list(rate_points)
        self.save_kwargs = save_kwargs
        import PIL

        self.config = f"pillow-{PIL.__version__}-{fmt}-{sorted(save_kwargs.items())}"

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        """Encode at ``quality=point``; return the file size and the decoded RGB image."""
        feature = {"WEBP": "webp", "AVIF": "avif"}.get(self.format)
        if feature and not features.check(feature):
            raise NcodecError(f"{self.name}: this Pillow build has no {self.format} support")
        buf = io.BytesIO()
        Image.fromarray(item.data, "RGB").save(
            buf, format=self.format, quality=int(point), **self.save_kwargs
        )
        data = buf.getvalue()
        with Image.open(io.BytesIO(data)) as im:
            rec = np.asarray(im.convert("RGB"), dtype=np.uint8)
        return len(data), rec


JPEG_POINTS = (5, 10, 20, 30, 50, 70, 85, 95)
WEBP_POINTS = (5, 10, 20, 30, 50, 70, 85, 95)
AVIF_POINTS = (10, 25, 40, 55, 70, 80, 90, 95)

register_codec("jpeg", lambda: PillowAnchor("jpeg", "JPEG", JPEG_POINTS))
register_codec("webp", lambda: PillowAnchor("webp", "WEBP", WEBP_POINTS, method=4))
register_codec("avif", lambda: PillowAnchor("avif", "AVIF", AVIF_POINTS, speed=6, subsampling="4:2:0"))
