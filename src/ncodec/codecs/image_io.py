"""Moved to :mod:`ncodec.io.image` (re-exported here for existing imports)."""

from ncodec.io.atomic import write_atomic  # noqa: F401
from ncodec.io.image import *  # noqa: F403
