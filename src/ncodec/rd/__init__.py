"""Rate–distortion benchmarking: the codec interface and registry, classical anchors (Pillow, PyAV), the
harness (cached sweeps, curves, BD-rates, CSV/JSON/PNG) and the ``ncodec bench rd`` command."""

from ncodec.rd.codecs import ImageModelAdapter, Item, RDCodec, available_codecs, get_codec, register_codec
from ncodec.rd.harness import bd_table, curves, measure, run_rd
from ncodec.rd.inputs import kodak_crop, load_items

__all__ = [
    "ImageModelAdapter",
    "Item",
    "RDCodec",
    "available_codecs",
    "bd_table",
    "curves",
    "get_codec",
    "kodak_crop",
    "load_items",
    "measure",
    "register_codec",
    "run_rd",
]
