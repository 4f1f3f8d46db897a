"""Moved to :mod:`ncodec.codecs.image.nets` (re-exported here for existing imports)."""

from ncodec.codecs.image.nets import *  # noqa: F403
