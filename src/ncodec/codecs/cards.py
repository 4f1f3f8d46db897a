"""Model cards: the description a weights file carries in its metadata (recipe, data, steps,
parameters, RD points on the evaluation set) and how ``ncodec models`` shows it.

The RD part of a card (``rd_eval``) is computed from an ``ncodec bench rd`` run by
:func:`ncodec.rd.cards.rd_summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

#: Training settings worth keeping in a card, when the run's configuration has them.
RECIPE_KEYS = ("batch", "crop", "lr", "aux_lr", "lr_drop_at", "clip", "seed")
#: What the evaluation items of each medium are called in ``ncodec models``.
ITEM_NOUN = {"image": "photos 768x512", "audio": "clips", "video": "clips"}


def training_card(
    card: dict[str, Any], checkpoint: dict[str, Any], model: torch.nn.Module, model_config: dict[str, Any]
) -> dict[str, Any]:
    """``card`` completed from a training checkpoint: steps, recipe, data count, parameters, model."""
    card = dict(card)
    tc = checkpoint["config"]
    card.setdefault("training_steps", int(checkpoint["step"]))
    card.setdefault(
        "training_recipe", {k: tc[k] for k in RECIPE_KEYS if k in tc} | {"images": len(tc.get("images", []))}
    )
    card.setdefault("parameters", sum(p.numel() for p in model.parameters()))
    card.setdefault("model", {k: v for k, v in model_config.items() if k != "extra"})
    return card


def describe_model(name: str, path: Path, meta: dict[str, Any], default: bool = False) -> list[str]:
    """The lines ``ncodec models`` prints for one shipped model."""
    card = meta.get("card", {})
    cfg = meta["config"]
    lines = [f"{name}{' (default)' if default else ''}: {card.get('summary', '')}"]
    qualities = len(
        cfg.get("lambdas")
        or cfg.get("ladder")
        or cfg.get("rungs")
        or (cfg.get("inter") or {}).get("lambdas")
        or []
    )
    line = f"  {cfg.get('bottleneck')}, {qualities} qualities"
    if "parameters" in card:
        line += f", {card['parameters'] / 1e6:.2f} M parameters"
    line += f", {path.stat().st_size / 1e6:.1f} MB"
    if cfg.get("base"):  # a derived model: its networks are the base model's
        line += f" (plus {cfg['base']}'s weights)"
    if cfg.get("parts"):  # a quality ladder: its rungs are other models' qualities
        line += f" (rungs of {', '.join(str(p.get('model')) for p in cfg['parts'])})"
    if "training_steps" in card:
        line += f", {card['training_steps']} training steps"
    lines.append(line)
    rd = card.get("rd_eval")
    if rd and cfg.get("media") == "audio":
        pts = rd["points"]
        bd = rd.get("bd_rate_percent_vs", {})
        vs = ", ".join(
            f"{v['mel_distance']:+.1f}% vs {c}"
            for c, v in bd.items()
            if v and v.get("mel_distance") is not None
        )
        pesq = [p["pesq"] for p in pts if p.get("pesq") is not None]
        lines.append(
            f"  eval ({rd['items']} clips): {pts[0]['kbps']:.2f}-{pts[-1]['kbps']:.2f} kbps, mel distance "
            f"{pts[0]['mel_distance']:.2f}-{pts[-1]['mel_distance']:.2f}"
            + (f", PESQ {pesq[0]:.2f}-{pesq[-1]:.2f}" if pesq else "")
            + (f"; BD-rate (mel) {vs}" if vs else "")
        )
    elif rd:
        pts = rd["points"]
        bd = rd.get("bd_rate_percent_vs", {})
        vs = ", ".join(f"{v['psnr']:+.1f}% vs {c}" for c, v in bd.items() if v and v.get("psnr") is not None)
        noun = ITEM_NOUN.get(str(cfg.get("media", "image")), "items")
        lines.append(
            f"  eval ({rd['items']} {noun}): {pts[0]['bpp']:.2f}-{pts[-1]['bpp']:.2f} bpp, "
            f"{pts[0]['psnr']:.1f}-{pts[-1]['psnr']:.1f} dB PSNR; BD-rate (PSNR) {vs}"
        )
    return lines
