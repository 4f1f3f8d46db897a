"""Seeds for the codec fuzzer (:mod:`ncodec.codecs.fuzz`): real video files of one video codec."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ncodec.codecs.fuzz import CodecSeed
from ncodec.io import sample_photo


def pan(frames: int, height: int, width: int, dy: int, dx: int, top: int = 20, left: int = 30) -> np.ndarray:
    """A camera pan over the bundled photo: ``uint8 (frames, height, width, 3)``."""
    photo = np.asarray(Image.open(sample_photo()).convert("RGB"))
    return np.stack([photo[top + t * dy : top + t * dy + height, left + t * dx : left + t * dx + width]
                     for t in range(frames)])  # fmt: skip


def video_seeds(codec) -> list[CodecSeed]:
    """Small pans over the sample photo: four frames in GOPs of three (I, P, P, I: a P-frame after the
    I-frame and one after a P-frame, the two temporal contexts), and two grey frames all intra, at the
    lowest and the highest quality."""
    clips = [(pan(4, 48, 64, 2, 3), 3, 3), (pan(2, 37, 29, 1, -1, left=200), 1, 1)]
    seeds = []
    for k, (clip, gop, channels) in enumerate(clips):
        if channels == 1:
            clip = np.repeat(clip.mean(axis=3, keepdims=True).astype(np.uint8), 3, axis=3)
        for q in (0, codec.qualities - 1):
            data = codec.compress(clip, q, gop=gop, channels=channels)
            media = torch.from_numpy(codec.decompress(data))
            seeds.append(CodecSeed(f"{codec.name}-{k}-q{q}", codec, data, media, _reencode))
    return seeds


def _reencode(codec, tokens, header) -> bytes:
    """The file ``codec`` writes for ``tokens`` decoded from a file with ``header``."""
    return codec.compress_tokens(tokens)
