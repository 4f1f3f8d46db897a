"""Exception types raised by ncodec.

Every error a user can trigger with bad input derives from :class:`NcodecError`, so the command line
can turn it into a clear message and a non-zero exit status.
"""


class NcodecError(Exception):
    """Base class of every error ncodec raises on purpose."""


class FormatError(NcodecError, ValueError):
    """A bitstream (.ncd file) is malformed: bad magic, unsupported version, truncation, CRC mismatch..."""


class MediaError(NcodecError, ValueError):
    """Input media cannot be used: unreadable, corrupt, empty, absurd size or unsupported layout."""


class ShapeError(NcodecError, ValueError):
    """A tensor has the wrong shape, dtype or value range for the operation."""
