"""Codecs: the shared core every medium builds on, and one subpackage per medium.

Core (medium-independent): ``base`` (the :class:`Codec` contract), ``registry`` (names → weights,
dispatch on the configuration's media and bottleneck, medium registration), ``weights`` (safetensors
io and the weights digest), ``header`` (``.ncd`` header checks), ``cards`` (model cards),
``integer_nets`` (bit-exact 1-D/2-D/3-D convolution nets for the entropy path), ``layers`` (gain
units), ``tiling`` (tiles and chunks), ``tokens`` (the token-model codec with integer priors),
``train`` (the resumable, ``torchrun``-ready trainer) and ``commands`` (``ncodec encode/decode/demo/
models``).  Media: ``image`` and ``audio``; video registers the same way.
"""

from ncodec.codecs import audio, image, video  # noqa: F401  (register the media; networks load lazily)
from ncodec.codecs.base import Codec
from ncodec.codecs.registry import load

__all__ = ["Codec", "load"]
