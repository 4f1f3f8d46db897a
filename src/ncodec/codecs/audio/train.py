"""Training of the audio token models on the shared trainer (:mod:`ncodec.codecs.train`).

The training clips of a category (DATA.md's speech or music training sources, from the manifest) are
decoded once into a cache of int16 samples at the model's rate: mono mixdown for speech, each channel as
its own clip for music (the stereo policy of the codec), loudness normalised to -24 LUFS.  About 3 % of
the clips (chosen by their checksum) are held out as the validation split on which checkpoints are
judged; the evaluation sets of DATA.md are never read here.

The loss: a three-scale log-mel L1 (DAC's form) on the waveform, the MSE of the power-law compressed
complex spectrum and of the compressed magnitude in the decoder's own STFT grid (ESC's form; it trains
the phase), and the quantizer's commitment loss.  No discriminator.  Each step draws random segments
with a random gain; quantizer dropout picks the number of stages per item.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ncodec.codecs.audio.models import AudioModelConfig, AudioTokenModel
from ncodec.codecs.audio.nets import compress_mag, compress_spec
from ncodec.codecs.train import TrainerConfig, run_training
from ncodec.errors import MediaError

TARGET_LUFS = -24.0
VAL_MODULUS = 32  # a clip is held out when the first byte of its sha256 is divisible by this


@dataclass
class AudioTrainConfig(TrainerConfig):
    """An audio training run: the shared settings plus the model, the data and the loss weights."""

    model: AudioModelConfig = field(default_factory=AudioModelConfig)
    category: str = "speech"
    data_root: str = ""
    out_dir: str = "runs/audio"
    batch: int = 12
    seconds: float = 1.0
    gain_db: tuple[float, float] = (-12.0, 6.0)
    spec_weight: float = 1.0  # compressed complex spectrum (phase-sensitive: large weights shrink the output)
    mag_weight: float = 4.0  # compressed magnitude
    logmag_weight: float = 0.0  # L1 of the log10 magnitude per bin (well-conditioned at every level)
    mel_windows: tuple[int, ...] = (256, 512, 1024)
    mel_bands: tuple[int, ...] = (32, 64, 80)
    eval_items: int = 8
    eval_stages: tuple[int, ...] = (3, 6, 12)
    lr: float = 5e-4
    schedule: str = "cosine"
    ckpt_every: int = 250


def _normalise(x: np.ndarray, rate: int) -> np.ndarray:
    import torchaudio.functional as AF

    t = torch.from_numpy(x)[None]
    if x.shape[0] >= int(0.4 * rate):
        loud = float(AF.loudness(t, rate))
    else:
        loud = float("nan")
    if not math.isfinite(loud):  # too short for BS.1770: use the RMS level (≈ LUFS for speech)
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)
        loud = 20 * math.log10(rms) - 0.7
    y = x * (10.0 ** ((TARGET_LUFS - loud) / 20.0))
    peak = float(np.abs(y).max()) if y.size else 0.0
    return y * (0.99 / peak) if peak > 0.99 else y


def build_cache(
    category: str, sample_rate: int, root: str | None = None, log=print
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Training clips of ``category`` as int16 arrays at ``sample_rate``: ``(train, validation)``."""
    import torchaudio.functional as AF

    from ncodec.datasets import load_manifest
    from ncodec.datasets.sources import data_root
    from ncodec.io.media import load_audio

    base = data_root(root or None)
    cache = base / "cache" / f"{category}-{sample_rate}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            data, lens, val = z["data"], z["lens"], z["val"]
        clips = np.split(data, np.cumsum(lens)[:-1])
        return [c for c, v in zip(clips, val, strict=True) if not v], [
            c for c, v in zip(clips, val, strict=True) if v
        ]
    records = load_manifest("train", root or None, category=category)
    if not records:
        raise MediaError(f"no {category} training audio in the manifest")
    clips, val = [], []
    for i, r in enumerate(records):
        try:
            data, rate = load_audio(r["abspath"])
        except Exception as exc:
            log(f"skipping {r['path']}: {exc}")
            continue
        chans = [data.mean(axis=1)] if category == "speech" else [data[:, c] for c in range(data.shape[1])]
        held = int(hashlib.sha256(r["sha256"].encode()).digest()[0]) % VAL_MODULUS == 0
        for ch in chans:
            x = torch.from_numpy(np.ascontiguousarray(ch, dtype=np.float32))
            if rate != sample_rate:
                x = AF.resample(x, rate, sample_rate)
            y = _normalise(x.numpy(), sample_rate)
            clips.append(np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16))
            val.append(held)
        if i % 1000 == 0:
            log(f"cache {category}: {i}/{len(records)} files")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, data=np.concatenate(clips), lens=np.array([len(c) for c in clips]), val=np.array(val))
    tmp.replace(cache)
    return [c for c, v in zip(clips, val, strict=True) if not v], [
        c for c, v in zip(clips, val, strict=True) if v
    ]


class SegmentPool:
    """Random segments of the cached clips: a clip drawn in proportion to its length, a random start,
    zero padding after clips shorter than the segment, a random gain."""

    def __init__(self, clips: list[np.ndarray]) -> None:
        if not clips:
            raise MediaError("no training clips")
        self.data = torch.from_numpy(np.concatenate(clips))
        lens = torch.tensor([len(c) for c in clips], dtype=torch.float64)
        self.starts = torch.cumsum(lens, 0) - lens
        self.lens = lens
        self.weights = lens / lens.sum()

    def batch(self, n: int, length: int, gen: torch.Generator, gain_db: tuple[float, float]) -> torch.Tensor:
        out = torch.zeros(n, length)
        picks = torch.multinomial(self.weights, n, replacement=True, generator=gen)
        for i, k in enumerate(picks.tolist()):
            ln = int(self.lens[k])
            off = int(torch.randint(max(ln - length, 0) + 1, (), generator=gen))
            s = int(self.starts[k]) + off
            seg = self.data[s : s + min(length, ln - off)].float() / 32768.0
            out[i, : seg.shape[0]] = seg
        lo, hi = gain_db
        gain = 10 ** ((lo + (hi - lo) * torch.rand(n, 1, generator=gen)) / 20)
        return (out * gain).clamp(-1, 1)


class MelLoss(torch.nn.Module):
    """Multi-scale L1 of ``log10(max(mel, 1e-5))`` (DAC's mel loss at a few scales)."""

    def __init__(self, sample_rate: int, windows: tuple[int, ...], bands: tuple[int, ...]) -> None:
        super().__init__()
        import torchaudio

        self.mels = torch.nn.ModuleList(
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate, n_fft=w, hop_length=w // 4, n_mels=m, power=1.0,
                center=False, norm="slaney", mel_scale="slaney",
            )
            for w, m in zip(windows, bands, strict=True)
        )  # fmt: skip

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        total = y.new_zeros(())
        for t in self.mels:
            total = total + (t(y).clamp(min=1e-5).log10() - t(x).clamp(min=1e-5).log10()).abs().mean()
        return total


def _log_mag(s: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.log10(s.real.square() + s.imag.square() + 1e-4)


def pad_for_model(x: torch.Tensor, cfg: AudioModelConfig) -> torch.Tensor:
    """Append the decoder's look-ahead in zeros and round up to whole token frames."""
    tail = cfg.n_fft - cfg.hop
    n = x.shape[-1] + tail
    n = -(-n // cfg.frame_samples) * cfg.frame_samples
    return F.pad(x, (0, n - x.shape[-1]))


class AudioTask:
    """The audio :class:`ncodec.codecs.train.Task`."""

    def __init__(self, cfg: AudioTrainConfig, log=print) -> None:
        self.cfg, self.log = cfg, log
        self.length = int(round(cfg.seconds * cfg.model.sample_rate))
        self.length = -(-self.length // cfg.model.frame_samples) * cfg.model.frame_samples

    def build_model(self) -> AudioTokenModel:
        return AudioTokenModel(self.cfg.model)

    def setup(self, model: AudioTokenModel, device: torch.device) -> AudioTokenModel:
        c = self.cfg
        train, val = build_cache(c.category, c.model.sample_rate, c.data_root or None, self.log)
        self.pool = SegmentPool(train)
        long = [v for v in val if len(v) >= int(1.5 * c.model.sample_rate)]
        self.val = [v[: 4 * c.model.sample_rate] for v in (long or val)[: c.eval_items]]
        self.log(f"{len(train)} training clips ({sum(map(len, train)) / c.model.sample_rate / 3600:.2f} h), "
                 f"{len(val)} held out")  # fmt: skip
        self.mel = MelLoss(c.model.sample_rate, c.mel_windows, c.mel_bands).to(device)
        self.device = device
        return model

    def batch(self, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        return self.pool.batch(self.cfg.batch, self.length, gen, self.cfg.gain_db).to(device)

    def loss(self, net: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        m = self.cfg.model
        y, spec, qo = net(x)
        tail = m.n_fft - m.hop
        valid = x.shape[-1] - tail
        mel = self.mel(y[:, :valid], x[:, :valid])
        with torch.no_grad():
            target = net.encoder.stft(x)
        frames = spec.shape[-1] - tail // m.hop
        cs, ct = compress_spec(spec[..., :frames]), compress_spec(target[..., :frames])
        cplx = F.mse_loss(cs, ct)
        mag = F.mse_loss(compress_mag(spec[..., :frames]), compress_mag(target[..., :frames]))
        logmag = (_log_mag(spec[..., :frames]) - _log_mag(target[..., :frames])).abs().mean()
        c = self.cfg
        loss = mel + c.spec_weight * cplx + c.mag_weight * mag + c.logmag_weight * logmag + qo.loss
        logs = {"loss": float(loss.detach()), "mel": float(mel.detach()), "cplx": float(cplx.detach()),
                "mag": float(mag.detach()), "logmag": float(logmag.detach()),
                "vq": float(qo.loss.detach())}  # fmt: skip
        for k in ("perplexity", "dead_codes", "restarted_codes"):
            if k in qo.stats:
                logs[k] = float(qo.stats[k])
        return loss, logs

    @torch.no_grad()
    def evaluate(self, model: AudioTokenModel) -> dict[str, Any]:
        from ncodec.metrics.audio import mel_distance, pesq_available, pesq_wb

        m = self.cfg.model
        was = model.training
        model.eval()
        out: dict[str, Any] = {}
        for n in self.cfg.eval_stages:
            if n > m.n_q:
                continue
            pesqs, mels = [], []
            for v in self.val:
                x = torch.from_numpy(v.astype(np.float32) / 32768.0)[None].to(self.device)
                xp = pad_for_model(x, m)
                z = model.encoder(xp)
                tok = model.quantizer.quantize(z, n_q=n)
                y = model.decoder(model.quantizer.dequantize(tok))[:, : x.shape[-1]]
                a, b = x[0].cpu().numpy(), y[0].clamp(-1, 1).cpu().numpy()
                mels.append(mel_distance(a, b, m.sample_rate))
                if pesq_available() and m.sample_rate >= 16000:
                    pesqs.append(pesq_wb(a, b, m.sample_rate))
            out[f"mel@{n}"] = float(np.mean(mels))
            if pesqs:
                out[f"pesq@{n}"] = float(np.nanmean(pesqs))
        model.train(was)
        return out

    def describe_eval(self, metrics: dict[str, Any]) -> str:
        return " ".join(f"{k}={v:.3f}" for k, v in metrics.items())


def train(cfg: AudioTrainConfig, log=print) -> AudioTokenModel:
    config = {**asdict(cfg), "model": cfg.model.to_dict()}
    return run_training(cfg, AudioTask(cfg, log), json.loads(json.dumps(config)), log)


def load_checkpoint_model(path: str | Path) -> AudioTokenModel:
    """The model of a training checkpoint (``last.pt``) in eval mode."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    mc = AudioModelConfig(**state["config"]["model"])
    model = AudioTokenModel(mc)
    model.load_state_dict(state["model"])
    return model.eval()
