"""The RD part of a model card: a model's points and its BD-rates from an ``ncodec bench rd`` run."""

from __future__ import annotations

from ncodec.errors import NcodecError
from ncodec.rd.harness import bd_table


def rd_summary(doc: dict, codec: str) -> dict:
    """A model card's ``rd_eval``: the model's points and its BD-rates against every other codec of an
    ``ncodec bench rd`` JSON document."""
    if codec not in doc["curves"]:
        raise NcodecError(f"{codec!r} is not in the RD results (curves: {', '.join(doc['curves'])})")
    media = doc.get("media", "image")
    keys = (
        ("point", "kbps", "pesq", "stoi", "mel_distance", "si_sdr")
        if media == "audio"
        else ("point", "bpp", "psnr", "ms_ssim_db", "psnr_y")
    )
    return {
        "input": doc["input"],
        "items": len(doc["items"]),
        "command": doc.get("command"),
        "points": [{k: p[k] for k in keys if k in p} for p in doc["curves"][codec]],
        # BD-rate (%) of the model against every other codec of the run, per metric
        "bd_rate_percent_vs": {
            other: bd_table({codec: doc["curves"][codec], other: doc["curves"][other]}, other, media)[codec]
            for other in doc["curves"]
            if other != codec
        },
    }
