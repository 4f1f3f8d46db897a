"""The Codec2 anchor: David Rowe's narrow-band speech codec (700–3200 bit/s) through Debian's
``c2enc``/``c2dec``.

The programs come from the ``codec2`` and ``libcodec2-1.0`` packages, fetched like the data
(``python scripts/fetch_data.py --tools`` puts them under ``$NCODEC_DATA/tools/codec2``), or from the
``PATH``.  An item is mixed to mono, resampled to 8 kHz, written as raw signed 16-bit samples, coded by
``c2enc MODE``, decoded by ``c2dec MODE``, resampled back to the item's rate and aligned (bounded lag
search, as the other audio anchors).  The rate is the size of ``c2enc``'s output (raw frames: the bit
rate exactly, no container).  When the programs are missing, using the anchor raises an error that says
how to fetch them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ncodec.errors import NcodecError
from ncodec.rd.anchors_audio import align
from ncodec.rd.codecs import Item, register_codec

#: kbps → the c2enc/c2dec mode name.
MODES = {0.7: "700C", 1.2: "1200", 1.3: "1300", 1.4: "1400", 1.6: "1600", 2.4: "2400", 3.2: "3200"}
POINTS = (0.7, 1.3, 1.6, 2.4, 3.2)


def codec2_tools() -> tuple[Path, Path, dict[str, str]] | None:
    """``(c2enc, c2dec, environment)`` or None when Codec2 is not available."""
    from ncodec.datasets.fetch import tools_dir

    base = tools_dir()
    enc, dec = base / "usr" / "bin" / "c2enc", base / "usr" / "bin" / "c2dec"
    env = dict(os.environ)
    if enc.is_file() and dec.is_file():
        libs = [str(p) for p in (base / "usr" / "lib").glob("*") if p.is_dir()]
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, env.get("LD_LIBRARY_PATH", "")]).rstrip(os.pathsep)
        return enc, dec, env
    e, d = shutil.which("c2enc"), shutil.which("c2dec")
    if e and d:
        return Path(e), Path(d), env
    return None


def _resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    if rate == target:
        return x.astype(np.float32)
    return AF.resample(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), rate, target).numpy()


class Codec2Anchor:
    """Codec2 at its bit rates (kbps points: 0.7 = mode 700C, 1.3, 1.6, 2.4, 3.2)."""

    name = "codec2"
    media = "audio"
    point_label = "kbps"
    rate_points = list(POINTS)
    point_range = (0.7, 3.2)
    point_integer = False

    def __init__(self) -> None:
        self.tools = codec2_tools()
        self.config = f"codec2-debian:{self.tools[0].stat().st_size if self.tools else 'missing'}"
        self.last_lag = 0

    def encode_decode(self, item: Item, point: float) -> tuple[int, np.ndarray]:
        if self.tools is None:
            raise NcodecError(
                "codec2: c2enc/c2dec not found; fetch them with: python scripts/fetch_data.py --tools"
            )
        mode = MODES.get(round(float(point), 1))
        if mode is None:
            raise NcodecError(f"codec2 has no {point} kbps mode (modes: {sorted(MODES)})")
        if item.sample_rate is None:
            raise NcodecError(f"{item.id}: audio item without a sample rate")
        enc, dec, env = self.tools
        mono = item.data.mean(axis=1)
        x8 = np.clip(np.round(_resample(mono, item.sample_rate, 8000) * 32767), -32768, 32767).astype("<i2")
        with tempfile.TemporaryDirectory(prefix="ncodec-codec2-") as tmp:
            raw, bit, out = Path(tmp) / "in.raw", Path(tmp) / "out.bit", Path(tmp) / "out.raw"
            raw.write_bytes(x8.tobytes())
            for cmd in ([str(enc), mode, str(raw), str(bit)], [str(dec), mode, str(bit), str(out)]):
                res = subprocess.run(cmd, env=env, capture_output=True, check=False)
                if res.returncode != 0:
                    raise NcodecError(
                        f"codec2 {mode} failed on {item.id}: {res.stderr.decode(errors='replace')[-200:]}"
                    )
            size = bit.stat().st_size
            y8 = np.frombuffer(out.read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
        y = _resample(y8, 8000, item.sample_rate)[:, None]
        y = np.repeat(y, item.data.shape[1], axis=1)
        rec, self.last_lag = align(item.data, y, max_lag=item.sample_rate // 20)
        return size, rec


register_codec("codec2", Codec2Anchor)
