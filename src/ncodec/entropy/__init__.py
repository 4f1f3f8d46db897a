"""Entropy coding: priors that give integer frequency tables, and an ANS / range coder (constriction).

See :mod:`ncodec.entropy.tables` for how integer tables reach constriction without rounding,
:mod:`ncodec.entropy.priors` for the priors, :mod:`ncodec.entropy.coder` for ``encode`` / ``decode`` and
:mod:`ncodec.entropy.compressai_adapter` for continuous latents through compressai's entropy models.
"""

from ncodec.entropy.coder import MAX_TOKENS, decode, encode, wavefront_plan
from ncodec.entropy.priors import (
    AdaptiveContextPrior,
    FrameIndexedPrior,
    IndexedTablePrior,
    NeuralPrior,
    Prior,
    PriorKind,
    SequentialPrior,
    StaticPrior,
    TablePrior,
    UniformPrior,
)
from ncodec.entropy.tables import (
    MAX_ALPHABET,
    PRECISION,
    TOTAL,
    freqs_from_counts,
    freqs_from_probabilities,
    ideal_bits,
    uniform_freqs,
    validate_freqs,
)

__all__ = [
    "MAX_ALPHABET",
    "MAX_TOKENS",
    "PRECISION",
    "TOTAL",
    "AdaptiveContextPrior",
    "FrameIndexedPrior",
    "IndexedTablePrior",
    "NeuralPrior",
    "Prior",
    "PriorKind",
    "SequentialPrior",
    "StaticPrior",
    "TablePrior",
    "UniformPrior",
    "decode",
    "encode",
    "freqs_from_counts",
    "freqs_from_probabilities",
    "ideal_bits",
    "uniform_freqs",
    "validate_freqs",
    "wavefront_plan",
]
