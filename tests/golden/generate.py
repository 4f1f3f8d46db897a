"""Regenerate the golden .ncd files (only when the format version changes!).

    python tests/golden/generate.py

Writes, for each case, ``NAME.ncd``, ``NAME.tokens.npy`` (the tokens it must decode to) and, where the
prior is not described by the header alone, ``NAME.prior.safetensors`` (integer tables).
``tests/test_container.py::test_golden_*`` decodes every file exactly and re-encodes it to identical bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from ncodec.container import MediaInfo, TokenSection, compress, compress_sections
from ncodec.entropy import (
    AdaptiveContextPrior,
    IndexedTablePrior,
    StaticPrior,
    UniformPrior,
    freqs_from_counts,
)

HERE = Path(__file__).resolve().parent


def cases() -> dict[str, tuple[np.ndarray, object, dict]]:
    rng = np.random.default_rng(2024)
    out: dict[str, tuple[np.ndarray, object, dict]] = {}

    x = rng.integers(0, 1000, (1, 2, 6, 5))
    x[:, 1] %= 7
    out["uniform_image"] = (
        x,
        UniformPrior((1000, 7)),
        dict(
            codec="golden-image",
            media=MediaInfo("image", width=40, height=48, channels=3, padding=(0, 2, 0, 0)),
            quantizer="RVQ",
            chunk_len=4,
            weights_hash=bytes(range(32)),
        ),
    )

    levels = (8, 5, 5, 5)
    x = np.stack([np.minimum(rng.geometric(0.4, (1, 50)) - 1, k - 1) for k in levels], axis=1)
    out["static_audio"] = (
        x,
        StaticPrior.fit(x, levels),
        dict(
            codec="golden-audio",
            media=MediaInfo("audio", channels=1, sample_rate=24000, length=15990, padding=(0, 10)),
            quantizer="FSQ",
            token_form=1,
            chunk_len=20,
            extra=(("note", "golden file"),),
        ),
    )

    blocks = rng.integers(0, 16, (1, 1, 3, 2, 3))
    x = np.repeat(np.repeat(blocks, 2, axis=3), 2, axis=4)[:, :, :, :4, :5]
    out["adaptive_video"] = (
        x,
        AdaptiveContextPrior((16,)),
        dict(
            codec="golden-video",
            media=MediaInfo("video", width=80, height=64, channels=3, frame_rate=(30000, 1001), length=3),
            quantizer="VQ",
            chunk_len=2,
        ),
    )

    tables = [freqs_from_counts(np.array([50, 30, 10, 5, 1])), freqs_from_counts(np.array([1, 8, 8, 1]))]
    idx = np.broadcast_to(np.array([0, 1, 0])[None, :, None, None], (1, 3, 4, 4)).copy()
    x = np.minimum(rng.geometric(0.5, idx.shape) - 1, 3)
    x[0, 0, 0, 0] = 4 + 12345  # escaped
    out["indexed_latent"] = (
        x,
        IndexedTablePrior(tables, idx, escape=True),
        dict(codec="golden-latent", quantizer="EntropyBottleneck", chunk_len=3),
    )
    return out


def sparse_adaptive_case() -> tuple[np.ndarray, object, dict]:
    """Tokens over a 4096-symbol alphabet (a large VQ codebook): the adaptive prior tracks its contexts
    sparsely (hit counts) instead of as dense tables, a path no other golden file takes."""
    rng = np.random.default_rng(4096)
    base = rng.integers(0, 4096, (1, 2, 3, 4))
    x = np.repeat(np.repeat(base, 2, axis=2), 2, axis=3)  # repeated neighbours: contexts that match
    x[0, 1] = np.where(rng.random(x[0, 1].shape) < 0.7, x[0, 0], x[0, 1])  # the previous stream, often
    return x, AdaptiveContextPrior((4096, 4096)), dict(codec="golden-sparse", quantizer="VQ", chunk_len=3)


def hyper_index(z: np.ndarray) -> np.ndarray:
    """Table index of the two-section golden file's y, computed from its decoded z (integers only)."""
    # one table per position, chosen by the parity of the sum of z over its streams, repeated 2x2
    sel = (z.sum(axis=1, keepdims=True) % 2).repeat(2, axis=1)
    return np.repeat(np.repeat(sel, 2, axis=2), 2, axis=3)


def two_section_case() -> tuple[list[np.ndarray], list, dict]:
    """A hyperprior-shaped file: z (uniform prior) then y coded with tables picked from z."""
    rng = np.random.default_rng(99)
    z = rng.integers(0, 4, (1, 2, 2, 3))
    idx = hyper_index(z)
    tables = [freqs_from_counts(np.array([20, 6, 2, 1])), freqs_from_counts(np.array([2, 9, 9, 2]))]
    y = np.minimum(rng.geometric(0.5, idx.shape) - 1, 2)
    y[0, 1, 3, 5] = 3 + 500  # escaped
    priors = [UniformPrior((4, 4)), IndexedTablePrior(tables, idx, escape=True)]
    kw = dict(codec="golden-hyperprior", media=MediaInfo("image", width=96, height=64, channels=3))
    return [z, y], priors, kw


def prior_tensors(prior) -> dict[str, np.ndarray] | None:
    if isinstance(prior, StaticPrior):
        return prior.state_dict()
    if isinstance(prior, IndexedTablePrior):
        d = {f"table.{t}": a.astype(np.int32) for t, a in enumerate(prior.tables)}
        d["index"] = prior.index.astype(np.int32)
        return d
    return None


def main() -> None:
    for name, (x, prior, kw) in cases().items():
        (HERE / f"{name}.ncd").write_bytes(compress(x, prior, **kw))
        np.save(HERE / f"{name}.tokens.npy", x.astype(np.int64), allow_pickle=False)
        t = prior_tensors(prior)
        if t is not None:
            save_file(t, str(HERE / f"{name}.prior.safetensors"))
        print(name, (HERE / f"{name}.ncd").stat().st_size, "bytes")
    toks, priors, kw = two_section_case()
    secs = [
        TokenSection(toks[0], priors[0], quantizer="EntropyBottleneck", chunk_len=1),
        TokenSection(toks[1], priors[1], quantizer="GaussianConditional", chunk_len=2),
    ]
    (HERE / "two_sections.ncd").write_bytes(compress_sections(secs, **kw))
    for i, t in enumerate(toks):
        np.save(HERE / f"two_sections.tokens.{i}.npy", t.astype(np.int64), allow_pickle=False)
    tables = {f"table.{t}": a.astype(np.int32) for t, a in enumerate(priors[1].tables)}
    save_file(tables, str(HERE / "two_sections.prior.safetensors"))
    print("two_sections", (HERE / "two_sections.ncd").stat().st_size, "bytes")
    sparse()


def sparse() -> None:
    x, prior, kw = sparse_adaptive_case()
    (HERE / "adaptive_sparse.ncd").write_bytes(compress(x, prior, **kw))
    np.save(HERE / "adaptive_sparse.tokens.npy", x.astype(np.int64), allow_pickle=False)


if __name__ == "__main__":
    import sys

    sparse() if sys.argv[1:] == ["--sparse"] else main()
