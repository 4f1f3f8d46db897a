"""Seeds for the codec fuzzer (:mod:`ncodec.codecs.fuzz`): real image files of one image codec."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ncodec.codecs.fuzz import CodecSeed
from ncodec.io import sample_photo


def image_seeds(codec) -> list[CodecSeed]:
    """Crops of the sample photo (one odd-sized, one grey) at the lowest and highest quality."""
    photo = np.asarray(Image.open(sample_photo()).convert("RGB"))
    crops = [(photo[40:96, 100:172], 3), (photo[10:43, 5:45], 3), (photo[120:168, 200:264], 1)]
    seeds = []
    for k, (crop, channels) in enumerate(crops):
        x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255
        if channels == 1:
            x = x.mean(0, keepdim=True).expand(3, -1, -1).contiguous()
        for q in (0, codec.qualities - 1):
            data = codec.compress(x, q, channels=channels)
            seeds.append(CodecSeed(f"{codec.name}-{k}-q{q}", codec, data, codec.decompress(data), _reencode))
    return seeds


def _reencode(codec, tokens, header) -> bytes:
    """The file ``codec`` writes for ``tokens`` decoded from a file with ``header``."""
    if "prior" in codec.compress_options:
        return codec.compress_tokens(tokens, header.sections[0].prior_name, channels=header.media.channels)
    return codec.compress_tokens(tokens, channels=header.media.channels)
