#!/usr/bin/env python
"""Export an audio training checkpoint as a shipped model: weights, fitted integer priors, card.

    python scripts/export_audio_model.py runs/speech-rvq/last.pt \
        src/ncodec/weights/audio-speech-rvq-v1.safetensors

The static per-stage tables are fitted on the token counts of training clips (the cache the training
used; never the evaluation set).  The card records the recipe from the checkpoint's configuration,
parameters, MACs per second of audio, the rate ladder and, with ``--rd JSON``, the RD points.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ncodec.codecs.audio.codec import AudioCodec
from ncodec.codecs.audio.train import build_cache, load_checkpoint_model


def macs_per_second(model) -> dict[str, float]:
    """Multiply-accumulates per second of audio of the encoder and the decoder (conv and linear layers)."""
    counts = {"encoder": 0, "decoder": 0}
    hooks = []
    for part in ("encoder", "decoder"):
        for m in getattr(model, part).modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear)):

                def hook(mod, inp, out, part=part):
                    if isinstance(mod, torch.nn.Conv1d):
                        k = mod.kernel_size[0] * mod.in_channels // mod.groups
                        counts[part] += out.numel() * k
                    else:
                        counts[part] += out.numel() * mod.in_features

                hooks.append(m.register_forward_hook(hook))
    sr = model.cfg.sample_rate
    x = torch.zeros(1, sr)
    with torch.no_grad():
        z = model.encoder(x)
        model.decoder(z)
    for h in hooks:
        h.remove()
    return {k: float(v) for k, v in counts.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--name", help="model name (default: the output's stem)")
    ap.add_argument("--clips", type=int, default=300, help="training clips the priors are fitted on")
    ap.add_argument("--rd", help="RD JSON (ncodec bench rd) whose points of this model go on the card")
    ap.add_argument("--note", default="", help="free text for the card")
    a = ap.parse_args(argv)
    state = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    model = load_checkpoint_model(a.checkpoint)
    name = a.name or Path(a.out).stem
    codec = AudioCodec(model, name)
    cfg = state["config"]
    train, _ = build_cache(cfg["category"], model.cfg.sample_rate, cfg.get("data_root") or None)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(train), size=min(a.clips, len(train)), replace=False)
    sr = model.cfg.sample_rate  # at most 20 s of each clip (music clips are whole tracks)
    codec.fit_priors_from(train[i][: 20 * sr].astype(np.float32) / 32768.0 for i in sorted(picks))
    macs = macs_per_second(model)
    mc = model.cfg
    if mc.bottleneck == "rvq":
        bottleneck = f"RVQ ({mc.codebook_size} codes per stage, EMA, k-means init, dead-code restart)"
    else:
        bottleneck = f"residual FSQ ({'x'.join(map(str, mc.levels))} levels per stage)"
    lo, hi = codec.nominal_kbps(0), codec.nominal_kbps(codec.qualities - 1)
    card = {
        "summary": (
            f"Causal STFT-domain {cfg['category']} codec ({mc.sample_rate // 1000} kHz, {mc.channels}): "
            f"ConvNeXt encoder on the compressed complex spectrum, {mc.n_q}-stage {bottleneck} with "
            f"quantizer dropout, iSTFT-head decoder; {len(mc.ladder)} rates {lo:g}-{hi:g} kbps nominal "
            f"from one network; {codec.latency_ms:g} ms algorithmic latency"
        ),
        "training_steps": int(state["step"]),
        "task": f"{cfg['category']} audio, {model.cfg.sample_rate} Hz, {model.cfg.channels}",
        "bottleneck": model.cfg.bottleneck,
        "recipe": {
            k: cfg[k]
            for k in (
                "steps",
                "batch",
                "seconds",
                "lr",
                "schedule",
                "spec_weight",
                "mag_weight",
                "mel_windows",
                "gain_db",
            )
            if k in cfg
        },  # fmt: skip
        "data": f"DATA.md {cfg['category']} training sources (manifest train split, minus the 1/32 held out)",
        "priors": f"static per-stage tables from {len(picks)} training clips (at most 20 s of each)",
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "macs_per_second": macs,
        "frame_rate_hz": codec.frame_rate,
        "latency_ms": codec.latency_ms,
        "ladder_kbps_nominal": [round(codec.nominal_kbps(q), 3) for q in range(codec.qualities)],
        "stages": list(model.cfg.ladder),
    }
    if a.note:
        card["note"] = a.note
    if a.rd:
        from ncodec.rd.cards import rd_summary

        card["rd_eval"] = rd_summary(json.loads(Path(a.rd).read_text()), name)
    # float16 storage (the codec loads it into float32): half the size, the model's values as shipped
    for t in list(model.parameters()) + list(model.buffers()):
        if t.dtype == torch.float32:
            t.data = t.data.half().float()
    codec = AudioCodec(model, name, codec.priors)
    codec.save(a.out, card=card)
    from ncodec.codecs.weights import load_tensors, raw_metadata, write_weights

    tensors = {k: v.half() if v.dtype == torch.float32 else v for k, v in load_tensors(a.out).items()}
    write_weights(a.out, tensors, raw_metadata(a.out))
    print(f"{a.out}: {name}, {card['parameters']} parameters, "
          f"{(macs['encoder'] + macs['decoder']) / 1e6:.0f} M MACs per second of audio")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
