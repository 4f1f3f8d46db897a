"""``ncodec encode``, ``ncodec decode``, ``ncodec demo`` and ``ncodec models``, for every medium.

The kind of the input picks the handler a medium registered (:func:`ncodec.codecs.registry.register_media`):
the input file's suffix for ``encode`` (files of unknown suffix are tried as images), the ``.ncd``
header's media kind for ``decode``.  The shared part checks the output before any work; each handler
reads its media, runs its codec and writes the result atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ncodec.codecs.cards import describe_model
from ncodec.codecs.registry import (
    available_models,
    default_model,
    load,
    media_entry,
    model_card,
    registered_media,
)
from ncodec.container import NcdHeader, parse, read_file
from ncodec.container.commands import register_model_decoder
from ncodec.errors import MediaError, NcodecError
from ncodec.io import media_kind
from ncodec.quantizers.commands import quantizer_demo


def _decode_with_model(header: NcdHeader, data: bytes) -> str | None:
    """``ncodec info --decode`` for files whose tables come from a shipped model: decode the tokens."""
    entry = media_entry(header.media.kind)
    if entry is None or header.codec not in available_models():
        return None
    tokens = load(header.codec, allow_path=False).decompress_tokens(data)
    return f"all tokens decoded with {header.codec}" if tokens is not None else None


register_model_decoder(_decode_with_model)


def _handler(media: str, what: str):
    entry = media_entry(media)
    if entry is None or entry.commands is None:
        known = ", ".join(m for m in registered_media() if media_entry(m).commands is not None)
        raise NcodecError(f"{what}: no {media} codec is installed (media with codecs: {known})")
    return entry.commands


def _check_output(out: Path, force: bool) -> None:
    if out.exists() and not force:  # checked before any work, and again at the atomic write
        raise MediaError(f"{out} exists (use --force to overwrite)")


def _cmd_encode(args: argparse.Namespace) -> int:
    out = Path(args.output)
    _check_output(out, args.force)
    kind = media_kind(args.input) or "image"  # an unknown suffix: the image reader says what it is
    return _handler(kind, args.input).encode(args, out)


def _cmd_decode(args: argparse.Namespace) -> int:
    out = Path(args.output)
    _check_output(out, args.force)
    try:
        data = read_file(args.input)
    except OSError as exc:
        raise MediaError(f"{args.input}: cannot read ({exc})") from exc
    header = parse(data, strict=True).header
    kind = header.media.kind
    entry = media_entry(kind)
    if entry is None or entry.commands is None:
        raise NcodecError(f"{args.input}: holds {kind} tokens; no {kind} codec is installed")
    return entry.commands.decode(args, out, data, header)


def _model_media(model: str) -> str:
    from ncodec.codecs.registry import config_media, resolve

    _, path = resolve(model)
    return config_media(model_card(path)["config"])


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.quantizers:
        return quantizer_demo(args)
    if args.model:  # one model: the demo of its medium
        media = _model_media(args.model)
        return _handler(media, "demo").demo(args, args.model)
    runs = [(m, default_model(m)) for m in ("image", "audio") if default_model(m) is not None]
    if getattr(args, "image", None):
        runs = [r for r in runs if r[0] == "image"]
    elif getattr(args, "audio", None):
        runs = [r for r in runs if r[0] == "audio"]
    if not runs:
        print("(no model is shipped yet: showing the quantizers; pass --model FILE for the codec)")
        return quantizer_demo(args)
    for media, model in runs:
        status = _handler(media, "demo").demo(args, model)
        if status:
            return status
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    models = available_models()
    if args.names:
        print("\n".join(models))
        return 0
    if not models:
        print("no models shipped yet (train one with scripts/train_image.py; load it with --model FILE)")
        return 0
    defaults = {default_model(m) for m in registered_media()}
    for name, path in models.items():
        print("\n".join(describe_model(name, path, model_card(path), default=name in defaults)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="encode an image or audio file to .ncd (its kind picks the codec)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--model", help="shipped model name or a weights .safetensors file")
    p.add_argument("--quality", type=int, help="rate point of the model's quality ladder (default: highest)")
    for media in registered_media():
        commands = media_entry(media).commands
        if commands is not None:
            commands.add_encode_arguments(p)
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=_cmd_encode)
    p = sub.add_parser("decode", help="decode a .ncd file to an image or audio file (format: the suffix)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--model", help="weights to decode with (default: the model the file names)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    for media in registered_media():
        commands = media_entry(media).commands
        if commands is not None and hasattr(commands, "add_decode_arguments"):
            commands.add_decode_arguments(p)
    p.set_defaults(func=_cmd_decode)
    p = sub.add_parser("demo", help="the bundled photo and speech clip -> .ncd -> PNG/WAV, rate and quality")
    p.add_argument("--model", help="shipped model name or weights file (default: the default shipped model)")
    p.add_argument("--quality", type=int, help="rate point (default: highest)")
    p.add_argument("--image", help="an image file instead of the bundled sample")
    p.add_argument("--audio", help="an audio file instead of the bundled speech clip")
    p.add_argument("--bitrate", type=float, metavar="KBPS", help="audio: rate point at or below KBPS")
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

