"""The audio medium: streaming STFT-domain token codecs (RVQ and residual FSQ) for speech and music.

Modules: ``nets`` (causal STFT encoder, iSTFT-head decoder), ``models`` (the token model and its
configuration), ``stream`` (fixed-grid resampler, block encoder and decoder: tokens independent of the
chunking), ``codec`` (:class:`AudioCodec`: API, chunked files, spans, concealment), ``train`` (the audio
task of the shared trainer), ``commands`` (the command-line handler), ``fuzz`` (seed files for the codec
fuzzer).  Importing this package only registers the medium; the networks load with the first codec.
"""

from __future__ import annotations

from ncodec.codecs.audio.commands import AudioCommands
from ncodec.codecs.registry import register_media

register_media(
    "audio",
    modules=("ncodec.codecs.audio.codec",),
    default_model="audio-speech-rvq-v1",
    commands=AudioCommands(),
    fuzz_seeds="ncodec.codecs.audio.fuzz:audio_seeds",
)
