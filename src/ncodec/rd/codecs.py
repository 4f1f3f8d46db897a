"""The codec interface of the rate–distortion harness, and the registry that picks codecs by name.

A codec adapter has a ``name``, a ``media`` (``"image"``, ``"audio"`` or ``"video"``), default
``rate_points`` (qualities, CRFs or bitrates: whatever its knob is, named by ``point_label``), a
``config`` string that changes whenever its output would (it keys the harness's cache), and
``encode_decode(item, point) -> (bytes_on_disk, reconstruction)``. The byte count is the size of the
complete file the codec writes, container included; the reconstruction has the item's shape.

Registering a model (issue #6 and later)::

    from ncodec.rd import ImageModelAdapter, register_codec

    register_codec("image-fsq-small", lambda: ImageModelAdapter(
        "image-fsq-small", make_codec=lambda q: load_model("image-fsq-small", quality=q),
        rate_points=[1, 2, 3, 4, 5, 6], config="weights-sha256:..."))

after which ``ncodec bench rd --codec jpeg,image-fsq-small --anchor jpeg DIR`` runs it. A module can
also be named with ``--plugin MODULE``; importing it must call :func:`register_codec`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from ncodec.codecs.registry import available_models, load
from ncodec.container import FORMAT_VERSION
from ncodec.errors import NcodecError


@dataclass
class Item:
    """One prepared piece of media the harness feeds to every codec.

    Attributes:
        id: a stable name (the path relative to the input folder or data root).
        media: ``"image"``, ``"audio"`` or ``"video"``.
        data: image ``uint8 [H, W, 3]``; audio ``float32 [frames, channels]`` in [-1, 1];
            video ``uint8 [T, H, W, 3]``.
        sample_rate: audio sample rate (Hz).
        fps: video frame rate.
        digest: SHA-256 of the prepared data and its parameters (part of the cache key).
        meta: free-form provenance (source file, crop, excerpt offset...).
    """

    id: str
    media: str
    data: np.ndarray
    sample_rate: int | None = None
    fps: float | None = None
    digest: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Seconds of audio or video (0 for images)."""
        if self.media == "audio" and self.sample_rate:
            return self.data.shape[0] / self.sample_rate
        if self.media == "video" and self.fps:
            return self.data.shape[0] / self.fps
        return 0.0


@runtime_checkable
class RDCodec(Protocol):
    """What the harness needs of a codec."""

    name: str
    media: str
    rate_points: Sequence[float]
    point_label: str
    config: str

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        """Encode ``item`` at ``point`` into a real file and decode it: (bytes on disk, reconstruction)."""
        ...


_REGISTRY: dict[str, Callable[[], RDCodec]] = {}


def register_codec(name: str, factory: Callable[[], RDCodec], replace: bool = False) -> None:
    """Make ``factory()`` available to the harness as ``name`` (lower case, no commas)."""
    if not name or "," in name or name != name.lower():
        raise ValueError(f"bad codec name {name!r}: lower case, no commas")
    if name in _REGISTRY and not replace:
        raise ValueError(f"codec {name!r} is already registered")
    _REGISTRY[name] = factory


def available_codecs(media: str | None = None) -> list[str]:
    """Registered codec names (optionally only those of one media)."""
    _load_builtin()
    names = sorted(_REGISTRY)
    if media is None:
        return names
    return [n for n in names if get_codec(n).media == media]


def get_codec(name: str) -> RDCodec:
    """A new instance of the codec registered as ``name``."""
    _load_builtin()
    if name not in _REGISTRY:
        model = _ncodec_model(name)
        if model is not None:
            return model
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise NcodecError(f"unknown codec {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None
    return factory()


class _QualityCodec:
    """One rung of an ncodec image model's quality ladder, as ``compress(x)`` / ``decompress(bytes)``."""

    def __init__(self, codec: Any, quality: int, refine: int = 0) -> None:
        self.codec, self.quality, self.refine = codec, quality, refine

    def compress(self, x: Any) -> bytes:
        if self.refine:
            return self.codec.compress(x, self.quality, refine=self.refine)
        return self.codec.compress(x, self.quality)

    def decompress(self, data: bytes) -> Any:
        return self.codec.decompress(data)


def _ncodec_model(name: str) -> RDCodec | None:
    """ncodec's own image models by shipped name or weights path (``--codec path/model.safetensors``)."""
    if Path(name).is_dir():  # a folder of single-rate compressai baseline models: one curve
        # imported here, not at the top: it loads compressai (seconds), which ``ncodec info`` never needs
        from ncodec.codecs.image.baseline import CompressaiLadder

        ladder = CompressaiLadder.from_folder(name)
        digest = hashlib.sha256()
        for p in sorted(Path(name).glob("*.safetensors")):
            digest.update(p.read_bytes())
        return ImageModelAdapter(
            ladder.name,
            lambda q: _QualityCodec(ladder, int(q)),
            list(range(ladder.qualities)),
            config=f"compressai:{ladder.name}:{digest.hexdigest()[:16]}",
        )
    base, refine = name, 0
    if "@gop=" in name:  # NAME@gop=N: a video model with another intra period (1: all intra)
        base, _, gop = name.rpartition("@gop=")
        if not gop.isdigit() or int(gop) < 1:
            raise NcodecError(f"{name}: @gop= needs a positive number of frames")
        if not (base.endswith(".safetensors") or base in available_models()):
            return None
        codec = load(base)
        if codec.media != "video":
            raise NcodecError(f"{name}: @gop= is for video models")
        return VideoModelAdapter(codec, int(gop))
    if "@refine=" in name:  # NAME@refine=STEPS: the same model with encoder-side latent refinement
        base, _, steps = name.rpartition("@refine=")
        if not steps.isdigit() or int(steps) < 1:
            raise NcodecError(f"{name}: @refine= needs a positive number of steps")
        refine = int(steps)
    if not (base.endswith(".safetensors") or base in available_models()):
        return None
    codec = load(base)
    if codec.media == "audio":
        if refine:
            raise NcodecError(f"{name}: @refine= is for image hyperprior models")
        return AudioModelAdapter(codec)
    if codec.media == "video":
        if refine:
            raise NcodecError(f"{name}: @refine= is for image hyperprior models")
        return VideoModelAdapter(codec)
    if refine and "refine" not in codec.compress_options:
        raise NcodecError(f"{name}: @refine= is for hyperprior models")
    label = codec.name + (f"@refine={refine}" if refine else "")
    # the weights hash and the container version are part of the cache key, so retrained weights and
    # files of a new format are measured again
    return ImageModelAdapter(
        label,
        lambda q: _QualityCodec(codec, int(q), refine),
        list(range(codec.qualities)),
        config=f"ncodec:{label}:{codec.digest.hex()[:16]}:ncd{FORMAT_VERSION}",
    )


def _load_builtin() -> None:
    # Importing the anchor modules registers them (once).
    from ncodec.rd import anchors_audio, anchors_codec2, anchors_image, anchors_video  # noqa: F401


class ImageModelAdapter:
    """Adapts an image codec with ``compress(x) -> bytes`` / ``decompress(bytes) -> x`` to the harness.

    ``make_codec(point)`` returns the codec object for one rung of its quality ladder (it may cache).
    ``x`` is a float tensor ``[1, 3, H, W]`` in [0, 1]; the reconstruction is rounded to ``uint8``. The rate
    is the length of the bytes ``compress`` returns, which must be the complete file (e.g. ``.ncd``).
    """

    media = "image"
    point_label = "quality"

    def __init__(
        self, name: str, make_codec: Callable[[float], Any], rate_points: Sequence[float], config: str = ""
    ) -> None:
        self.name = name
        self._make = make_codec
        self.rate_points = list(rate_points)
        self.point_range = (min(self.rate_points), max(self.rate_points))  # the model's quality ladder
        self.point_integer = True
        self.config = config or name

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        """Compress and decompress one image at one quality."""
        codec = self._make(point)
        x = torch.from_numpy(np.array(item.data)).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            data = codec.compress(x)
            if not isinstance(data, bytes | bytearray):
                raise NcodecError(f"{self.name}: compress() must return bytes, got {type(data).__name__}")
            y = codec.decompress(bytes(data))
        y = torch.as_tensor(y).detach().float().cpu()
        if y.ndim == 4:
            y = y[0]
        rec = (y.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
        if rec.shape != item.data.shape:
            raise NcodecError(f"{self.name}: reconstruction {rec.shape} differs from input {item.data.shape}")
        return len(data), rec


class AudioModelAdapter:
    """An ncodec audio codec over its quality ladder: ``compress`` of the item (its own rate and channels)
    into a complete ``.ncd`` file, ``decompress`` back."""

    media = "audio"
    point_label = "quality"
    point_integer = True

    def __init__(self, codec: Any, prior: str = "auto") -> None:
        self.codec, self.prior = codec, prior
        self.name = codec.name
        self.rate_points = list(range(codec.qualities))
        self.point_range = (0, codec.qualities - 1)
        self.config = f"ncodec:{codec.name}:{codec.digest.hex()[:16]}:ncd{FORMAT_VERSION}:{prior}"

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        if item.sample_rate is None:
            raise NcodecError(f"{item.id}: audio item without a sample rate")
        with torch.no_grad():
            data = self.codec.compress(
                item.data.T, int(point), sample_rate=item.sample_rate, prior=self.prior
            )
            y = self.codec.decompress(data)
        rec = y[0].numpy().T.astype(np.float32)
        if rec.shape != item.data.shape:
            raise NcodecError(f"{self.name}: reconstruction {rec.shape} differs from input {item.data.shape}")
        return len(data), rec


class VideoModelAdapter:
    """An ncodec video codec over its quality ladder at one intra period: ``compress`` of the item's
    frames (its frame rate) into a complete ``.ncd`` file, ``decompress`` back."""

    media = "video"
    point_label = "quality"
    point_integer = True

    def __init__(self, codec: Any, gop: int | None = None) -> None:
        from ncodec.codecs.video.codec import DEFAULT_GOP

        self.codec = codec
        self.gop = DEFAULT_GOP if gop is None else int(gop)
        self.name = codec.name if gop is None else f"{codec.name}@gop={self.gop}"
        self.rate_points = list(range(codec.qualities))
        self.point_range = (0, codec.qualities - 1)
        self.config = f"ncodec:{codec.name}:{codec.digest.hex()[:16]}:ncd{FORMAT_VERSION}:gop{self.gop}"

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        with torch.no_grad():
            data = self.codec.compress(item.data, int(point), gop=self.gop, fps=item.fps or 25.0)
            rec = self.codec.decompress(data)
        if rec.shape != item.data.shape:
            raise NcodecError(f"{self.name}: reconstruction {rec.shape} differs from input {item.data.shape}")
        return len(data), rec
