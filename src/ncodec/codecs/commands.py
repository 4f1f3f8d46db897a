"""``ncodec encode``, ``ncodec decode`` and ``ncodec models`` for images."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from ncodec.errors import MediaError, NcodecError


def _cmd_encode(args: argparse.Namespace) -> int:
    from ncodec.codecs.image_io import read_image, write_atomic
    from ncodec.codecs.registry import default_model, load

    out = Path(args.output)
    if out.exists() and not args.force:  # checked before any work, and again at the atomic write
        raise MediaError(f"{out} exists (use --force to overwrite)")
    x, channels = read_image(args.input)
    model = args.model or default_model()
    if model is None:
        raise NcodecError("no image model is shipped yet: pass --model WEIGHTS.safetensors")
    codec = load(model)
    quality = codec.qualities - 1 if args.quality is None else args.quality
    if not 0 <= quality < codec.qualities:
        raise NcodecError(f"--quality must be in 0..{codec.qualities - 1} for {codec.name}")
    if args.refine < 0:
        raise NcodecError(f"--refine must be >= 0 steps, got {args.refine}")
    t0 = time.perf_counter()
    if args.prior is not None:
        if not hasattr(codec, "priors"):
            raise NcodecError(
                f"{codec.name} codes its latents with its hyperprior; --prior is for FSQ/RVQ models"
            )
        data = codec.compress(x, quality, prior=args.prior, channels=channels)
    elif args.refine:
        if hasattr(codec, "priors"):
            raise NcodecError(f"--refine is for hyperprior models; {codec.name} is a token model")
        data = codec.compress(x, quality, channels=channels, refine=args.refine)
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


def _cmd_demo(args: argparse.Namespace) -> int:
    from ncodec.codecs.image_io import read_image, to_pil, write_atomic
    from ncodec.codecs.registry import default_model, load
    from ncodec.quantizers.commands import quantizer_demo, sample_photo

    model = args.model or default_model()
    if args.quantizers or model is None:
        if model is None and not args.quantizers:
            print("(no image model is shipped yet: showing the quantizers; pass --model FILE for the codec)")
        return quantizer_demo(args)
    src = Path(args.image) if args.image else sample_photo()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ncd, png = out / (src.stem + ".ncd"), out / (src.stem + ".decoded.png")
    for p in (ncd, png):
        if p.exists() and not args.force:
            raise MediaError(f"{p} exists (use --force to overwrite)")
    x, channels = read_image(src)
    codec = load(model)
    quality = codec.qualities - 1 if args.quality is None else args.quality
    t0 = time.perf_counter()
    data = codec.compress(x, quality, channels=channels)
    t1 = time.perf_counter()
    rec = codec.decompress(data)[0]
    t2 = time.perf_counter()
    write_atomic(ncd, data, force=args.force)
    write_atomic(png, image=to_pil(rec, channels), force=args.force)
    h, w = x.shape[1:]
    mse = float(((rec * 255).round() / 255 - x).pow(2).mean())
    psnr = 10 * math.log10(1 / max(mse, 1e-12))
    print(f"{src.name} ({w}x{h}) -> {ncd} ({len(data)} bytes, {8 * len(data) / (h * w):.3f} bpp) -> {png}")
    print(
        f"PSNR {psnr:.2f} dB, {codec.name} quality {quality}, encode {t1 - t0:.2f} s, decode {t2 - t1:.2f} s"
    )
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from ncodec.codecs.registry import available_models, default_model, model_card

    models = available_models()
    if args.names:
        print("\n".join(models))
        return 0
    if not models:
        print("no models shipped yet (train one with scripts/train_image.py; load it with --model FILE)")
        return 0
    for name, path in models.items():
        meta = model_card(path)
        card = meta.get("card", {})
        print(f"{name}{' (default)' if name == default_model() else ''}: {card.get('summary', '')}")
        cfg = meta["config"]
        line = f"  {cfg.get('bottleneck')}, {len(cfg.get('lambdas', []))} qualities"
        if "parameters" in card:
            line += f", {card['parameters'] / 1e6:.2f} M parameters"
        line += f", {path.stat().st_size / 1e6:.1f} MB"
        if "training_steps" in card:
            line += f", {card['training_steps']} training steps"
        print(line)
        rd = card.get("rd_eval")
        if rd:
            pts = rd["points"]
            bd = rd.get("bd_rate_percent_vs", {})
            vs = ", ".join(
                f"{v['psnr']:+.1f}% vs {c}" for c, v in bd.items() if v and v.get("psnr") is not None
            )
            print(
                f"  eval ({rd['items']} photos 768x512): {pts[0]['bpp']:.2f}-{pts[-1]['bpp']:.2f} bpp, "
                f"{pts[0]['psnr']:.1f}-{pts[-1]['psnr']:.1f} dB PSNR; BD-rate (PSNR) {vs}"
            )
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
    p.add_argument(
        "--refine", type=int, default=0, metavar="STEPS",
        help="hyperprior models: optimise the latents for STEPS steps (about 1 s each for 768x512 on "
        "one core): fewer bits at the same quality, same decoder",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=_cmd_encode)
    p = sub.add_parser("decode", help="decode a .ncd file to an image (format from the output's extension)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--model", help="weights to decode with (default: the model the file names)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=_cmd_decode)
    p = sub.add_parser("demo", help="the bundled sample photo -> .ncd -> PNG, with bpp and PSNR")
    p.add_argument("--model", help="shipped model name or weights file (default: the default shipped model)")
    p.add_argument("--quality", type=int, help="rate point (default: highest)")
    p.add_argument("--image", help="an image file instead of the bundled sample")
    p.add_argument("--out", default="ncodec-demo", help="folder for the .ncd and the decoded PNG")
    p.add_argument("--force", action="store_true", help="overwrite earlier demo outputs")
    p.add_argument(
        "--quantizers", action="store_true", help="show the quantizers on the photo's patches instead"
    )
    p.add_argument("--steps", type=int, default=8, help="--quantizers: training updates per quantizer")
    p.add_argument("--json", help="--quantizers: also write the results table as JSON to this path")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("models", help="list the shipped models")
    p.add_argument("--names", action="store_true", help="only the names, one per line")
    p.set_defaults(func=_cmd_models)
