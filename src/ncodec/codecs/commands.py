"""``ncodec encode``, ``ncodec decode`` and ``ncodec models`` for images."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ncodec.errors import MediaError, NcodecError


def _cmd_encode(args: argparse.Namespace) -> int:
    from ncodec.codecs.image_io import read_image, write_atomic
    from ncodec.codecs.registry import available_models, load

    out = Path(args.output)
    if out.exists() and not args.force:  # checked before any work, and again at the atomic write
        raise MediaError(f"{out} exists (use --force to overwrite)")
    x, channels = read_image(args.input)
    model = args.model or next(iter(available_models()), None)
    if model is None:
        raise NcodecError("no image model is shipped yet: pass --model WEIGHTS.safetensors")
    codec = load(model)
    quality = codec.qualities - 1 if args.quality is None else args.quality
    if not 0 <= quality < codec.qualities:
        raise NcodecError(f"--quality must be in 0..{codec.qualities - 1} for {codec.name}")
    t0 = time.perf_counter()
    if args.prior is not None:
        if not hasattr(codec, "priors"):
            raise NcodecError(
                f"{codec.name} codes its latents with its hyperprior; --prior is for FSQ/RVQ models"
            )
        data = codec.compress(x, quality, prior=args.prior, channels=channels)
    else:
        data = codec.compress(x, quality, channels=channels)
    write_atomic(out, data, force=args.force)
    h, w = x.shape[1:]
    print(
        f"{args.input} -> {out}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
        f"({w}x{h}, {codec.name}, quality {quality}, {time.perf_counter() - t0:.2f} s)"
    )
    return 0


def _cmd_decode(args: argparse.Namespace) -> int:
    from ncodec.codecs.image_io import to_pil, write_atomic
    from ncodec.codecs.registry import load
    from ncodec.container import parse

    out = Path(args.output)
    if out.exists() and not args.force:
        raise MediaError(f"{out} exists (use --force to overwrite)")
    try:
        data = Path(args.input).read_bytes()
    except OSError as exc:
        raise MediaError(f"{args.input}: cannot read ({exc})") from exc
    header = parse(data, strict=True).header
    if header.media.kind != "image":
        raise NcodecError(f"{args.input}: holds {header.media.kind} tokens, not an image")
    codec = load(args.model or header.codec)
    t0 = time.perf_counter()
    x = codec.decompress(data)
    write_atomic(out, image=to_pil(x[0], header.media.channels or 3), force=args.force)
    print(
        f"{args.input} -> {out}: {x.shape[3]}x{x.shape[2]} ({codec.name}, {time.perf_counter() - t0:.2f} s)"
    )
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from ncodec.codecs.registry import available_models, model_card

    models = available_models()
    if not models:
        print("no models shipped yet (train one with scripts/train_image.py; load it with --model FILE)")
        return 0
    for name, path in models.items():
        card = model_card(path).get("card", {})
        print(f"{name}: {card.get('summary', '')} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="encode an image file to .ncd")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--model", help="shipped model name or a weights .safetensors file")
    p.add_argument("--quality", type=int, help="rate point of the model's quality ladder (default: highest)")
    p.add_argument(
        "--prior", choices=["static", "adaptive"], help="FSQ/RVQ models: token prior (default adaptive)"
    )
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=_cmd_encode)
    p = sub.add_parser("decode", help="decode a .ncd file to an image (format from the output's extension)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--model", help="weights to decode with (default: the model the file names)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=_cmd_decode)
    p = sub.add_parser("models", help="list the shipped models")
    p.set_defaults(func=_cmd_models)
