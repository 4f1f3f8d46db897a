"""Moved to :mod:`ncodec.io.media` (re-exported here for existing imports)."""

from ncodec.io.media import *  # noqa: F403
from ncodec.io.media import __all__  # noqa: F401  (the names re-exported)
