"""The image medium: hyperprior and token (FSQ/RVQ/BSQ) image codecs, their networks, training,
encoder-side refinement and the compressai reference.

Modules: ``models`` (trainable models and the RD loss), ``nets`` (transforms, hyperprior, context),
``base`` (input checks and padding shared by the codecs), ``codec`` (:class:`ImageCodec`, the
hyperprior codec), ``tokens`` (:class:`TokenImageCodec`), ``refine`` (``--refine``), ``train``
(crops and the image task of the shared trainer), ``baseline`` (compressai's bmshj2018-hyperprior),
``commands`` (the command-line handler).

Importing this package only registers the medium; the networks load with the first codec.  The names
the former ``ncodec.codecs.image`` module had are still importable from here.
"""

from __future__ import annotations

import importlib
from typing import Any

from ncodec.codecs.image.commands import ImageCommands
from ncodec.codecs.registry import register_media

register_media(
    "image",
    modules=("ncodec.codecs.image.codec", "ncodec.codecs.image.tokens", "ncodec.codecs.image.ladder"),
    default_model="image-hyperprior-v5",
    commands=ImageCommands(),
    fuzz_seeds="ncodec.codecs.image.fuzz:image_seeds",
)

# name -> module, for ``from ncodec.codecs.image import ImageCodec`` and the other former names
_LAZY = {
    **dict.fromkeys(
        ("ImageCodec", "ImageTokens", "CHUNK_TOKENS", "TABLE_KEYS", "TILE_ABOVE", "TILE_LATENTS",
         "MARGIN_LATENTS", "checkerboard_merge", "checkerboard_split"),
        "ncodec.codecs.image.codec",
    ),  # fmt: skip
    "MAX_SIDE": "ncodec.codecs.image.base",
    "TokenImage": "ncodec.codecs.image.tokens",
    "TokenImageCodec": "ncodec.codecs.image.tokens",
    "check_header": "ncodec.codecs.header",
    "tiled": "ncodec.codecs.tiling",
    **dict.fromkeys(("load_float_weights", "save_weights", "weights_digest"), "ncodec.codecs.weights"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
