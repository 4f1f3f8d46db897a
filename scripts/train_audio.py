#!/usr/bin/env python
"""Train an audio token model (speech or music) on DATA.md's training audio.

    python scripts/fetch_data.py --split train --category speech,music
    python scripts/train_audio.py --bottleneck rvq --category speech --steps 8000 --out runs/speech-rvq
    torchrun --nproc-per-node 8 scripts/train_audio.py ...      # several GPUs, each drawing its batches

Running the same command again resumes from ``OUT/last.pt``.  Held-out metrics (PESQ-WB and DAC's mel
distance at a few stage counts) are logged to ``OUT/log.jsonl`` at every checkpoint.
"""

from __future__ import annotations

import argparse
import sys

from ncodec.codecs.audio.models import AudioModelConfig
from ncodec.codecs.audio.train import AudioTrainConfig, build_cache, train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bottleneck", choices=("rvq", "rfsq"), default="rvq")
    ap.add_argument("--category", choices=("speech", "music"), default="speech")
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--n-q", type=int, default=16)
    ap.add_argument("--ladder", default="3,4,6,8,10,12,16")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--init-from", default="")
    ap.add_argument("--data-root", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--prepare-only", action="store_true", help="build the sample cache and stop")
    a = ap.parse_args(argv)
    if a.prepare_only:
        tr, va = build_cache(a.category, a.sample_rate, a.data_root or None)
        print(f"{len(tr)} training clips, {len(va)} held out")
        return 0
    model = AudioModelConfig(
        bottleneck=a.bottleneck, sample_rate=a.sample_rate, n_q=a.n_q,
        ladder=tuple(int(v) for v in a.ladder.split(",")),
        channels="mono" if a.category == "speech" else "stereo",
    )  # fmt: skip
    cfg = AudioTrainConfig(
        model=model, category=a.category, data_root=a.data_root,
        out_dir=a.out or f"runs/{a.category}-{a.bottleneck}",
        steps=a.steps, batch=a.batch, seconds=a.seconds, lr=a.lr, threads=a.threads, device=a.device,
        init_from=a.init_from, ckpt_every=a.ckpt_every,
    )  # fmt: skip
    train(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
