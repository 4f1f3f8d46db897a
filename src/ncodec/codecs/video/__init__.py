"""The video medium: intra frames by the image codec, P-frames by conditional residual coding on
deterministic block motion, GOPs as independent chunks.

Modules: ``motion`` (integer block matching and compensation), ``models`` (the P-frame model),
``train`` (synthetic camera moves, the video task of the shared trainer), ``codec``
(:class:`VideoCodec`), ``commands`` (the command-line handler).
"""

from __future__ import annotations

from ncodec.codecs.registry import register_media
from ncodec.codecs.video.commands import VideoCommands

register_media(
    "video",
    modules=("ncodec.codecs.video.codec",),
    default_model="video-p-v2",
    commands=VideoCommands(),
    fuzz_seeds="ncodec.codecs.video.fuzz:video_seeds",
)
