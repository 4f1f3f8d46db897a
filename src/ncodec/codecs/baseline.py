"""Moved to :mod:`ncodec.codecs.image.baseline` (re-exported here for existing imports)."""

from ncodec.codecs.image.baseline import *  # noqa: F403
