"""Moved to :mod:`ncodec.codecs.image.refine` (re-exported here for existing imports)."""

from ncodec.codecs.image.refine import *  # noqa: F403
