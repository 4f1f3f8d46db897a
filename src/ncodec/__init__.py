"""ncodec: neural codecs with real bitstreams."""

from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError

__version__ = "0.1.0"



def load(name_or_path: str):
    """A ready-to-use codec: a shipped model name (``ncodec models``) or a weights ``.safetensors`` file."""
    from ncodec.codecs.registry import load as _load

    return _load(name_or_path)


__all__ = ["FormatError", "MediaError", "NcodecError", "ShapeError", "__version__", "load"]
