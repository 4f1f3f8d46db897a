"""ncodec: neural codecs with real bitstreams."""

from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError

__version__ = "0.1.0"

__all__ = ["FormatError", "MediaError", "NcodecError", "ShapeError", "__version__"]
