#!/usr/bin/env python
"""Rewrite the card of a weights file (safetensors metadata) without touching its tensors.

    python scripts/update_model_card.py src/ncodec/weights/image-fsq-v0.safetensors \\
        --rd docs/results/image_rd.json

``--rd`` replaces the card's ``rd_eval`` (points and BD-rates against every codec of an
``ncodec bench rd`` run); ``--card-file`` merges a JSON object into the card.  The tensors are written
back unchanged, so the weights digest, and every file coded with the model, stay valid (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ncodec.codecs.registry import load, rd_summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--rd", help="ncodec bench rd JSON whose points and BD-rates become the card's rd_eval")
    ap.add_argument("--rd-codec", help="the model's codec name in --rd (default: the model name)")
    ap.add_argument("--card-file", help="JSON object merged into the card")
    args = ap.parse_args(argv)
    path = Path(args.weights)
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata() or {})
    card = json.loads(meta.get("card", "{}"))
    if args.card_file:
        card.update(json.loads(Path(args.card_file).read_text()))
    name = meta.get("name", path.stem)
    if args.rd:
        card["rd_eval"] = rd_summary(json.loads(Path(args.rd).read_text()), args.rd_codec or name)
    digest = load(str(path)).digest
    meta["card"] = json.dumps(card)
    tmp = path.with_name(path.stem + ".tmp.safetensors")
    save_file(load_file(str(path)), str(tmp), metadata=meta)
    if load(str(tmp)).digest != digest:
        tmp.unlink()
        raise SystemExit(f"{path}: rewriting changed the weights digest; left unchanged")
    os.replace(tmp, path)
    print(f"updated the card of {path} ({name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
