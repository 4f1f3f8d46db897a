"""The image side of ``ncodec encode``, ``ncodec decode`` and ``ncodec demo``.

Registered by :mod:`ncodec.codecs.image` as the image medium's command-line handler; the shared
commands (:mod:`ncodec.codecs.commands`) pick it by the input's kind.  Networks are imported only when
a command runs, so ``ncodec --help`` and ``ncodec info`` stay fast.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from ncodec.codecs.registry import default_model, load
from ncodec.container import NcdHeader
from ncodec.errors import MediaError, NcodecError
from ncodec.io import read_image, sample_photo, save_image, to_pil, write_atomic
from ncodec.io.image import image_format


class ImageCommands:
    """``encode``/``decode``/``demo`` for image files."""

    media = "image"

    def add_encode_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--prior", choices=["static", "adaptive", "uniform", "auto"],
            help="token models: the token prior (images: default adaptive; audio: default auto, the "
            "static or the uniform tables, whichever codes the first chunk in fewer bytes)",
        )  # fmt: skip
        p.add_argument(
            "--refine", type=int, default=0, metavar="STEPS",
            help="hyperprior models: optimise the latents for STEPS steps (about 1 s each for 768x512 on "
            "one core): fewer bits at the same quality, same decoder",
        )  # fmt: skip

    def encode(self, args: argparse.Namespace, out: Path) -> int:
        x, channels = read_image(args.input)
        model = args.model or default_model("image")
        if model is None:
            raise NcodecError("no image model is shipped yet: pass --model WEIGHTS.safetensors")
        codec = load(model)
        quality = codec.default_quality if args.quality is None else args.quality
        if not 0 <= quality < codec.qualities:
            raise NcodecError(f"--quality must be in 0..{codec.qualities - 1} for {codec.name}")
        if args.refine < 0:
            raise NcodecError(f"--refine must be >= 0 steps, got {args.refine}")
        t0 = time.perf_counter()
        if args.prior == "auto":
            raise NcodecError("--prior auto is for audio files; image token models take static, "
                              "adaptive or uniform")  # fmt: skip
        if args.prior is not None:
            if "prior" not in codec.compress_options:
                raise NcodecError(
                    f"{codec.name} codes its latents with its hyperprior; --prior is for FSQ/RVQ models"
                )
            data = codec.compress(x, quality, prior=args.prior, channels=channels)
        elif args.refine:
            if "refine" not in codec.compress_options:
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

    def decode(self, args: argparse.Namespace, out: Path, data: bytes, header: NcdHeader) -> int:
        image_format(out)  # an output format Pillow cannot write is refused before decoding
        batch = header.sections[0].shape[0]
        if batch != 1:  # a file from codec.compress(batch): the CLI writes one image per file
            raise NcodecError(f"{args.input}: holds a batch of {batch} images; decode it with the Python API")
        codec = load(args.model) if args.model else load(header.codec, allow_path=False)
        t0 = time.perf_counter()
        x = codec.decompress(data)
        save_image(out, to_pil(x[0], header.media.channels or 3, consume=True), force=args.force)
        took = time.perf_counter() - t0
        print(f"{args.input} -> {out}: {x.shape[3]}x{x.shape[2]} ({codec.name}, {took:.2f} s)")
        return 0

    def demo(self, args: argparse.Namespace, model: str) -> int:
        src = Path(args.image) if args.image else sample_photo()
        out = Path(args.out)
        ncd, png = out / (src.stem + ".ncd"), out / (src.stem + ".decoded.png")
        for p in (ncd, png):
            if p.exists() and not args.force:
                raise MediaError(f"{p} exists (use --force to overwrite)")
        x, channels = read_image(src)
        codec = load(model)
        quality = codec.default_quality if args.quality is None else args.quality
        if not 0 <= quality < codec.qualities:
            raise NcodecError(f"--quality must be in 0..{codec.qualities - 1} for {codec.name}")
        out.mkdir(parents=True, exist_ok=True)  # only once everything checked out: no empty folder
        t0 = time.perf_counter()
        data = codec.compress(x, quality, channels=channels)
        t1 = time.perf_counter()
        rec = codec.decompress(data)[0]
        t2 = time.perf_counter()
        write_atomic(ncd, data, force=args.force)
        save_image(png, to_pil(rec, channels), force=args.force)
        h, w = x.shape[1:]
        mse = float(((rec * 255).round() / 255 - x).pow(2).mean())
        psnr = 10 * math.log10(1 / max(mse, 1e-12))
        bpp = 8 * len(data) / (h * w)
        print(f"{src.name} ({w}x{h}) -> {ncd} ({len(data)} bytes, {bpp:.3f} bpp) -> {png}")
        print(f"PSNR {psnr:.2f} dB, {codec.name} quality {quality}, encode {t1 - t0:.2f} s, "
              f"decode {t2 - t1:.2f} s")  # fmt: skip
        return 0
