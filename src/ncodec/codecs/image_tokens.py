"""Moved to :mod:`ncodec.codecs.image.tokens` (re-exported here for existing imports)."""

from ncodec.codecs.image.tokens import *  # noqa: F403
