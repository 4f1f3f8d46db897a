"""Image codec inference: images ⇄ integer tokens ⇄ .ncd bytes, bit-exact on the entropy path.

:class:`ImageCodec` wraps a trained :class:`~ncodec.codecs.image.models.HyperpriorModel`:

* ``encode(x, quality)`` → :class:`ImageTokens` (the hyper-latent ``z`` and latent ``y`` tokens, plus the
  size, padding and quality needed to decode); ``decode(tokens)`` → image.
* ``compress(x, quality)`` → a complete ``.ncd`` file (two token sections, ``z`` then ``y``; a
  checkerboard-context model splits ``y`` into its anchors and the rest, three sections);
  ``decompress(data)`` → image.

Everything that decides which probability table codes a token is exact: ``z`` uses the
EntropyBottleneck's integer tables (one per channel); ``y``'s table index comes from the hyper-decoder
run as an :class:`~ncodec.codecs.integer_nets.IntegerConvNet` (integer arithmetic) and from gain tables
stored as float32 constants (IEEE multiplications and comparisons are correctly rounded everywhere).
A checkerboard-context model's second half of ``y`` takes its tables from the context and
entropy-parameter networks, run the same way (integer networks on the dequantized anchors, which are
elementwise IEEE operations on decoded integers).  So a file decodes to the same tokens on any machine,
thread count or batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ncodec.codecs.header import check_header
from ncodec.codecs.image.base import MAX_SIDE, ImageCodecBase
from ncodec.codecs.image.models import HyperpriorModel, anchor_mask, scale_table
from ncodec.codecs.image.refine import refine_latents
from ncodec.codecs.integer_nets import ExactRangeError, IntegerConvNet
from ncodec.codecs.registry import register_codec
from ncodec.codecs.tiling import rows_per_chunk, tiled
from ncodec.codecs.weights import load_float_weights, save_weights, weights_digest
from ncodec.container import MediaInfo, TokenSection, compress_sections, decompress_sections, parse
from ncodec.entropy.compressai_adapter import CompressaiAdapter
from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError

__all__ = ["CHUNK_TOKENS", "MAX_SIDE", "TABLE_KEYS", "ImageCodec", "ImageTokens", "checkerboard_merge",
           "checkerboard_split"]  # fmt: skip
#: Images with more pixels than this run the transforms tile by tile (bounded memory).
TILE_ABOVE = 1 << 20
#: Tile size in latent positions (x16 pixels) and the context margin around each tile: the analysis
#: transform sees 61 pixels (under 4 latents) around a latent, the synthesis a few latents, so with
#: these margins tiled and whole-image transforms agree to float rounding, and there are no seams.
TILE_LATENTS, MARGIN_LATENTS = 48, 6
#: Context (in their input's positions) the integer networks need around a tile: the hyper-decoder's two
#: stride-2 5x5 transposed convolutions and 3x3 convolution, the context's 5x5 convolution.
INT_MARGIN = 3
#: Latent rows per band of the table computation on large images, and the rows of context around a band
#: (the context network's 5x5 window needs 2; both even, so a band keeps its rows' checkerboard parity).
BAND_ROWS, BAND_MARGIN = 32, 4


#: Tokens per chunk of a file (a chunk is a band of latent rows, coded and checked independently).
CHUNK_TOKENS = 1 << 20


def _rows(tokens: np.ndarray) -> int:
    """Latent rows per chunk so that a chunk holds at most :data:`CHUNK_TOKENS` tokens."""
    return rows_per_chunk(tokens.shape, CHUNK_TOKENS)


def checkerboard_split(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(B, C, h, w)`` with ``w`` even → the anchors (``(i + j)`` even) and the other positions, each
    ``(B, C, h, w/2)`` in row-major order."""
    b, c, h, w = t.shape
    v = t.reshape(b, c, h, w // 2, 2)
    odd = (np.arange(h) % 2 == 1)[:, None]
    return np.where(odd, v[..., 1], v[..., 0]), np.where(odd, v[..., 0], v[..., 1])


def checkerboard_merge(anchors: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Inverse of :func:`checkerboard_split`."""
    b, c, h, w2 = anchors.shape
    odd = (np.arange(h) % 2 == 1)[:, None]
    out = np.stack([np.where(odd, rest, anchors), np.where(odd, anchors, rest)], axis=-1)
    return out.reshape(b, c, h, 2 * w2)


#: The entropy models' integer tables, stored with the weights (the float32 scale table they were built
#: from is stored with the other weights): recomputing them with ``update()`` runs float code (softplus,
#: erfc, exp) that another CPU, library or thread count may round differently, and one changed frequency
#: would break decoding.
TABLE_KEYS = tuple(
    f"{m}.{b}"
    for m in ("entropy_bottleneck", "gaussian_conditional")
    for b in ("_quantized_cdf", "_offset", "_cdf_length")
)


def _load_tables(model: HyperpriorModel, tables: dict[str, torch.Tensor]) -> None:
    for key, value in tables.items():
        module, buf = key.split(".")
        owner = getattr(model, module)
        current = getattr(owner, buf)
        if value.dtype != current.dtype:
            raise NcodecError(f"entropy table {key}: {value.dtype} {tuple(value.shape)} is not usable")
        owner.register_buffer(buf, value.clone())
    gc, eb = model.gaussian_conditional, model.entropy_bottleneck
    if gc._quantized_cdf.shape[0] != gc.scale_table.numel() or eb._quantized_cdf.shape[0] != model.cfg.nh:
        raise NcodecError("entropy tables do not match the model's channels or scale table")
    for em in (gc, eb):
        rows, width = em._quantized_cdf.shape
        lengths = em._cdf_length.reshape(-1)
        if em._offset.numel() != rows or lengths.numel() != rows:
            raise NcodecError("entropy tables: offsets or lengths do not match the number of tables")
        if int(lengths.min()) < 3 or int(lengths.max()) > width:
            lo, hi = int(lengths.min()), int(lengths.max())
            raise NcodecError(f"entropy tables: lengths {lo}..{hi} outside 3..{width}")


@dataclass
class ImageTokens:
    """Integer tokens of a batch of images and what decoding needs besides the weights."""

    z: np.ndarray  # (B, Nh, h/4, w/4) int64, EntropyBottleneck tokens
    y: np.ndarray  # (B, M, h, w) int64, GaussianConditional tokens
    quality: int
    height: int
    width: int

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) pixels a 16x down-sampling model added before the transform (the
        codec's :meth:`~ncodec.codecs.image.base.ImageCodecBase.padding` knows its model's stride)."""
        ph = self.y.shape[2] * 16 - self.height
        pw = self.y.shape[3] * 16 - self.width
        return (0, ph, 0, pw)


@register_codec("image", "hyperprior")
class ImageCodec(ImageCodecBase):
    """Encoder/decoder around a trained hyperprior image model (see the module docstring)."""

    compress_options = frozenset({"channels", "refine"})

    #: Set on a quality ladder's view of this codec (:mod:`ncodec.codecs.image.ladder`): the ladder's
    #: number of qualities and ``{ladder quality: this model's quality}`` of its rungs on this model.
    #: The view's files then record the ladder's name, digest and quality.
    rungs: tuple[int, dict[int, int]] | None = None

    def __init__(
        self,
        model: HyperpriorModel,
        name: str,
        gain_table: torch.Tensor | None = None,
        inv_gain_table: torch.Tensor | None = None,
        tables: dict[str, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, HyperpriorModel):
            raise TypeError("ImageCodec needs a HyperpriorModel")
        self.name = name
        self.model = model.eval()
        if tables is not None:  # the integer tables stored with the weights: no float step at load time
            _load_tables(model, tables)
        else:
            model.entropy_bottleneck.update(force=True)
            model.gaussian_conditional.update_scale_table(scale_table(), force=True)
        # float32 constants, stored with the weights (exp() may differ in the last bit between machines;
        # stored values are then only multiplied and compared: correctly rounded IEEE operations)
        with torch.no_grad():
            if gain_table is None or inv_gain_table is None:
                gain_table, inv_gain_table = model.gains.log_gain.exp(), model.gains.log_inv_gain.exp()
            self.register_buffer("gain_table", gain_table.detach().float().clone())
            self.register_buffer("inv_gain_table", inv_gain_table.detach().float().clone())
        self.h_s_int = IntegerConvNet(model.h_s)
        self.context = model.cfg.context == "checkerboard"
        if self.context:
            self.ctx_int = IntegerConvNet(model.ctx)
            self.ep_int = IntegerConvNet(model.ep)
        self.z_coder = CompressaiAdapter(model.entropy_bottleneck)
        self.y_coder = CompressaiAdapter(model.gaussian_conditional)
        self.digest = weights_digest(model)
        self.tile_above = TILE_ABOVE

    # ------------------------------------------------------------------------------------- weights files
    def save(self, path: str | os.PathLike[str], card: dict | None = None) -> None:
        """Write the weights, the gain tables, the configuration and an optional model card (safetensors)."""
        model_state = self.model.state_dict()
        state = {k: v.detach().float().contiguous() for k, v in model_state.items() if v.is_floating_point()}
        state["codec.gain_table"] = self.gain_table.contiguous()
        state["codec.inv_gain_table"] = self.inv_gain_table.contiguous()
        for key in TABLE_KEYS:  # the integer CDF tables, exactly as coded with
            state[f"codec.{key}"] = model_state[key].detach().clone().contiguous()
        save_weights(path, state, self.model, self.name, card)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str | None = None) -> ImageCodec:
        """Load weights written by :meth:`save`."""
        model, state = cls.read_model(path)
        if not isinstance(model, HyperpriorModel):
            raise NcodecError(f"{path}: bottleneck {model.cfg.bottleneck!r} has no inference codec yet")
        gains = state.pop("codec.gain_table", None), state.pop("codec.inv_gain_table", None)
        want = (model.qualities, model.cfg.m)
        for g in gains:
            if g is not None and (tuple(g.shape) != want or g.dtype != torch.float32):
                raise NcodecError(f"{path}: gain table {g.dtype} {tuple(g.shape)}, needed float32 {want}")
        tables = {k: state.pop(f"codec.{k}") for k in TABLE_KEYS if f"codec.{k}" in state}
        if tables and len(tables) != len(TABLE_KEYS):
            raise NcodecError(f"{path}: incomplete entropy tables ({sorted(tables)})")
        load_float_weights(model, state, path, complete=None not in gains)
        return cls(model, name or Path(path).stem, *gains, tables=tables or None)

    @property
    def qualities(self) -> int:
        return self.gain_table.shape[0]

    def _large(self, latent_hw: tuple[int, ...]) -> bool:
        """Whether the transforms run tile by tile for a latent of this size (bounded memory)."""
        return latent_hw[-2] * latent_hw[-1] * self.model.stride**2 > self.tile_above

    def _analysis(self, x: torch.Tensor) -> torch.Tensor:
        """The latent of ``x`` (unpadded: edge-replicated to the model's alignment, tile by tile when
        large, so no padded copy of a large image is made)."""
        a, s = self.model.align, self.model.stride
        size = (-(-x.shape[2] // a) * a, -(-x.shape[3] // a) * a)
        if not self._large((size[0] // s, size[1] // s)):
            return self.model.g_a(self.pad(x))
        return tiled(self.model.g_a, x, s, 1, TILE_LATENTS, MARGIN_LATENTS, self.model.cfg.m, size=size)

    def _integer(self, net: IntegerConvNet, x: torch.Tensor, scale: int, out_ch: int) -> torch.Tensor:
        """An integer network on ``x``, tile by tile for large latents: its arithmetic is exact, so the
        tiles (with margins covering its receptive field) give the whole-image output bit for bit."""
        if not self._large((x.shape[2] * scale, x.shape[3] * scale)):
            return net(x)
        return tiled(net, x, 1, scale, max(1, TILE_LATENTS // scale), INT_MARGIN, out_ch)

    def _synthesis(self, y: torch.Tensor) -> torch.Tensor:
        if not self._large(y.shape[2:]):
            return self.model.g_s(y)
        return tiled(self.model.g_s, y, 1, self.model.stride, TILE_LATENTS, MARGIN_LATENTS, 3)

    @property
    def sections(self) -> int:
        """Token sections of this codec's files: ``z`` and ``y`` (a context model: ``y``'s two halves)."""
        return 3 if self.context else 2

    def _params(
        self, hyper: torch.Tensor, q: int, y_hat: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled ``(scales, means)`` of ``y`` from the integer hyper-decoder's output; for a context
        model given ``y_hat`` (the scaled, dequantized latent, valid at the anchors) the non-anchor
        positions get the context's correction."""
        if y_hat is not None:
            mask = anchor_mask(*hyper.shape[2:]).bool()
            anchors = (y_hat * self.inv_gain_table[q][None, :, None, None]).masked_fill(~mask, 0.0)
            m2 = hyper.shape[1]

            def correction(t: torch.Tensor) -> torch.Tensor:
                return self.ep_int(torch.cat([t[:, :m2], self.ctx_int(t[:, m2:])], 1))

            delta = self._integer(correction, torch.cat([hyper, anchors], 1), 1, m2)
            hyper = torch.where(mask, hyper, hyper + delta)
        scales, means = hyper.chunk(2, 1)
        g = self.gain_table[q][None, :, None, None]
        return scales * g, means * g

    def _hyper(self, z_tok: np.ndarray) -> torch.Tensor:
        """The integer hyper-decoder's output (the latent's unscaled parameters) from the ``z`` tokens."""
        z = self.z_coder.from_tokens(z_tok, self.z_coder._indexes(z_tok.shape, None))
        return self._integer(self.h_s_int, z, 4, 2 * self.model.cfg.m)

    def _tables(
        self, hyper: torch.Tensor, q: int, y_tok: np.ndarray | None = None, y: torch.Tensor | None = None
    ) -> tuple[np.ndarray, torch.Tensor]:
        """Table indexes and means of every latent position from the integer hyper-decoder's output
        ``hyper``.  A context model needs the anchors' tokens (``y_tok``, valid at the anchors) or the
        latent ``y`` to quantize them from; without either it returns the anchors' tables (the
        hyperprior's) everywhere.

        Large latents are done in bands of rows with margins covering the context's 5x5 window (every
        step is position-wise or integer-exact, so the bands give the whole-latent result exactly)."""
        rows = hyper.shape[2]
        if not self._large(hyper.shape[2:]) or rows <= 2 * BAND_ROWS:
            return self._tables_whole(hyper, q, y_tok, y)
        idx, means = None, None
        for r0 in range(0, rows, BAND_ROWS):  # even starts and margins keep the checkerboard's parity
            r1 = min(r0 + BAND_ROWS, rows)
            a, b = max(r0 - BAND_MARGIN, 0), min(r1 + BAND_MARGIN, rows)
            part_i, part_m = self._tables_whole(
                hyper[:, :, a:b],
                q,
                None if y_tok is None else y_tok[:, :, a:b],
                None if y is None else y[:, :, a:b],
            )
            if idx is None:
                idx = np.empty((hyper.shape[0], part_i.shape[1], rows, hyper.shape[3]), dtype=part_i.dtype)
                means = part_m.new_empty(hyper.shape[0], part_m.shape[1], rows, hyper.shape[3])
            idx[:, :, r0:r1] = part_i[:, :, r0 - a : r1 - a]
            means[:, :, r0:r1] = part_m[:, :, r0 - a : r1 - a]
        return idx, means

    def _tables_whole(
        self, hyper: torch.Tensor, q: int, y_tok: np.ndarray | None = None, y: torch.Tensor | None = None
    ) -> tuple[np.ndarray, torch.Tensor]:
        scales, means = self._params(hyper, q)
        idx = self.model.gaussian_conditional.build_indexes(scales).numpy()
        if not self.context or (y_tok is None and y is None):
            return idx, means
        if y_tok is None:
            y_tok, _ = self.y_coder.to_tokens(y, idx, means)
        scales, means = self._params(hyper, q, self.y_coder.from_tokens(y_tok, idx, means))
        return self.model.gaussian_conditional.build_indexes(scales).numpy(), means

    def encode(self, x: torch.Tensor, quality: int, refine: int = 0) -> ImageTokens:
        """Images ``(B, 3, H, W)`` in [0, 1] → tokens.  The image is padded (edge replication) to a multiple
        of 64 inside; :meth:`decode` crops it back.

        ``refine > 0`` optimises the latents for that many steps before quantizing them
        (:mod:`ncodec.codecs.image.refine`): slower encoding, fewer bits at the same quality, the same
        decoder.  Images above the tiling threshold are refused with it (memory)."""
        return self._encode(x, quality, refine)[0]

    @torch.no_grad()
    def _encode(self, x: torch.Tensor, quality: int, refine: int) -> tuple[ImageTokens, np.ndarray]:
        """Tokens and the latent's table indexes (which :meth:`compress` codes them with)."""
        q = self.check_quality(quality)
        x = self.check_image(x)
        if isinstance(refine, bool) or not isinstance(refine, int | np.integer) or refine < 0:
            raise ValueError(f"refine must be a whole number of steps >= 0, got {refine!r}")
        refine = int(refine)
        h, w = x.shape[2:]
        if refine and x.shape[0] * h * w > self.tile_above:
            raise MediaError(
                f"--refine needs the whole image in memory: {x.shape[0]}x{w}x{h} is above "
                f"{self.tile_above} pixels; encode it without --refine"
            )
        y = self._analysis(x)
        z = self.model.h_a(y)
        g = self.gain_table[q][None, :, None, None]
        y = y * g
        if refine:
            ig = self.inv_gain_table[q][None, :, None, None]
            y, z = refine_latents(self.model, self.pad(x), y, z, q, g, ig, refine, valid=(int(h), int(w)))
        z_tok, y_tok, idx, _ = self.quantize_latents(y, z, q)
        return ImageTokens(z=z_tok, y=y_tok, quality=q, height=int(h), width=int(w)), idx

    def quantize_latents(
        self, y: torch.Tensor, z: torch.Tensor, q: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
        """The scaled latent ``y`` and hyper-latent ``z`` → ``(z tokens, y tokens, y's table indexes,
        y's means)``: ``z`` is rounded, the integer hyper-decoder (and context) give ``y``'s tables and
        means (what :meth:`_latent` dequantizes with)."""
        z_tok, _ = self.z_coder.to_tokens(z)
        idx, means = self._tables(self._hyper(z_tok), q, y=y)
        y_tok, _ = self.y_coder.to_tokens(y, idx, means)
        return z_tok, y_tok, idx, means

    @torch.no_grad()
    def encode_latents(
        self, x: torch.Tensor, q: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
        """:meth:`quantize_latents` of a checked image batch ``x`` (no refinement): the tokens, and the
        tables and means that decode them, so a closed-loop encoder can reconstruct without recomputing."""
        y = self._analysis(x)
        z = self.model.h_a(y)
        return self.quantize_latents(y * self.gain_table[q][None, :, None, None], z, q)

    @torch.no_grad()
    def decode(self, tokens: ImageTokens) -> torch.Tensor:
        """Tokens → images ``(B, 3, H, W)`` in [0, 1]."""
        q = self.check_quality(tokens.quality)
        for name, t, ch in (("z", tokens.z, self.model.cfg.nh), ("y", tokens.y, self.model.cfg.m)):
            if not isinstance(t, np.ndarray) or not np.issubdtype(t.dtype, np.integer):
                raise ShapeError(f"{name} tokens must be an integer numpy array, got {type(t).__name__}")
            if t.ndim != 4 or t.shape[1] != ch or t.shape[0] < 1 or t.size == 0 or (t < 0).any():
                raise ShapeError(f"{name} tokens {t.shape}: expected non-negative (B, {ch}, h, w)")
        self.check_coded_size(tokens.height, tokens.width, tokens.y.shape[2:])
        try:
            hyper = self._hyper(tokens.z)
            shape = (hyper.shape[0], self.model.cfg.m, *hyper.shape[2:])
            if tuple(tokens.y.shape) != shape:
                raise ShapeError(f"y tokens {tokens.y.shape} do not match the hyper-latent ({shape})")
            return self._reconstruct(tokens, q, *self._tables(hyper, q, y_tok=tokens.y))
        except ExactRangeError as exc:
            raise ShapeError(f"tokens out of the range the model decodes exactly ({exc})") from exc

    def _reconstruct(self, tokens: ImageTokens, q: int, idx: np.ndarray, means: torch.Tensor) -> torch.Tensor:
        """Tokens and their tables (from :meth:`_tables`) → images."""
        return self._pixels(self._latent(tokens.y, q, idx, means), tokens.height, tokens.width)

    def _latent(self, y_tok: np.ndarray, q: int, idx: np.ndarray, means: torch.Tensor) -> torch.Tensor:
        """The dequantized, unscaled latent the synthesis transform takes."""
        return self.y_coder.from_tokens(y_tok, idx, means) * self.inv_gain_table[q][None, :, None, None]

    def _pixels(self, y_hat: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = self._synthesis(y_hat).clamp_(0, 1)
        return x[:, :, :height, :width]

    # ---------------------------------------------------------------------------------------- bytes
    def compress(self, x: torch.Tensor, quality: int, channels: int = 3, refine: int = 0) -> bytes:
        """One image ``(3, H, W)`` (or a batch) in [0, 1] → a complete .ncd file.

        ``channels`` records the layout the decoded file should have (see :mod:`ncodec.io.image`);
        ``refine`` as in :meth:`encode`.
        """
        return self._write(*self._encode(x, quality, refine), channels)

    def compress_tokens(self, t: ImageTokens, channels: int = 3) -> bytes:
        """Tokens (from :meth:`encode`) → a complete .ncd file: the entropy path alone, exact."""
        self.check_quality(t.quality)
        y_idx, _ = self._tables(self._hyper(t.z), t.quality, y_tok=t.y)
        return self._write(t, y_idx, channels)

    def _write(self, t: ImageTokens, y_idx: np.ndarray, channels: int) -> bytes:
        """Tokens and the latent's table indexes → file bytes."""
        z_idx = self.z_coder._indexes(t.z.shape, None)
        channels = self.check_channels(channels)
        padding = self.padding(t.y.shape[2:4], t.height, t.width)
        media = MediaInfo(kind="image", width=t.width, height=t.height, channels=channels, padding=padding)
        sections = [
            TokenSection(
                t.z, self.z_coder.prior(z_idx), "EntropyBottleneck", chunk_len=_rows(t.z), prior_name="z"
            )
        ]
        parts = [("y", t.y, y_idx)]
        if self.context:
            parts = [
                (name, tok, idx)
                for name, tok, idx in zip(
                    ("y_anchor", "y_rest"), checkerboard_split(t.y), checkerboard_split(y_idx), strict=True
                )
            ]
        for name, tok, idx in parts:
            sections.append(
                TokenSection(
                    tok, self.y_coder.prior(idx), "GaussianConditional", chunk_len=_rows(tok), prior_name=name
                )
            )
        extra = [("quality", str(self._file_quality(t.quality)))]
        return compress_sections(
            sections, codec=self.name, weights_hash=self.digest, media=media, extra=extra
        )

    def _file_quality(self, q: int) -> int:
        """The quality a file of this codec records for the model's quality ``q`` (a ladder's view: the
        ladder's quality of that rung)."""
        if self.rungs is None:
            return q
        return next(fq for fq, mq in self.rungs[1].items() if mq == q)

    def check_file(self, data: bytes):
        if self.rungs is None:
            return super().check_file(data)
        total, to_model = self.rungs
        h, fq = check_header(data, self.name, self.digest, media=self.media, qualities=total)
        self.check_layout(h)
        if fq not in to_model:
            raise FormatError(f"quality {fq} of {self.name} is not coded by this rung's model")
        return h, to_model[fq]

    def read_header(self, data: bytes) -> tuple[int, int, int]:
        """Check that ``data`` is a file of this codec and weights; returns ``(quality, height, width)``
        (a ladder's view: this model's quality of the file's rung)."""
        h, q = self.check_file(data)
        if len(h.sections) != self.sections:
            raise FormatError(f"not a {self.sections}-section image file of this codec")
        return q, h.media.height, h.media.width

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """A .ncd file of this codec → images ``(B, 3, H, W)`` in [0, 1]."""
        tokens, (idx, means) = self._decompress(data)
        y_hat = self._latent(tokens.y, tokens.quality, idx, means)
        size = tokens.height, tokens.width
        del tokens, idx, means  # the latent is all the synthesis needs: a large image keeps less alive
        return self._pixels(y_hat, *size)

    @torch.no_grad()
    def decompress_tokens(self, data: bytes) -> ImageTokens:
        """A .ncd file of this codec → its tokens (no synthesis transform run)."""
        return self._decompress(data)[0]

    def _decompress(self, data: bytes) -> tuple[ImageTokens, tuple[np.ndarray, torch.Tensor]]:
        """Tokens and the tables they were decoded with (the hyper-decoder and context nets run once)."""
        try:
            return self._decompress_exact(data)
        except ExactRangeError as exc:
            raise FormatError(f"corrupt file: latents beyond the integer nets' exact range ({exc})") from exc

    def _decompress_exact(self, data: bytes) -> tuple[ImageTokens, tuple[np.ndarray, torch.Tensor]]:
        q, height, width = self.read_header(data)
        header = parse(data, strict=True).header
        z_shape = header.sections[0].shape
        z_idx = self.z_coder._indexes(z_shape, None)

        state: dict = {}

        def y_prior(decoded: list[np.ndarray]):
            if len(decoded) == 1:  # y, or a context model's anchors
                state["hyper"] = hyper = self._hyper(decoded[0])
                state["tables"] = idx, _ = self._tables(hyper, q)
                return self.y_coder.prior(checkerboard_split(idx)[0] if self.context else idx)
            hyper = state["hyper"]
            anchors = decoded[1]
            b, _, h, w = hyper.shape
            if anchors.shape != (b, self.model.cfg.m, h, w // 2):
                raise FormatError(f"anchor tokens {anchors.shape} do not match the hyper-latent")
            state["tables"] = idx, _ = self._tables(hyper, q, y_tok=checkerboard_merge(anchors, anchors))
            return self.y_coder.prior(checkerboard_split(idx)[1])

        priors = [self.z_coder.prior(z_idx)] + [y_prior] * (self.sections - 1)
        z_tok, *ys = decompress_sections(data, priors, codec=self.name)
        y_tok = checkerboard_merge(*ys) if self.context else ys[0]
        self.check_coded_size(height, width, y_tok.shape[2:], header.media.padding)
        return ImageTokens(z=z_tok, y=y_tok, quality=q, height=height, width=width), state["tables"]
