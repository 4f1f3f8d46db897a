"""Reading and writing media files: images (the codec's strict input policy, :mod:`ncodec.io.image`),
audio and video arrays (:mod:`ncodec.io.media`), the bundled samples, and the one atomic writer."""

from ncodec.io.atomic import write_atomic
from ncodec.io.image import read_image, save_image, to_pil
from ncodec.io.media import (
    AUDIO_EXTS,
    IMAGE_EXTS,
    VIDEO_EXTS,
    load_audio,
    load_image,
    load_video,
    media_kind,
    probe_audio,
    probe_video,
)
from ncodec.io.samples import sample_photo

__all__ = [
    "AUDIO_EXTS",
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "load_audio",
    "load_image",
    "load_video",
    "media_kind",
    "probe_audio",
    "probe_video",
    "read_image",
    "sample_photo",
    "save_image",
    "to_pil",
    "write_atomic",
]
