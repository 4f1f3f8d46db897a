#!/usr/bin/env python
"""Start a wider quality ladder from a trained image model: a training checkpoint with new lambdas.

    python scripts/extend_image_ladder.py image-hyperprior-v5 runs/image-v6/init.pt \
        --lmbda 0.0009 0.0018 0.0035 0.0067 0.013 0.025 0.0483 0.0932 0.18 0.36
    python scripts/train_image.py --init-from runs/image-v6/init.pt --lmbda ... --out runs/image-v6

Every weight is copied; the gain units of lambdas the model was trained on are copied too, and those of
new lambdas are extrapolated per channel along the log-gain / log-lambda line of the trained ladder
(gain units scale like sqrt(lambda) at initialisation).  The transforms are not trained for the new
rates: the result saturates until it is trained (see docs/results/README.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import torch

import ncodec
from ncodec.codecs.image.models import build_model
from ncodec.codecs.train import CDF_SUFFIXES


def extend_gains(old: torch.Tensor, old_lams: list[float], new_lams: list[float]) -> torch.Tensor:
    """Log-gains ``(Q_new, C)``: copied where a lambda is in ``old_lams``, else extrapolated."""
    la = torch.log(torch.tensor(old_lams, dtype=torch.float64))
    slope = (old[-1] - old[0]).double() / (la[-1] - la[0])
    rows = []
    for lam in new_lams:
        match = [i for i, v in enumerate(old_lams) if math.isclose(v, lam, rel_tol=1e-6)]
        if match:
            rows.append(old[match[0]].double())
        else:
            ref = 0 if lam < old_lams[0] else len(old_lams) - 1
            rows.append(old[ref].double() + slope * (math.log(lam) - la[ref]))
    return torch.stack(rows).float()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a shipped model name or weights file")
    ap.add_argument("out", help="the checkpoint to write (for train_image.py --init-from)")
    ap.add_argument("--lmbda", type=float, nargs="+", required=True, help="the new ladder's lambdas")
    args = ap.parse_args(argv)
    lams = sorted(args.lmbda)
    src = ncodec.load(args.model).model
    cfg = replace(src.cfg, lambdas=tuple(lams))
    dst = build_model(cfg)
    keep = lambda k: not k.startswith("gains.") and not k.endswith(CDF_SUFFIXES)  # noqa: E731
    state = {k: v for k, v in src.state_dict().items() if keep(k)}
    missing, unexpected = dst.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("gains.") and not k.endswith(CDF_SUFFIXES) for k in missing):
        raise SystemExit(f"weights do not fit: missing {missing[:4]}, unexpected {unexpected[:4]}")
    old = list(src.cfg.lambdas)
    with torch.no_grad():
        dst.gains.log_gain.copy_(extend_gains(src.gains.log_gain.detach(), old, lams))
        dst.gains.log_inv_gain.copy_(extend_gains(src.gains.log_inv_gain.detach(), old, lams))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": dst.state_dict(), "config": cfg.to_dict()}, args.out)
    new = [f"{v:g}" for v in lams if not any(math.isclose(v, o, rel_tol=1e-6) for o in old)]
    print(f"wrote {args.out}: {len(lams)} qualities ({len(new)} new: {', '.join(new)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
