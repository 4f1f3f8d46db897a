"""Real media for training and evaluation: fetching (``fetch``), manifests, readers and torch Datasets.

Training: :class:`ImageCrops`, :class:`AudioSegments`, :class:`VideoClips`, :class:`SyntheticCameraClips`.
Evaluation: :class:`KodakLikeImages`, :class:`AudioExcerpts`, ``VideoClips(random_start=False)``.
Data folder: ``$NCODEC_DATA`` (default ``~/.cache/ncodec/data``); see ``scripts/fetch_data.py``.
"""

from ncodec.datasets.audio import AudioExcerpts, AudioSegments, apply_channel_policy, normalize_loudness
from ncodec.datasets.images import ImageCrops, KodakLikeImages
from ncodec.datasets.manifest import load_manifest, manifest_paths
from ncodec.datasets.sources import SOURCES, data_root, manifest_path
from ncodec.datasets.video import SyntheticCameraClips, VideoClips
from ncodec.io.media import load_audio, load_image, load_video, probe_audio, probe_video

__all__ = [
    "SOURCES",
    "AudioExcerpts",
    "AudioSegments",
    "ImageCrops",
    "KodakLikeImages",
    "SyntheticCameraClips",
    "VideoClips",
    "apply_channel_policy",
    "data_root",
    "load_audio",
    "load_image",
    "load_manifest",
    "load_video",
    "manifest_path",
    "manifest_paths",
    "normalize_loudness",
    "probe_audio",
    "probe_video",
]
