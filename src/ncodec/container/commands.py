"""``ncodec info FILE [--json]``: what is in an .ncd file, and whether it is intact."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ncodec.container.ncd import NcdFile, NcdHeader, Section, parse, prior_for, read_file
from ncodec.entropy import coder
from ncodec.entropy.priors import PriorKind
from ncodec.errors import FormatError, NcodecError

#: Functions ``(header, data) -> description or None`` that decode a whole file with the model its header
#: names (registered by the codecs, which the container does not know); ``None``: not their file.
_MODEL_DECODERS: list[Callable[[NcdHeader, bytes], str | None]] = []


def register_model_decoder(fn: Callable[[NcdHeader, bytes], str | None]) -> None:
    """Let ``info --decode`` check sections whose tables come from a model (e.g. a hyperprior's)."""
    _MODEL_DECODERS.append(fn)


def _section_report(sec: Section) -> dict:
    return {
        "quantizer": sec.quantizer,
        "token_form": ["indices", "symbols"][sec.token_form],
        "alphabet": list(sec.alphabet),
        "token_shape": list(sec.shape),
        "tokens": sec.n_tokens,
        "chunk_length": sec.chunk_len,
        "prior": {
            "kind": PriorKind.NAMES[sec.prior_kind],
            "name": sec.prior_name,
            "digest": sec.prior_digest.hex(),
            "params": list(sec.prior_params),
        },
    }


def _report(nf: NcdFile, path: str) -> dict:
    h = nf.header
    m = h.media
    chunks = []
    total_payload = 0
    ok_tokens = 0
    for c in nf.chunks:
        sec = h.sections[c.section]
        shp = sec.shape
        n_tok = (sec.n_tokens // shp[2] * c.length) if len(shp) > 2 and shp[2] else sec.n_tokens
        payload = len(c.payload) if c.payload is not None else None
        if payload is not None and c.ok:
            total_payload += payload
            ok_tokens += n_tok
        chunks.append(
            {
                "number": c.number,
                "section": c.section,
                "start": c.start,
                "length": c.length,
                "offset": c.offset,
                "bytes": c.size,
                "tokens": n_tok,
                "bits_per_token": (8 * payload / n_tok) if payload is not None and n_tok else None,
                "crc": "ok" if c.ok else "bad",
                "error": c.error,
            }
        )
    return {
        "file": path,
        "format_version": h.version,
        "bytes": nf.size,
        "header_bytes": nf.header_size,
        "codec": h.codec,
        "weights_hash": h.weights_hash.hex(),
        "media": {
            "kind": m.kind,
            "width": m.width,
            "height": m.height,
            "channels": m.channels,
            "sample_rate": m.sample_rate,
            "frame_rate": list(m.frame_rate),
            "length": m.length,
            "padding": list(m.padding),
        },
        "sections": [_section_report(sec) for sec in h.sections],
        "tokens": h.n_tokens,
        "metadata": dict(h.extra),
        "chunks": chunks,
        "bits_per_token": 8 * nf.size / h.n_tokens if h.n_tokens else None,
        "payload_bits_per_token": 8 * total_payload / ok_tokens if ok_tokens else None,
        "errors": list(nf.errors),
        "ok": nf.ok,
    }


def _decode_check(nf: NcdFile, data: bytes) -> str:
    """Decode every chunk whose section's prior is self-contained; returns 'ok' or 'skipped (...)'."""
    skipped = []
    h = nf.header
    for i, sec in enumerate(h.sections):
        try:
            prior = prior_for(h, None, section=i)
        except FormatError as exc:
            skipped.append(f"section {i}: {exc}")
            continue
        for c in nf.chunks:
            if c.section != i or not c.ok:
                continue
            shape = sec.shape[:2] + ((c.length,) + sec.shape[3:] if len(sec.shape) > 2 else ())
            try:
                coder.decode(c.payload, prior, shape)
            except FormatError as exc:
                c.error = f"chunk {c.number} does not decode: {exc}"
    if skipped and nf.ok:  # the model's tables: decode the whole file with the model the header names
        for decode in _MODEL_DECODERS:
            try:
                done = decode(h, data)
            except NcodecError as exc:
                nf.errors.append(f"does not decode with {h.codec}: {exc}")
                return "failed"
            if done is not None:
                return f"ok ({done})"
    if skipped and len(skipped) == len(h.sections):
        return f"skipped ({'; '.join(skipped)})"
    return "ok" + (f", skipped {'; '.join(skipped)}" if skipped else "")


def _info(args: argparse.Namespace) -> int:
    data = read_file(args.file)
    nf = parse(data, strict=False)
    decoded = _decode_check(nf, data) if args.decode else "not checked (use --decode)"
    rep = _report(nf, str(args.file))
    rep["decode"] = decoded
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        m = rep["media"]
        print(
            f"{rep['file']}: .ncd v{rep['format_version']}, {rep['bytes']} bytes "
            f"({rep['header_bytes']} header)"
        )
        print(f"  codec       {rep['codec'] or '-'}  weights {rep['weights_hash'][:16]}")
        print(
            f"  media       {m['kind']} {m['width']}x{m['height']} ch={m['channels']} "
            f"rate={m['sample_rate']} "
            f"fps={m['frame_rate'][0]}/{m['frame_rate'][1]} length={m['length']} padding={m['padding']}"
        )
        if m["kind"] == "audio" and m["sample_rate"] > 0 and m["length"] > 0:
            secs = m["length"] / m["sample_rate"]
            fr = m["frame_rate"][0] / m["frame_rate"][1] if m["frame_rate"][1] else 0
            per_chunk = rep["sections"][0]["chunk_length"] / fr if fr and rep["sections"] else 0
            print(
                f"  audio       {secs:.3f} s, {m['sample_rate']} Hz, {m['channels']} ch, "
                f"{8 * rep['bytes'] / secs / 1000:.3f} kbps, {fr:g} token frames/s, "
                f"{len(rep['chunks'])} chunks of {per_chunk:g} s"
            )
        if m["kind"] == "video" and m["length"] > 0 and m["frame_rate"][0] > 0 and m["frame_rate"][1] > 0:
            fr = m["frame_rate"][0] / m["frame_rate"][1]
            secs = m["length"] / fr
            gop = rep["metadata"].get("gop", "?")
            gops = rep["sections"][0]["token_shape"][2] if rep["sections"] else "?"
            px = max(m["width"] * m["height"] * m["length"], 1)
            print(
                f"  video       {m['length']} frames, {m['width']}x{m['height']}, "
                f"{m['frame_rate'][0]}/{m['frame_rate'][1]} fps ({secs:.3f} s), {gops} GOPs of {gop}, "
                f"{8 * rep['bytes'] / secs / 1000:.1f} kbps, {8 * rep['bytes'] / px:.4f} bpp"
            )
        for i, sr in enumerate(rep["sections"]):
            tag = f"  [section {i}]" if len(rep["sections"]) > 1 else ""
            alphabet = sr["alphabet"] or "from the prior's tables"
            print(f"  quantizer   {sr['quantizer'] or '-'} ({sr['token_form']}), alphabet {alphabet}{tag}")
            print(f"  tokens      {sr['token_shape']} = {sr['tokens']}, chunks of {sr['chunk_length']}")
            p = sr["prior"]
            print(f"  prior       {p['kind']} {p['name']} params={p['params']} digest={p['digest'][:16]}")
        bpt = rep["bits_per_token"]
        print(
            f"  bits/token  {bpt:.4f} (file), {rep['payload_bits_per_token']:.4f} (payload, intact chunks)"
            if bpt is not None and rep["payload_bits_per_token"] is not None
            else "  bits/token  - (no tokens)"
        )
        print(f"  decode      {decoded}")
        print(f"  {'chunk':>5} {'offset':>10} {'bytes':>10} {'tokens':>10} {'bits/tok':>9}  crc")
        for c in rep["chunks"]:
            b = f"{c['bits_per_token']:.4f}" if c["bits_per_token"] is not None else "-"
            print(
                f"  {c['number']:>5} {c['offset']:>10} {c['bytes']:>10} {c['tokens']:>10} {b:>9}  {c['crc']}"
                + (f"  ({c['error']})" if c["error"] else "")
            )
        for e in rep["errors"]:
            print(f"  error: {e}")
    bad = [c["error"] for c in rep["chunks"] if c["error"]] + rep["errors"]
    if bad:
        print(
            f"ncodec info: error: {args.file}: {bad[0]}"
            + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""),
            file=sys.stderr,
        )
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``ncodec info``."""
    p = subparsers.add_parser(
        "info",
        help="show an .ncd file's header, chunks, bits per token and CRC status",
        description="Show what an .ncd file contains and check its CRCs; exit status 1 "
        "if a chunk or the index is damaged, 2 if the file cannot be read at all.",
    )
    p.add_argument("file", help="an .ncd file")
    p.add_argument("--json", action="store_true", help="print a JSON report instead of a table")
    p.add_argument(
        "--decode",
        action="store_true",
        help="also entropy-decode every chunk (with the shipped model the file names when its tables "
        "come from the model)",
    )
    p.set_defaults(func=_info)
