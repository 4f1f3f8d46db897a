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
import shutil
import sys
import tempfile
from pathlib import Path

from ncodec.codecs.registry import load
from ncodec.codecs.weights import raw_metadata, rewrite_card
from ncodec.rd.cards import rd_summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--rd", help="ncodec bench rd JSON whose points and BD-rates become the card's rd_eval")
    ap.add_argument("--rd-codec", help="the model's codec name in --rd (default: the model name)")
    ap.add_argument("--card-file", help="JSON object merged into the card")
    args = ap.parse_args(argv)
    path = Path(args.weights)
    meta = raw_metadata(path)
    card = json.loads(meta.get("card", "{}"))
    if args.card_file:
        card.update(json.loads(Path(args.card_file).read_text()))
    name = meta.get("name", path.stem)
    if args.rd:
        card["rd_eval"] = rd_summary(json.loads(Path(args.rd).read_text()), args.rd_codec or name)
    digest = load(str(path)).digest
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # rewrite a copy, check it, then replace
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        rewrite_card(copy, card)
        if load(str(copy)).digest != digest:
            raise SystemExit(f"{path}: rewriting changed the weights digest; left unchanged")
        copy.replace(path)
    print(f"updated the card of {path} ({name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
