"""The layers contract: dependencies inside ``src/ncodec`` run one way, and media do not import each
other.  Every import statement counts, module-level or inside a function (a function-local import
does not make a dependency go away, it only hides it).

    cli → rd → codecs → container → entropy → quantizers → kernels → datasets → metrics → io → errors

A subpackage may import itself and anything below it, never above.  Inside ``codecs``, the shared core
(``codecs/*.py``) imports no medium (``codecs/__init__.py`` may, to register them, and so may the
modules kept at former paths, which only re-export), and a medium imports no other medium except
video, which builds its intra coder on the image codec.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = ["cli", "rd", "codecs", "container", "entropy", "quantizers", "kernels", "datasets", "metrics",
          "io", "errors"]  # fmt: skip
MEDIA = ("image", "audio", "video")
MEDIA_MAY_IMPORT = {("video", "image")}


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """Every ``ncodec.…`` module ``path`` imports (relative imports resolved, ``from ncodec import x``
    as ``ncodec.x``), with its line."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base == "ncodec":  # ``from ncodec import kernels``: a subpackage; ``__version__``: the root
                out += [
                    (f"ncodec.{a.name}" if a.name in LAYERS else "ncodec", node.lineno) for a in node.names
                ]
            else:
                out.append((base, node.lineno))
    return [(m, line) for m, line in out if m == "ncodec" or m.startswith("ncodec.")]


def _modules():
    for path in sorted((SRC / "ncodec").rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
        yield path, ".".join(parts)


def _reexport_only(path: Path) -> bool:
    """A module kept at a former path: nothing but a docstring and imports (``from new.place import *``)."""
    body = ast.parse(path.read_text()).body
    return all(
        isinstance(n, ast.Import | ast.ImportFrom)
        or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        for n in body
    )


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _medium(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "codecs" and parts[2] in MEDIA else None


def violations() -> list[str]:
    bad = []
    for path, module in _modules():
        src_unit, src_medium = _unit(module), _medium(module)
        shim = _reexport_only(path)
        for target, line in _imports(path, module):
            dst_unit = _unit(target)
            where = f"{path.relative_to(SRC)}:{line} imports {target}"
            if src_unit is None or dst_unit is None or src_unit == dst_unit:
                if src_unit == dst_unit == "codecs":
                    dst_medium = _medium(target)
                    if dst_medium and src_medium is None and module != "ncodec.codecs" and not shim:
                        bad.append(f"{where}: the codec core imports a medium")
                    elif dst_medium and src_medium and dst_medium != src_medium:
                        if (src_medium, dst_medium) not in MEDIA_MAY_IMPORT:
                            bad.append(f"{where}: medium {src_medium} imports medium {dst_medium}")
                continue
            if src_unit not in LAYERS or dst_unit not in LAYERS:
                bad.append(f"{where}: {src_unit if src_unit not in LAYERS else dst_unit} has no layer")
            elif LAYERS.index(dst_unit) < LAYERS.index(src_unit):
                bad.append(f"{where}: {src_unit} is below {dst_unit}")
    return bad


def test_dependencies_run_one_way() -> None:
    assert violations() == []


def test_the_check_sees_function_local_and_relative_imports(tmp_path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from ..rd import harness\n    from ncodec import cli\n")
    assert [m for m, _ in _imports(f, "ncodec.codecs.m")] == ["ncodec.rd", "ncodec.cli"]


if __name__ == "__main__":  # python tests/test_layers.py: print the violations, exit 1 if any
    import sys

    found = violations()
    print("\n".join(found) or "layers contract holds")
    sys.exit(1 if found else 0)
