"""Seeds for the codec fuzzer (:mod:`ncodec.codecs.fuzz`): real audio files of one audio codec."""

from __future__ import annotations

import numpy as np

from ncodec.codecs.fuzz import CodecSeed
from ncodec.io.audio import open_audio
from ncodec.io.samples import sample_speech


def audio_seeds(codec) -> list[CodecSeed]:
    """Pieces of the bundled speech clip: 0.4 s mono at the model's rate, 1.1 s stereo at 44.1 kHz
    (two chunks' worth of frames would be too long for fast cases: one chunk each), at the lowest and
    the highest quality."""
    import torch
    import torchaudio.functional as AF

    x = open_audio(sample_speech()).read()[:, 0]
    short = x[8000:14400]
    stereo = AF.resample(torch.from_numpy(x[16000:33600]), 16000, 44100).numpy()
    items = [(short[None], codec.sample_rate), (np.stack([stereo, 0.5 * stereo]), 44100)]
    seeds = []
    for k, (wav, rate) in enumerate(items):
        for q in (0, codec.qualities - 1):
            data = codec.compress(wav, q, sample_rate=rate)
            seeds.append(CodecSeed(f"{codec.name}-{k}-q{q}", codec, data, codec.decompress(data), _reencode))
    return seeds


def _reencode(codec, tokens, header) -> bytes:
    """The file ``codec`` writes for ``tokens`` decoded from a file with ``header``."""
    return codec.compress_tokens(tokens, header.sections[0].prior_name)
