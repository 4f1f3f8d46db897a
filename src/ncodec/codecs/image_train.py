"""Moved to :mod:`ncodec.codecs.image.train` (re-exported here for existing imports)."""

from ncodec.codecs.image.train import *  # noqa: F403
