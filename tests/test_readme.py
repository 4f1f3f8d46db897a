"""The README's Python examples run as written (in order, sharing one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)


def test_readme_shell_examples_run(tmp_path, monkeypatch) -> None:
    """The README's ``ncodec …`` shell lines that need no fetched data, no placeholder and no minutes of
    encoder refinement run as written (in order) on a photo.jpg and the repository's golden files."""
    import shlex

    from PIL import Image

    from ncodec.cli import main
    from ncodec.io import sample_photo

    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.splitlines():
            for cmd in line.split("&&"):
                cmd = cmd.split("#")[0].strip()
                skip = ("~", "FILE", "--refine", "image-hyper.safetensors", "\\")
                if cmd.startswith("ncodec ") and not any(s in cmd for s in skip):
                    lines.append(cmd)
    assert len(lines) >= 7, lines
    Image.open(sample_photo()).convert("RGB").save(tmp_path / "photo.jpg", quality=95)
    import shutil

    from ncodec.io.samples import sample_speech

    shutil.copy(sample_speech(), tmp_path / "speech.flac")
    shutil.copy(README.parent / "tests" / "data" / "video_bikes_16f.mp4", tmp_path / "clip.mp4")
    (tmp_path / "tests").symlink_to(README.parent / "tests")
    monkeypatch.chdir(tmp_path)
    for cmd in lines:
        assert main(shlex.split(cmd)[1:]) == 0, cmd
    assert (tmp_path / "photo.png").is_file() and (tmp_path / "ncodec-demo").is_dir()
