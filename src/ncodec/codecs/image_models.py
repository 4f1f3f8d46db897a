"""Moved to :mod:`ncodec.codecs.image.models` (re-exported here for existing imports)."""

from ncodec.codecs.image.models import *  # noqa: F403
