"""A quality ladder over several shipped hyperprior image models: one name, one ``--quality`` scale.

No single small network is good over the whole range people code photos at: the 16x GDN transforms
of ``image-hyperprior-v5`` are strong at low rates but stop buying quality near 35 dB (their 128 latent
values per 16x16 pixels are the limit), while a critically sampled colour DCT of 8x8 blocks
(``transform="dct8"``) has no ceiling but is weaker at low rates.  A ladder model takes rungs from
each: quality ``Q`` is rung ``Q``, a ``(model, quality)`` pair, lowest rate first.

Its weights file holds no networks: its configuration names each part model (shipped, loaded by name)
with the digest it was put together with, and the rungs; the one tensor ``ladder.rungs`` (int32,
``(Q, 2)``: part index, part quality) repeats the rungs so that the digest covers them.  Files record
the ladder's name, its digest (over the parts' digests and the rungs) and ``Q``; they are written and
read by the part model's :class:`~ncodec.codecs.image.codec.ImageCodec` through a view that carries the
ladder's identity (:attr:`ImageCodec.rungs`), so the bitstream of a rung is exactly its part model's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import torch

from ncodec.codecs.header import check_header
from ncodec.codecs.image.base import ImageCodecBase
from ncodec.codecs.image.codec import ImageCodec, ImageTokens
from ncodec.codecs.registry import load, register_codec
from ncodec.codecs.weights import load_tensors, read_metadata, write_weights
from ncodec.errors import NcodecError

__all__ = ["LadderCodec"]

#: Most rungs a ladder may have (a sanity bound for weights files).
MAX_RUNGS = 64


def ladder_digest(parts: list[ImageCodec], rungs: list[tuple[int, int]]) -> bytes:
    """SHA-256 over the parts' digests and the rungs: what a ladder's files depend on."""
    h = hashlib.sha256(b"ncodec-image-ladder")
    for p in parts:
        h.update(p.digest)
    h.update(json.dumps([[int(i), int(q)] for i, q in rungs]).encode())
    return h.digest()


@register_codec("image", "ladder")
class LadderCodec(ImageCodecBase):
    """Rungs ``(part model, part quality)`` of several hyperprior image codecs as one codec."""

    compress_options = frozenset({"channels", "refine"})

    def __init__(
        self,
        parts: list[ImageCodec],
        rungs: list[tuple[int, int]],
        name: str,
        default_quality: int | None = None,
    ) -> None:
        super().__init__()
        if not parts or not all(isinstance(p, ImageCodec) and p.rungs is None for p in parts):
            raise NcodecError("a ladder's parts must be hyperprior image codecs of their own")
        if not 1 <= len(rungs) <= MAX_RUNGS:
            raise NcodecError(f"a ladder has 1..{MAX_RUNGS} rungs, got {len(rungs)}")
        seen = set()
        for i, q in rungs:
            if not (0 <= i < len(parts) and 0 <= q < parts[i].qualities) or (i, q) in seen:
                raise NcodecError(f"bad ladder rung ({i}, {q}) for parts {[p.name for p in parts]}")
            seen.add((i, q))
        self.name, self.parts, self.rungs = name, list(parts), [(int(i), int(q)) for i, q in rungs]
        self.digest = ladder_digest(self.parts, self.rungs)
        top = len(self.rungs) - 1
        if default_quality is not None and (
            type(default_quality) is not int or not 0 <= default_quality <= top
        ):
            raise NcodecError(f"a ladder's default quality must be in 0..{top}, got {default_quality!r}")
        self._default = top if default_quality is None else default_quality
        self.views = []
        for i, part in enumerate(self.parts):
            view = copy.copy(part)  # shares the networks; only the file identity differs
            view.name, view.digest = name, self.digest
            view.rungs = (len(self.rungs), {fq: q for fq, (j, q) in enumerate(self.rungs) if j == i})
            self.views.append(view)

    @property
    def qualities(self) -> int:
        return len(self.rungs)

    @property
    def default_quality(self) -> int:
        return self._default

    def rung(self, quality: int) -> tuple[ImageCodec, int]:
        """The view that codes ladder quality ``quality`` and its model's quality."""
        i, q = self.rungs[self.check_quality(quality)]
        return self.views[i], q

    def describe(self) -> list[str]:
        """One line per rung: ``Q: model quality q``."""
        return [f"{fq}: {self.parts[i].name} quality {q}" for fq, (i, q) in enumerate(self.rungs)]

    # ------------------------------------------------------------------------------------- tokens
    def encode(self, x: torch.Tensor, quality: int, refine: int = 0) -> ImageTokens:
        view, q = self.rung(quality)
        return replace(view.encode(x, q, refine=refine), quality=self.check_quality(quality))

    def decode(self, tokens: ImageTokens) -> torch.Tensor:
        view, q = self.rung(tokens.quality)
        return view.decode(replace(tokens, quality=q))

    # ------------------------------------------------------------------------------------- bytes
    def compress(self, x: torch.Tensor, quality: int, channels: int = 3, refine: int = 0) -> bytes:
        view, q = self.rung(quality)
        return view.compress(x, q, channels=channels, refine=refine)

    def compress_tokens(self, t: ImageTokens, channels: int = 3) -> bytes:
        view, q = self.rung(t.quality)
        return view.compress_tokens(replace(t, quality=q), channels=channels)

    def _view_of(self, data: bytes) -> tuple[ImageCodec, int]:
        """The view that reads ``data`` and the file's ladder quality (header checks included)."""
        h, fq = check_header(data, self.name, self.digest, media=self.media, qualities=self.qualities)
        self.check_layout(h)
        return self.views[self.rungs[fq][0]], fq

    def check_file(self, data: bytes):
        view, fq = self._view_of(data)
        h, _ = view.check_file(data)
        return h, fq

    def read_header(self, data: bytes) -> tuple[int, int, int]:
        view, fq = self._view_of(data)
        _, h, w = view.read_header(data)
        return fq, h, w

    def decompress(self, data: bytes) -> torch.Tensor:
        return self._view_of(data)[0].decompress(data)

    def decompress_tokens(self, data: bytes) -> ImageTokens:
        view, fq = self._view_of(data)
        return replace(view.decompress_tokens(data), quality=fq)

    # ------------------------------------------------------------------------------- weights files
    def save(self, path: str | os.PathLike[str], card: dict | None = None) -> None:
        """The configuration (parts by name and digest, rungs) and the rungs tensor; no networks."""
        config = {
            "media": "image",
            "bottleneck": "ladder",
            "parts": [{"model": p.name, "digest": p.digest.hex()} for p in self.parts],
            "rungs": [[i, q] for i, q in self.rungs],
            "default_quality": self._default,
        }
        meta = {"config": json.dumps(config), "name": self.name}
        if card is not None:
            meta["card"] = json.dumps(card)
        write_weights(path, {"ladder.rungs": torch.tensor(self.rungs, dtype=torch.int32)}, meta)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str | None = None) -> LadderCodec:
        config = read_metadata(path)["config"]
        parts_cfg, rungs = config.get("parts"), config.get("rungs")
        if not isinstance(parts_cfg, list) or not parts_cfg or not isinstance(rungs, list):
            raise NcodecError(f"{path}: a ladder model's configuration needs 'parts' and 'rungs' lists")
        if not all(isinstance(r, list) and len(r) == 2 and all(type(v) is int for v in r) for r in rungs):
            raise NcodecError(f"{path}: ladder rungs must be [part, quality] pairs of integers")
        parts = []
        for p in parts_cfg:
            if not isinstance(p, dict) or not isinstance(p.get("model"), str) or "digest" not in p:
                raise NcodecError(f"{path}: a ladder part needs 'model' and 'digest', got {p!r}")
            codec = load(p["model"], allow_path=False)
            if not isinstance(codec, ImageCodec) or codec.rungs is not None:
                raise NcodecError(f"{path}: ladder part {p['model']} is not a hyperprior image model")
            if codec.digest.hex() != p["digest"]:
                raise NcodecError(f"{path}: the installed {p['model']} is not the model this ladder names")
            parts.append(codec)
        state = load_tensors(path)
        if set(state) != {"ladder.rungs"}:
            raise NcodecError(f"{path}: expected only the tensor 'ladder.rungs', got {sorted(state)[:4]}")
        t = state["ladder.rungs"]
        if t.dtype != torch.int32 or t.tolist() != rungs:
            raise NcodecError(f"{path}: the 'ladder.rungs' tensor does not match the configuration's rungs")
        return cls(parts, [tuple(r) for r in rungs], name or Path(path).stem, config.get("default_quality"))
