"""Video codec inference: frames ⇄ integer tokens per frame ⇄ .ncd bytes, GOP by GOP.

:class:`VideoCodec` codes a clip in groups of pictures (GOPs) of ``gop`` frames: the first frame of a
GOP is an intra (I) frame coded by the image codec; every other frame is a P-frame, predicted from the
previous decoded frame by integer block motion (:mod:`ncodec.codecs.video.motion`, whole or half
pixels by the model, vectors coded with an adaptive integer context prior) and coded by the
conditional residual model (:mod:`ncodec.codecs.video.models`) through the image codec's integer
hyperprior path, its latent's tables remapped by a temporal context where the model has one
(:mod:`ncodec.codecs.video.temporal`).  All temporal state restarts at each I-frame.

Bit-exactness: every probability table comes from integer computations (the image codec's integer
hyper-decoder and context nets on decoded integer latents; the vectors' adaptive prior counts
integers), so the tokens decode identically on any machine.  The reconstruction runs float
synthesis networks, whose last-bit differences between machines can change a rounded 8-bit pixel of
the reference; a changed reference pixel alters later P-frames' pixels (never their tokens) up to the
next I-frame.  The test suite measures that drift across thread counts.

File layout (one .ncd): the I-frames' ``z``, ``y`` anchors and ``y`` rest (one chunk per GOP), then,
when the clip has P-frames, their vectors, ``z``, ``y`` anchors and ``y`` rest (one chunk per GOP,
holding that GOP's P-frames).  A damaged chunk costs only its GOP; :meth:`VideoCodec.iter_decode`
seeks to the GOP of a start frame through the chunk index without decoding what lies before.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from ncodec.codecs.base import Codec
from ncodec.codecs.header import check_parsed_header
from ncodec.codecs.image.codec import (
    TABLE_KEYS,
    ImageCodec,
    ImageTokens,
    checkerboard_merge,
    checkerboard_split,
)
from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.integer_nets import ExactRangeError
from ncodec.codecs.registry import load, register_codec
from ncodec.codecs.video.models import ConditionalModel
from ncodec.codecs.video.motion import BLOCK, MAX_MV, compensate, estimate, mv_alphabet
from ncodec.codecs.video.temporal import BUCKET_EDGES, PREV_I, PREV_P, TemporalTables
from ncodec.codecs.weights import (
    check_tensors,
    config_from_dict,
    load_float_weights,
    load_tensors,
    read_metadata,
    write_weights,
)
from ncodec.container import MediaInfo, NcdHeader, NcdReader, NcdSpoolWriter, TokenSection
from ncodec.entropy import AdaptiveContextPrior, FrameIndexedPrior, UniformPrior
from ncodec.entropy.priors import PriorKind
from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError

__all__ = ["DEFAULT_GOP", "FrameTokens", "InterCodec", "VideoCodec", "VideoTokens"]

#: Frames per GOP when none is asked for (DCVC's test conditions use 32 or 96).
DEFAULT_GOP = 32
MAX_GOP = 1024
#: Largest frame (pixels) and side, and most frames, a file may declare.
MAX_FRAME_PIXELS = 1 << 23
MAX_SIDE = 8192
MAX_FRAMES = 1 << 24
ALIGN = 64
SECTION_NAMES = ("i_z", "i_y_anchor", "i_y_rest", "p_mv", "p_z", "p_y_anchor", "p_y_rest")
#: The optional audio track: a complete audio .ncd (the audio codec's own file) stored as byte tokens.
AUDIO_SECTION, AUDIO_CHUNK = "audio_ncd", 1 << 16


@dataclass
class FrameTokens:
    """One frame's tokens: ``kind`` ``"I"`` or ``"P"``; ``z (Nh, h/4, w/4)`` and ``y (M, h, w)`` latent
    tokens; P-frames also ``mv (2, H/16, W/16)`` block vectors ``(dy, dx)`` in pixels."""

    kind: str
    z: np.ndarray
    y: np.ndarray
    mv: np.ndarray | None = None
    #: ``y``'s table indexes (and means), kept by the encoder and the file reader, so that writing the
    #: file or reconstructing the frame needs no second pass of the integer networks
    idx: np.ndarray | None = field(default=None, repr=False, compare=False)
    means: torch.Tensor | None = field(default=None, repr=False, compare=False)


@dataclass
class VideoTokens:
    """A clip's tokens and what decoding needs besides the weights."""

    frames: list[FrameTokens]
    quality: int
    gop: int
    height: int
    width: int
    fps: Fraction = Fraction(25)
    channels: int = 3

    @property
    def types(self) -> str:
        """The frame types in order, e.g. ``"IPPP…IPPP…"``."""
        return "".join(f.kind for f in self.frames)


def _u8(x: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` in [0, 1] → ``uint8 (H, W, 3)``, rounded half up."""
    return (x[0].clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float().div_(255)


def _pad(frame: np.ndarray, h: int, w: int) -> np.ndarray:
    """Edge-replicate ``uint8 (H, W, 3)`` to ``(h, w, 3)``."""
    ph, pw = h - frame.shape[0], w - frame.shape[1]
    return np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else frame


def check_frame(frame: Any, size: tuple[int, int] | None = None) -> np.ndarray:
    """One frame as ``uint8 (H, W, 3)``: uint8 HWC arrays (grey ``(H, W)`` becomes three equal
    channels), or float tensors/arrays ``(3, H, W)`` in [0, 1]; ShapeError/MediaError otherwise."""
    if isinstance(frame, torch.Tensor):
        if not frame.is_floating_point():
            raise ShapeError(f"tensor frames are float (3, H, W) in [0, 1], got {frame.dtype}")
        if frame.dim() != 3 or frame.shape[0] != 3:
            raise ShapeError(f"tensor frames are (3, H, W), got {tuple(frame.shape)}")
        if not bool(torch.isfinite(frame).all()) or float(frame.min()) < 0 or float(frame.max()) > 1:
            raise ShapeError("frame values must be finite and in [0, 1]")
        frame = _u8(frame[None].float())
    if not isinstance(frame, np.ndarray):
        raise ShapeError(f"expected a frame array (H, W, 3) uint8, got {type(frame).__name__}")
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ShapeError(f"expected frames (H, W, 3), got {frame.shape}")
    if frame.dtype != np.uint8:
        raise ShapeError(f"expected uint8 frames, got {frame.dtype}")
    h, w = frame.shape[:2]
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or h * w > MAX_FRAME_PIXELS:
        raise MediaError(f"frame size {w}x{h} outside 1..{MAX_SIDE} per side, {MAX_FRAME_PIXELS} pixels")
    if size is not None and (h, w) != size:
        raise ShapeError(f"frame of {w}x{h} in a clip of {size[1]}x{size[0]}")
    return frame


class InterCodec(ImageCodec):
    """The P-frame coder: :class:`ImageCodec`'s integer entropy path around a :class:`ConditionalModel`."""

    model: ConditionalModel

    @torch.no_grad()
    def encode_frame(
        self, x: torch.Tensor, pred: torch.Tensor, q: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
        """``(z, y)`` tokens of the padded frame ``x`` given its prediction (both ``(1, 3, H, W)``), with
        ``y``'s table indexes and means."""
        y = self.model.analyse(x, pred)
        z = self.model.h_a(y)
        return self.quantize_latents(y * self.gain_table[q][None, :, None, None], z, q)

    @torch.no_grad()
    def decode_frame(self, z_tok: np.ndarray, y_tok: np.ndarray, pred: torch.Tensor, q: int) -> torch.Tensor:
        hyper = self._hyper(z_tok)
        if tuple(y_tok.shape) != (1, self.model.cfg.m, *hyper.shape[2:]):
            raise ShapeError(f"y tokens {y_tok.shape} do not match the hyper-latent {tuple(hyper.shape)}")
        idx, means = self._tables(hyper, q, y_tok=y_tok)
        return self.model.reconstruct(self._latent(y_tok, q, idx, means), pred).clamp_(0, 1)


class _Gop:
    """Closed-loop state of one GOP (the decoded reference, padded), shared by encoder and decoder."""

    def __init__(self, codec: VideoCodec, q: int, height: int, width: int) -> None:
        self.codec, self.q, self.h, self.w = codec, q, height, width
        self.ph, self.pw = -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN
        self.ref: np.ndarray | None = None

    def keep(self, rec: torch.Tensor) -> np.ndarray:
        """The decoded frame (cropped, 8-bit), kept padded as the next reference."""
        out = _u8(rec[:, :, : self.h, : self.w])
        self.ref = _pad(out, self.ph, self.pw)
        return out

    def intra(self, f: FrameTokens) -> np.ndarray:
        c = self.codec.intra
        if f.idx is not None and f.means is not None:  # tables from the file reader
            return self.keep(c._pixels(c._latent(f.y[None], self.q, f.idx[None], f.means), self.h, self.w))
        t = ImageTokens(z=f.z[None], y=f.y[None], quality=self.q, height=self.h, width=self.w)
        return self.keep(c.decode(t))

    def inter(self, f: FrameTokens) -> np.ndarray:
        if self.ref is None:
            raise FormatError("a P-frame without a reference")
        pred = _tensor(compensate(self.ref, f.mv, self.codec.mv_precision))
        c = self.codec.inter
        if f.idx is not None and f.means is not None:
            rec = c.model.reconstruct(c._latent(f.y[None], self.q, f.idx[None], f.means), pred).clamp_(0, 1)
            return self.keep(rec)
        return self.keep(c.decode_frame(f.z[None], f.y[None], pred, self.q))


@register_codec("video", "conditional")
class VideoCodec(Codec):
    """I-frames by an image codec, P-frames by conditional residual coding (see the module docstring)."""

    media = "video"
    compress_options = frozenset({"gop"})

    def __init__(
        self, intra: ImageCodec, inter: InterCodec, name: str, config: dict | None = None,
        temporal: TemporalTables | None = None, mv_precision: int = 1,
    ) -> None:  # fmt: skip
        super().__init__()
        if intra.model.cfg.m != inter.model.cfg.m or intra.model.cfg.nh != inter.model.cfg.nh:
            raise NcodecError("intra and inter models differ in latent channels")
        if intra.qualities != inter.qualities:
            raise NcodecError("intra and inter models differ in qualities")
        self.intra, self.inter, self.name = intra, inter, name
        self.config = dict(config or {})
        self.temporal = temporal
        if mv_precision not in (1, 2) or isinstance(mv_precision, bool):
            raise NcodecError(f"motion precision is 1 or 2 (half pixels), got {mv_precision!r}")
        self.mv_precision = int(mv_precision)
        self.mv_offset = MAX_MV * self.mv_precision  # vector components are coded as v + offset >= 0
        extra = b"" if temporal is None else temporal.digest_bytes()
        extra += b"" if mv_precision == 1 else b"motion-precision-%d" % mv_precision
        self.digest = hashlib.sha256(b"ncodec-video" + intra.digest + inter.digest + extra).digest()
        k = mv_alphabet(self.mv_precision)
        self.mv_prior = AdaptiveContextPrior((k, k))

    @property
    def qualities(self) -> int:
        return self.intra.qualities

    # --------------------------------------------------------------------------------- weights files
    def derive(self, name: str, temporal: TemporalTables | None = None, mv_precision: int = 1) -> VideoCodec:
        """A new model ``name`` over this one's networks: a temporal context for its P-frame latents
        (:mod:`.temporal`) and/or half-pixel motion (``mv_precision=2``).  Its weights file holds only
        the fitted map and names this model and its digest as its base."""
        if "base" in self.config:
            raise NcodecError(f"{self.name} is itself derived from {self.config['base']}")
        config = {**self.config, "base": self.name, "base_digest": self.digest.hex(),
                  "motion_precision": int(mv_precision)}  # fmt: skip
        if temporal is not None:
            config["temporal"] = {"bucket_edges": [int(v) for v in BUCKET_EDGES]}
        return VideoCodec(self.intra, self.inter, name, config, temporal=temporal, mv_precision=mv_precision)

    def save(self, path: str | os.PathLike[str], card: dict | None = None) -> None:
        """The P-frame model's weights and tables, and the intra model's name and digest (a model with
        a temporal context over a base model: the base's name and digest and the fitted map)."""
        if "base" in self.config:
            meta = {"config": json.dumps(self.config), "name": self.name}
            if card is not None:
                meta["card"] = json.dumps(card)
            if self.temporal is None:
                raise NcodecError("a derived video model without a temporal context has nothing to store")
            write_weights(path, {"temporal.map": torch.from_numpy(self.temporal.map.astype(np.int32))}, meta)
            return
        state = {k: v.detach().float().contiguous() for k, v in self.inter.model.state_dict().items()
                 if v.is_floating_point()}  # fmt: skip
        state["codec.gain_table"] = self.inter.gain_table.contiguous()
        state["codec.inv_gain_table"] = self.inter.inv_gain_table.contiguous()
        model_state = self.inter.model.state_dict()
        for key in TABLE_KEYS:
            state[f"codec.{key}"] = model_state[key].detach().clone().contiguous()
        config = {
            "media": "video",
            "bottleneck": "conditional",
            "intra": self.intra.name,
            "intra_digest": self.intra.digest.hex(),
            "inter": self.inter.model.cfg.to_dict(),
        }
        meta = {"config": json.dumps(config), "name": self.name}
        if card is not None:
            meta["card"] = json.dumps(card)
        write_weights(path, state, meta)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str | None = None) -> VideoCodec:
        config = read_metadata(path)["config"]
        if "base" in config:
            return cls._from_base(path, config, name)
        for key in ("intra", "intra_digest", "inter"):
            if key not in config:
                raise NcodecError(f"{path}: video model configuration lacks {key!r}")
        intra = load(str(config["intra"]), allow_path=False)
        if not isinstance(intra, ImageCodec):
            raise NcodecError(f"{path}: intra model {config['intra']} is not a hyperprior image codec")
        if intra.digest.hex() != config["intra_digest"]:
            raise NcodecError(
                f"{path}: the installed {config['intra']} is not the intra model it was trained with"
            )
        cfg = config_from_dict(ImageModelConfig, config["inter"], path, positive=("n", "m", "nh", "lambdas"))
        model = ConditionalModel(cfg)
        state = load_tensors(path)
        check_tensors(model, state, path, extra_prefixes=("codec.",))
        gains = state.pop("codec.gain_table", None), state.pop("codec.inv_gain_table", None)
        tables = {k: state.pop(f"codec.{k}") for k in TABLE_KEYS if f"codec.{k}" in state}
        if None in gains or len(tables) != len(TABLE_KEYS):
            raise NcodecError(f"{path}: the P-frame model's gain or entropy tables are missing")
        load_float_weights(model, state, path, complete=True)
        name = name or Path(path).stem
        return cls(intra, InterCodec(model, name + ":inter", *gains, tables=tables), name, config)

    @classmethod
    def _from_base(cls, path: str | os.PathLike[str], config: dict, name: str | None) -> VideoCodec:
        """A derived model (:meth:`derive`): its base model (shipped, same digest), its motion precision
        and the fitted map of its temporal context."""
        base = load(str(config["base"]), allow_path=False)
        if not isinstance(base, VideoCodec) or "base" in base.config:
            raise NcodecError(f"{path}: base model {config['base']} is not a video model of its own")
        if base.digest.hex() != config.get("base_digest"):
            raise NcodecError(f"{path}: the installed {config['base']} is not the base it was fitted on")
        precision = config.get("motion_precision", 1)
        if precision not in (1, 2) or isinstance(precision, bool):
            raise NcodecError(f"{path}: motion_precision {precision!r} is not 1 or 2")
        if (config.get("temporal") or {}).get("bucket_edges") != [int(v) for v in BUCKET_EDGES]:
            raise NcodecError(f"{path}: temporal context of another layout: {config.get('temporal')!r}")
        state = load_tensors(path)
        if set(state) != {"temporal.map"}:
            raise NcodecError(f"{path}: expected only the tensor 'temporal.map', got {sorted(state)[:4]}")
        tables = TemporalTables(state["temporal.map"].numpy(), len(base.inter.y_coder.tables))
        return cls(base.intra, base.inter, name or Path(path).stem, config, temporal=tables,
                   mv_precision=int(precision))  # fmt: skip

    # ------------------------------------------------------------------------------------- tokens
    def _gop(self, gop: int | None) -> int:
        gop = DEFAULT_GOP if gop is None else gop
        if isinstance(gop, bool) or not isinstance(gop, int | np.integer) or not 1 <= gop <= MAX_GOP:
            raise ValueError(f"gop must be a whole number of frames in 1..{MAX_GOP}, got {gop!r}")
        return int(gop)

    def iter_encode(
        self, frames: Iterable[Any], quality: int, gop: int | None = None
    ) -> Iterator[tuple[FrameTokens, np.ndarray]]:
        """Frames in, ``(tokens, decoded frame)`` out, one at a time (memory: the reference frame)."""
        q, gop = self.check_quality(quality), self._gop(gop)
        state: _Gop | None = None
        size = None
        for t, raw in enumerate(frames):
            frame = check_frame(raw, size)
            if state is None:
                size = frame.shape[:2]
                state = _Gop(self, q, *size)
            x = _pad(frame, state.ph, state.pw)
            if t % gop == 0:
                c = self.intra
                z, y, idx, means = c.encode_latents(_tensor(frame), q)
                rec = state.keep(c._pixels(c._latent(y, q, idx, means), state.h, state.w))
                yield FrameTokens("I", z[0], y[0], idx=idx[0]), rec
            else:
                mv = estimate(state.ref, x, self.mv_precision)
                pred = _tensor(compensate(state.ref, mv, self.mv_precision))
                z, y, idx, means = self.inter.encode_frame(_tensor(x), pred, q)
                rec = self.inter.model.reconstruct(self.inter._latent(y, q, idx, means), pred).clamp_(0, 1)
                yield FrameTokens("P", z[0], y[0], mv, idx=idx[0]), state.keep(rec)

    def encode(self, frames: Iterable[Any], quality: int, gop: int | None = None,
               fps: Fraction | float = Fraction(25)) -> VideoTokens:  # fmt: skip
        """A clip (``uint8 (T, H, W, 3)``, a list of frames, or float ``(T, 3, H, W)`` in [0, 1]) →
        :class:`VideoTokens` (one :class:`FrameTokens` per frame, types in ``.types``)."""
        out, size = [], (0, 0)
        for ft, rec in self.iter_encode(frames, quality, gop):
            out.append(ft)
            size = rec.shape[:2]
        if not out:
            raise MediaError("a clip of no frames")
        fps = Fraction(fps).limit_denominator(1 << 16)
        return VideoTokens(out, int(quality), self._gop(gop), int(size[0]), int(size[1]), fps)

    def iter_decode_tokens(self, t: VideoTokens) -> Iterator[np.ndarray]:
        q = self.check_quality(t.quality)
        state = _Gop(self, q, t.height, t.width)
        for k, f in enumerate(t.frames):
            if (k % t.gop == 0) != (f.kind == "I"):
                raise ShapeError(f"frame {k} is {f.kind}, the GOP of {t.gop} puts an I-frame every {t.gop}")
            f = replace(f, idx=None, means=None)  # tables from the tokens as they are now
            yield state.intra(f) if f.kind == "I" else state.inter(f)

    def decode(self, t: VideoTokens) -> np.ndarray:
        """Tokens → ``uint8 (T, H, W, 3)``."""
        return np.stack(list(self.iter_decode_tokens(t)))

    # ------------------------------------------------------------------------------------------ bytes
    def _shapes(self, n: int, gop: int, height: int, width: int) -> list[tuple[int, ...]]:
        """Token shapes of the sections of a clip of ``n`` frames (the P sections only when it has
        P-frames)."""
        n_i = -(-n // gop)
        n_p = n - n_i
        ph, pw = -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN
        m, nh = self.intra.model.cfg.m, self.intra.model.cfg.nh
        lat = (ph // 16, pw // 16)
        hyp = (ph // 64, pw // 64)
        shapes = [(1, nh, n_i, *hyp), (1, m, n_i, lat[0], lat[1] // 2), (1, m, n_i, lat[0], lat[1] // 2)]
        if n_p:
            shapes += [(1, 2, n_p, ph // BLOCK, pw // BLOCK), (1, nh, n_p, *hyp),
                       (1, m, n_p, lat[0], lat[1] // 2), (1, m, n_p, lat[0], lat[1] // 2)]  # fmt: skip
        return shapes

    def _frame_priors(self, codec: ImageCodec, z: np.ndarray, y_idx: np.ndarray):
        """The z prior and the two y priors (anchors, rest) of stacked frames ``(1, C, T, ...)``."""
        z_idx = np.broadcast_to(np.arange(z.shape[1])[None, :, None, None, None], z.shape)
        a, r = checkerboard_split_t(y_idx)
        return (
            codec.z_coder.prior(np.ascontiguousarray(z_idx)),
            codec.y_coder.prior(a),
            codec.y_coder.prior(r),
        )

    @staticmethod
    def _frame_idx(codec: ImageCodec, f: FrameTokens, q: int) -> np.ndarray:
        """``y``'s table indexes of one frame: the encoder's, or recomputed from the tokens."""
        if f.idx is not None and f.idx.shape == f.y.shape:
            return f.idx
        return codec._tables(codec._hyper(f.z[None]), q, y_tok=f.y[None])[0][0]

    def _writer(self, gop: int) -> NcdSpoolWriter:
        chunk_p = max(gop - 1, 1)
        quant = ("EntropyBottleneck", "GaussianConditional", "GaussianConditional")
        specs = [TokenSection(None, None, qn, chunk_len=1, prior_name=nm)
                 for qn, nm in zip(quant, SECTION_NAMES[:3], strict=True)]  # fmt: skip
        specs.append(TokenSection(None, None, "block-motion", chunk_len=chunk_p, prior_name=SECTION_NAMES[3]))
        specs += [TokenSection(None, None, qn, chunk_len=chunk_p, prior_name=nm)
                  for qn, nm in zip(quant, SECTION_NAMES[4:], strict=True)]  # fmt: skip
        specs.append(TokenSection(None, None, "ncd-bytes", chunk_len=AUDIO_CHUNK, prior_name=AUDIO_SECTION))
        return NcdSpoolWriter(specs)

    def _add_gop(self, w: NcdSpoolWriter, frames: list[FrameTokens], q: int) -> None:
        """Entropy-code one GOP's frames (its I-frame, then its P-frames) into the writer's chunks."""
        for codec, group, base in ((self.intra, frames[:1], 0), (self.inter, frames[1:], 4)):
            if not group:
                continue
            z = np.stack([f.z for f in group], axis=1)[None]
            y = np.stack([f.y for f in group], axis=1)[None]
            idx = np.stack([self._frame_idx(codec, f, q) for f in group], 1)[None]
            if base == 4:
                w.add(3, np.stack([f.mv for f in group], axis=1)[None] + self.mv_offset, self.mv_prior)
            zp, ya, yr = self._frame_priors(codec, z, idx)
            anchors, rest = checkerboard_split_t(y)
            w.add(base, z, zp)
            if base == 4 and self.temporal is not None:
                i_sym = self._i_halves(frames[0], q)
                halves = zip((anchors, rest), checkerboard_split_t(idx), strict=True)
                for half, (tok, hidx) in enumerate(halves):
                    coded, j = self._temporal_tokens(tok, hidx, i_sym[half], half)
                    w.add(base + 1 + half, coded, FrameIndexedPrior(codec.y_coder.tables, j))
                continue
            w.add(base + 1, anchors, ya)
            w.add(base + 2, rest, yr)

    def _i_halves(self, f: FrameTokens, q: int) -> tuple[np.ndarray, np.ndarray]:
        """The I-frame's ``y`` symbols, split into checkerboard halves ``(1, m, h, w/2)`` each."""
        sym = self.intra.y_coder.symbols_of(f.y[None], self._frame_idx(self.intra, f, q)[None])
        return checkerboard_split(sym)

    def _temporal_tokens(
        self, tok: np.ndarray, idx: np.ndarray, i_sym: np.ndarray, half: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One half of a GOP's P-frames ``(1, m, n, h, w/2)``: their tokens rewritten for the tables the
        temporal context picks, and those tables (the previous frame's symbols are known to the
        encoder)."""
        ad = self.inter.y_coder
        sym = ad.symbols_of(tok, idx)
        j = np.empty_like(idx)
        for k in range(tok.shape[2]):
            prev, kind = (i_sym, PREV_I) if k == 0 else (sym[:, :, k - 1], PREV_P)
            j[:, :, k] = self.temporal.index(kind, half, prev, idx[:, :, k])
        return ad.tokens_of(sym, j), j

    def _temporal_prior(
        self, idx: np.ndarray, i_sym: np.ndarray, half: int
    ) -> tuple[FrameIndexedPrior, list[np.ndarray]]:
        """The decoder's prior of one half of a GOP's P-frames (``idx``: the hyperprior's tables), and
        the list the tables it picks are appended to, frame by frame, as it decodes."""
        ad = self.inter.y_coder
        used: list[np.ndarray] = []

        def next_index(k: int, coded: np.ndarray, j: np.ndarray) -> np.ndarray:
            if k == 0:
                out = self.temporal.index(PREV_I, half, i_sym, idx[:, :, 0])
            else:
                prev = ad.symbols_of(coded[:, :, k - 1], j[:, :, k - 1])
                out = self.temporal.index(PREV_P, half, prev, idx[:, :, k])
            used.append(out)
            return out

        return FrameIndexedPrior(ad.tables, np.zeros_like(idx), next_index=next_index), used

    def _write_stream(
        self, frames: Iterable[FrameTokens], q: int, gop: int, height: int, width: int, fps: Fraction,
        channels: int, path: str | os.PathLike | None = None, force: bool = False,
        audio: tuple[str, bytes] | None = None, time_base: Fraction | None = None,
    ) -> bytes | int:  # fmt: skip
        """Frame tokens in display order → a file (``path``) or its bytes, one GOP in memory at a time.
        ``audio``: ``(audio model name, its .ncd file)`` of the clip's audio track, stored alongside."""
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
        w = self._writer(gop)
        n, group = 0, []
        try:
            for f in frames:
                if (n % gop == 0) != (f.kind == "I"):
                    raise ShapeError(f"frame {n} is {f.kind}: frame types do not follow the GOP of {gop}")
                if f.kind == "I" and group:
                    self._add_gop(w, group, q)
                    group = []
                group.append(f)
                n += 1
            if not group:
                raise MediaError("a clip of no frames")
            self._add_gop(w, group, q)
            if audio is not None:
                raw = np.frombuffer(audio[1], dtype=np.uint8).astype(np.int64)
                if raw.size == 0:
                    raise ValueError("an empty audio track")
                for i in range(0, raw.size, AUDIO_CHUNK):
                    w.add(7, raw[None, None, i : i + AUDIO_CHUNK], UniformPrior((256,)))
        except BaseException:
            w.close()
            raise
        ph, pw = -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN
        fps = Fraction(fps).limit_denominator(1 << 16)
        media = MediaInfo(kind="video", width=width, height=height, channels=channels,
                          frame_rate=(fps.numerator, fps.denominator), length=n,
                          padding=(0, ph - height, 0, pw - width))  # fmt: skip
        extra = [("quality", str(q)), ("gop", str(gop))] + ([("audio", audio[0])] if audio else [])
        if time_base is not None:  # the source stream's time base, for the decoded file's timestamps
            tb = Fraction(time_base)
            if not 0 < tb < 1 or tb.denominator > 1 << 30:
                raise ValueError(f"time base {time_base} is not usable")
            extra.append(("time_base", f"{tb.numerator}/{tb.denominator}"))
        return w.finish(
            path, codec=self.name, weights_hash=self.digest, media=media, extra=extra, force=force
        )

    def compress_tokens(self, t: VideoTokens) -> bytes:
        """Tokens → a complete .ncd file (table indexes kept by the encoder, or recomputed: exact)."""
        q, gop = self.check_quality(t.quality), self._gop(t.gop)
        for f in t.frames:
            want = self._frame_shapes(f.kind, t.height, t.width)
            got = (f.z.shape, f.y.shape, None if f.mv is None else f.mv.shape)
            if got != want:
                raise ShapeError(
                    f"{f.kind}-frame tokens {got} do not fit a {t.width}x{t.height} clip ({want})"
                )
        # the tables are recomputed from the tokens (they may have been edited since they were made)
        frames = [replace(f, idx=None, means=None) for f in t.frames]
        return self._write_stream(frames, q, gop, t.height, t.width, t.fps, t.channels)

    def _frame_shapes(self, kind: str, height: int, width: int) -> tuple:
        ph, pw = -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN
        m, nh = self.intra.model.cfg.m, self.intra.model.cfg.nh
        mv = (2, ph // BLOCK, pw // BLOCK) if kind == "P" else None
        return (nh, ph // 64, pw // 64), (m, ph // 16, pw // 16), mv

    def compress(self, frames: Iterable[Any], quality: int, gop: int | None = None,
                 fps: Fraction | float = Fraction(25), channels: int = 3,
                 audio: tuple[str, bytes] | None = None) -> bytes:  # fmt: skip
        """A clip → a complete .ncd file.  ``channels`` (1 or 3) is the layout the decoded file gets;
        ``audio`` = ``(model name, bytes)``: the clip's audio track as a file of that audio model."""
        return self._compress_stream(frames, quality, gop, fps, channels, None, audio=audio)

    def compress_to(
        self, path: str | os.PathLike, frames: Iterable[Any], quality: int, gop: int | None = None,
        fps: Fraction | float = Fraction(25), channels: int = 3, force: bool = False,
        audio: tuple[str, bytes] | None = None, time_base: Fraction | None = None,
    ) -> int:  # fmt: skip
        """Code ``frames`` (any iterable, read once) into the file ``path`` frame by frame: memory holds the
        reference and one GOP's tokens, not the clip.  Returns the file's size."""
        return self._compress_stream(frames, quality, gop, fps, channels, path, force, audio, time_base)

    def _compress_stream(
        self, frames, quality, gop, fps, channels, path, force=False, audio=None, time_base=None
    ):
        q, gop = self.check_quality(quality), self._gop(gop)
        size: list[int] = []

        def tokens() -> Iterator[FrameTokens]:
            for ft, rec in self.iter_encode(frames, q, gop):
                if not size:
                    size.extend(rec.shape[:2])
                yield ft

        it = tokens()
        first = next(it, None)
        if first is None:
            raise MediaError("a clip of no frames")

        def chain() -> Iterator[FrameTokens]:
            yield first
            yield from it

        fps = Fraction(fps)
        return self._write_stream(
            chain(), q, gop, size[0], size[1], fps, channels, path, force, audio, time_base
        )

    def read_header(self, h: NcdHeader) -> tuple[int, int]:
        """Check a parsed header against this codec; returns ``(quality, gop)``."""
        m = h.media
        if (
            not (1 <= m.width <= MAX_SIDE and 1 <= m.height <= MAX_SIDE)
            or m.width * m.height > MAX_FRAME_PIXELS
        ):
            raise FormatError(f"header: frame size {m.width}x{m.height} is not valid video")
        if not 1 <= m.length <= MAX_FRAMES:
            raise FormatError(f"header: {m.length} frames")
        if m.channels not in (1, 3):
            raise FormatError(f"header: {m.channels} channels (1 grey or 3 RGB)")
        num, den = m.frame_rate
        if num < 1 or den < 1:
            raise FormatError(f"header: frame rate {num}/{den}")
        ph, pw = -(-m.height // ALIGN) * ALIGN, -(-m.width // ALIGN) * ALIGN
        if tuple(m.padding) != (0, ph - m.height, 0, pw - m.width):
            raise FormatError(f"header: padding {tuple(m.padding)} does not match {m.width}x{m.height}")
        extra = dict(h.extra)
        q_text, g_text = extra.get("quality", ""), extra.get("gop", "")
        if (
            not (g_text.isascii() and g_text.isdigit())
            or g_text != str(int(g_text))
            or not 1 <= int(g_text) <= MAX_GOP
        ):
            raise FormatError(f"bad gop field {g_text!r}")
        gop = int(g_text)
        q = int(q_text)  # checked by check_header
        shapes = self._shapes(m.length, gop, m.height, m.width)
        sections = list(h.sections)
        audio = dict(h.extra).get("audio")
        if audio is not None:  # the audio track: an embedded audio .ncd, as byte tokens
            a = sections.pop() if sections else None
            if (
                a is None
                or a.prior_name != AUDIO_SECTION
                or a.alphabet != (256,)
                or len(a.shape) != 3
                or a.shape[:2] != (1, 1)
                or a.chunk_len != AUDIO_CHUNK
                or a.prior_kind != PriorKind.UNIFORM
            ):
                raise FormatError("header: the audio field names a track the sections do not hold")
        got = [tuple(s.shape) for s in sections]
        if got != shapes:
            raise FormatError(
                f"header: token sections {got} do not fit {m.length} frames of {m.width}x{m.height}"
            )
        for i, s in enumerate(sections):
            want = 1 if i < 3 else max(gop - 1, 1)
            if s.chunk_len != want:
                raise FormatError(f"header: section {i} has chunks of {s.chunk_len} frames, not {want}")
        return q, gop

    def open(self, source: str | os.PathLike | BinaryIO | bytes) -> VideoReader:
        """A seekable reader of a .ncd video file (path, file object or bytes)."""
        return VideoReader(self, source)

    def iter_decode(self, source: Any, start: int = 0, frames: int | None = None,
                    conceal: bool = False) -> Iterator[np.ndarray]:  # fmt: skip
        """Decoded frames ``uint8 (H, W, 3)`` of ``[start, start + frames)`` one at a time, from the GOP of
        ``start`` on (only those chunks are read).  ``conceal``: a damaged GOP's frames repeat the last
        good frame (black before any) instead of raising."""
        with self.open(source) as r:
            yield from r.frames(start, frames, conceal)

    def decompress(
        self, data: bytes, start: int = 0, frames: int | None = None, conceal: bool = False
    ) -> np.ndarray:
        """A .ncd file → ``uint8 (T, H, W, 3)`` (a span with ``start``/``frames``)."""
        return np.stack(list(self.iter_decode(data, start, frames, conceal)))

    def decompress_tokens(self, data: bytes) -> VideoTokens:
        """A .ncd file → its tokens (the networks that make tables run; no synthesis)."""
        with self.open(data) as r:
            return r.tokens()


def checkerboard_split_t(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`checkerboard_split` of stacked frames ``(1, C, T, h, w)`` (each frame split alike)."""
    b, c, n, h, w = t.shape
    flat = t.transpose(0, 2, 1, 3, 4).reshape(b * n, c, h, w)
    a, r = checkerboard_split(flat)
    back = lambda v: np.ascontiguousarray(v.reshape(b, n, c, h, w // 2).transpose(0, 2, 1, 3, 4))  # noqa: E731
    return back(a), back(r)


class VideoReader:
    """Random access to a video .ncd: GOP by GOP through the chunk index (memory: one GOP's tokens)."""

    def __init__(self, codec: VideoCodec, source: Any) -> None:
        import io

        self.codec = codec
        if isinstance(source, bytes | bytearray | memoryview):
            source = io.BytesIO(bytes(source))
        self._r = NcdReader(source)
        try:
            h = self._r.header
            check_parsed_header(h, codec.name, codec.digest, media="video", qualities=codec.qualities)
            self.quality, self.gop = codec.read_header(h)
        except BaseException:
            self._r.close()
            raise
        self.header = h
        m = h.media
        self.height, self.width, self.n, self.channels = m.height, m.width, m.length, m.channels
        self.fps = Fraction(*m.frame_rate)
        self.n_gops = -(-self.n // self.gop)
        counts = [s.n_chunks for s in h.sections]
        self._first = [sum(counts[:i]) for i in range(len(counts))]

    def close(self) -> None:
        self._r.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, section: int, g: int, prior_of) -> np.ndarray:
        k = self._first[section] + g
        sec, start, length = self._r.spans[k]
        shape = self.header.sections[section].shape
        chunk_shape = (*shape[:2], length, *shape[3:])
        return self._r.read_chunk(k, prior_of(chunk_shape), for_chunk=True)

    def _frames_tokens(
        self, codec: ImageCodec, base: int, g: int, mv: np.ndarray | None, i_frame: FrameTokens | None = None
    ) -> list[FrameTokens]:
        q = self.quality
        z = self._read(
            base,
            g,
            lambda s: codec.z_coder.prior(
                np.ascontiguousarray(np.broadcast_to(np.arange(s[1])[None, :, None, None, None], s))
            ),
        )
        n = z.shape[2]
        hypers = [codec._hyper(z[:, :, k]) for k in range(n)]
        idx = np.stack([codec._tables(hp, q)[0][0] for hp in hypers], axis=1)[None]
        a_idx, _ = checkerboard_split_t(idx)
        temporal = self.codec.temporal is not None and i_frame is not None
        i_sym = self.codec._i_halves(i_frame, q) if temporal else None

        def half_tokens(half: int, hidx: np.ndarray) -> np.ndarray:
            if not temporal:
                return self._read(base + 1 + half, g, lambda s: codec.y_coder.prior(hidx))
            prior, used = self.codec._temporal_prior(hidx, i_sym[half], half)
            coded = self._read(base + 1 + half, g, lambda s: prior)
            return codec.y_coder.retoken(coded, np.stack(used, axis=2), hidx)

        anchors = half_tokens(0, a_idx)
        full = checkerboard_merge_t(anchors, anchors)
        tables = [codec._tables(hypers[k], q, y_tok=full[:, :, k]) for k in range(n)]
        idx2 = np.stack([t[0][0] for t in tables], axis=1)[None]
        _, r_idx = checkerboard_split_t(idx2)
        rest = half_tokens(1, r_idx)
        y = checkerboard_merge_t(anchors, rest)
        kind = "I" if base == 0 else "P"
        # the tables each frame was decoded with come along: reconstruction needs no second pass
        off = self.codec.mv_offset
        return [FrameTokens(kind, z[0, :, k], y[0, :, k], None if mv is None else mv[0, :, k] - off,
                            idx=tables[k][0][0], means=tables[k][1])
                for k in range(n)]  # fmt: skip

    def gop_tokens(self, g: int) -> list[FrameTokens]:
        """The tokens of GOP ``g`` (FormatError if one of its chunks is damaged)."""
        if not 0 <= g < self.n_gops:
            raise IndexError(f"GOP {g} of {self.n_gops}")
        try:
            out = self._frames_tokens(self.codec.intra, 0, g, None)
            n_frames = min(self.gop, self.n - g * self.gop)
            if n_frames > 1:
                mv = self._read(3, g, lambda s: self.codec.mv_prior)
                if mv.max(initial=0) > 2 * self.codec.mv_offset:
                    raise FormatError("motion vectors out of range")
                out += self._frames_tokens(self.codec.inter, 4, g, mv, i_frame=out[0])
        except (ShapeError, ValueError) as exc:
            raise FormatError(f"GOP {g}: {exc}") from exc
        return out

    @property
    def time_base(self) -> Fraction | None:
        """The source's time base, when the file records one."""
        text = dict(self.header.extra).get("time_base")
        if text is None:
            return None
        try:
            tb = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise FormatError(f"bad time_base field {text!r}") from None
        if not 0 < tb < 1:
            raise FormatError(f"bad time_base field {text!r}")
        return tb

    @property
    def audio_model(self) -> str | None:
        """The audio model of the file's audio track (None: the file has none)."""
        return dict(self.header.extra).get("audio")

    def audio_bytes(self) -> bytes:
        """The audio track: the audio model's complete .ncd file (FormatError if the file has none)."""
        if self.audio_model is None:
            raise FormatError("the file holds no audio track")
        first = self._first[len(self.header.sections) - 1]
        parts = [self._r.read_chunk(k, UniformPrior((256,))).astype(np.uint8).tobytes()
                 for k in range(first, len(self._r.spans))]  # fmt: skip
        return b"".join(parts)

    def tokens(self) -> VideoTokens:
        frames = [f for g in range(self.n_gops) for f in self.gop_tokens(g)]
        return VideoTokens(frames, self.quality, self.gop, self.height, self.width, self.fps, self.channels)

    def frames(self, start: int = 0, count: int | None = None, conceal: bool = False) -> Iterator[np.ndarray]:
        if isinstance(start, bool) or not isinstance(start, int | np.integer) or not 0 <= start < self.n:
            raise ValueError(f"start frame {start!r} outside 0..{self.n - 1}")
        end = self.n if count is None else start + int(count)
        if count is not None and (int(count) < 1 or end > self.n):
            raise ValueError(f"{count} frames from frame {start} exceed the clip's {self.n}")
        last = None
        for g in range(start // self.gop, -(-end // self.gop)):
            first = g * self.gop
            done = max(first, start)  # the next frame of this GOP to yield
            try:
                tokens = self.gop_tokens(g)
                state = _Gop(self.codec, self.quality, self.height, self.width)
                for k, f in enumerate(tokens):
                    try:
                        rec = state.intra(f) if f.kind == "I" else state.inter(f)
                    except (ShapeError, ExactRangeError) as exc:
                        raise FormatError(f"GOP {g}, frame {first + k}: {exc}") from exc
                    if start <= first + k < end:
                        last = rec
                        done += 1
                        yield rec
            except FormatError:
                if not conceal:
                    raise
                fill = last if last is not None else np.zeros((self.height, self.width, 3), np.uint8)
                for _ in range(done, min(first + self.gop, end)):
                    yield fill


def checkerboard_merge_t(anchors: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Inverse of :func:`checkerboard_split_t`."""
    b, c, n, h, w2 = anchors.shape
    fa = anchors.transpose(0, 2, 1, 3, 4).reshape(b * n, c, h, w2)
    fr = rest.transpose(0, 2, 1, 3, 4).reshape(b * n, c, h, w2)
    out = checkerboard_merge(fa, fr)
    return np.ascontiguousarray(out.reshape(b, n, c, h, 2 * w2).transpose(0, 2, 1, 3, 4))
