"""The ``ncodec`` command line: help, version, the demo on the bundled photo, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ncodec.cli import main


def test_help_and_version(capsys) -> None:
    import ncodec

    assert main([]) == 2
    assert "encode" in capsys.readouterr().out  # the help lists the commands
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"ncodec {ncodec.__version__}" and ncodec.__version__ == "0.1.0"


def test_demo_on_bundled_photo(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo.json"
    assert main(["demo", "--quantizers", "--steps", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    by = {r["quantizer"]: r for r in rows}
    vq = by["VQ K=1024 (k-means+EMA)"]
    assert vq["bpp_fixed_length"] == 10 / 16 and vq["psnr_db"] > 25
    # more RVQ stages: more bits, higher PSNR
    p = [by[f"RVQ 4x256, n_q={n}"]["psnr_db"] for n in (1, 2, 4)]
    assert p[0] < p[1] < p[2]
    assert by["RVQ 4x256, n_q=4, beam 4"]["psnr_db"] >= p[2] - 1e-6
    assert "PSNR" in capsys.readouterr().out


def test_demo_bad_image_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"this is not a PNG")
    proc = subprocess.run(
        [sys.executable, "-m", "ncodec.cli", "demo", "--quantizers", "--image", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "cannot read image" in proc.stderr and "Traceback" not in proc.stderr
