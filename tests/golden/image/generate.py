"""Regenerate the image-codec golden files (run from the repository root; only when the format or the
codecs change on purpose — the golden test exists to notice any other change):

    python tests/golden/image/generate.py             # the tiny test models
    python tests/golden/image/generate.py --shipped   # the shipped models' files
    python tests/golden/image/generate.py --reformat  # after a container format change: rewrite every
                                                      # .ncd from the committed weights and tokens

Two tiny models (a hyperprior and an FSQ model with fitted static priors) are trained for a few steps
on scikit-image's photos, so the weights are real but small; a 72x56 crop of a real photo is coded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import skimage
import torch
from PIL import Image

from ncodec.codecs.image.codec import ImageCodec, ImageTokens
from ncodec.codecs.image.models import ImageModelConfig
from ncodec.codecs.image.tokens import TokenImageCodec
from ncodec.codecs.image.train import CropPool, TrainConfig, train

HERE = Path(__file__).resolve().parent
SKDATA = Path(skimage.__file__).parent / "data"
PHOTOS = [str(SKDATA / n) for n in ("astronaut.png", "coffee.png", "chelsea.png")]


def _train(bottleneck: str, **model) -> torch.nn.Module:
    cfg = TrainConfig(
        model=ImageModelConfig(bottleneck=bottleneck, **model), images=PHOTOS, out_dir=tempfile.mkdtemp(),
        steps=30, batch=4, crop=64, lr=2e-3, ckpt_every=1000, log_every=1000, eval_crops=0, threads=1,
    )  # fmt: skip
    return train(cfg, log=lambda *_: None)


def main() -> None:
    torch.manual_seed(0)
    crop = CropPool(PHOTOS[1:2], 128, scales=(2,)).batch(1, torch.Generator().manual_seed(7))[0, :, :56, :72]
    img = (crop * 255).round().byte()
    Image.fromarray(img.permute(1, 2, 0).numpy()).save(HERE / "input.png")
    x = img.float() / 255

    hyper = ImageCodec(_train("hyperprior", n=16, m=24, nh=16), "golden-hyperprior")
    hyper.save(HERE / "golden-hyperprior.safetensors")
    t = hyper.encode(x, 3)
    (HERE / "hyperprior_q3.ncd").write_bytes(hyper.compress_tokens(t))
    np.savez(HERE / "hyperprior_q3.tokens.npz", z=t.z, y=t.y)

    fsq = TokenImageCodec(_train("fsq", n=16, m=12, fsq_levels=7), "golden-fsq")
    fsq.fit_priors(list(CropPool(PHOTOS[2:], 128, scales=(2,)).batch(4, torch.Generator().manual_seed(1))))
    fsq.save(HERE / "golden-fsq.safetensors")
    t = fsq.encode(x, 2)
    (HERE / "fsq_q2_adaptive.ncd").write_bytes(fsq.compress_tokens(t, "adaptive"))
    np.save(HERE / "fsq_q2.tokens.npy", t.tokens)
    print("wrote", sorted(p.name for p in HERE.iterdir()))


def shipped() -> None:
    """Golden files of every shipped model (``python tests/golden/image/generate.py --shipped``): the golden
    input coded at every quality, with its tokens; regenerate when a shipped model's weights change."""
    from ncodec.codecs.registry import available_models, load

    out = HERE / "shipped"
    out.mkdir(exist_ok=True)
    x = torch.from_numpy(np.asarray(Image.open(HERE / "input.png"))).permute(2, 0, 1).float() / 255
    for name in available_models("image"):  # audio and video goldens: their own generate.py
        codec = load(name)
        for q in range(codec.qualities):
            t = codec.encode(x, q)
            if isinstance(t, ImageTokens):  # hyperprior models and ladders over them
                (out / f"{name}_q{q}.ncd").write_bytes(codec.compress_tokens(t))
                np.savez(out / f"{name}_q{q}.tokens.npz", z=t.z, y=t.y)
            else:
                (out / f"{name}_q{q}.ncd").write_bytes(codec.compress_tokens(t, "adaptive"))
                np.savez(out / f"{name}_q{q}.tokens.npz", tokens=t.tokens)
    reconstructions()
    print("wrote", sorted(p.name for p in out.iterdir()))


def reconstructions() -> None:
    """The decoded image of every shipped golden file, as 8-bit PNG (``--reconstructions``): what the
    tests compare decoding with, to the measured thread-count drift (one level, rarely)."""
    from ncodec.codecs.registry import load

    torch.set_num_threads(1)
    for f in sorted((HERE / "shipped").glob("*.ncd")):
        codec = load(f.stem.rsplit("_q", 1)[0])
        rec = (codec.decompress(f.read_bytes())[0].clamp(0, 1) * 255).round().byte()
        Image.fromarray(rec.permute(1, 2, 0).numpy()).save(f.with_suffix(".decoded.png"))


def reformat() -> None:
    """Rewrite every committed .ncd from the committed weights and tokens (the tokens stay as they are)."""
    from ncodec.codecs.image.tokens import TokenImage
    from ncodec.codecs.registry import load

    hyper = ImageCodec.from_file(HERE / "golden-hyperprior.safetensors", "golden-hyperprior")
    t = np.load(HERE / "hyperprior_q3.tokens.npz")
    h, w = np.asarray(Image.open(HERE / "input.png")).shape[:2]
    (HERE / "hyperprior_q3.ncd").write_bytes(hyper.compress_tokens(ImageTokens(t["z"], t["y"], 3, h, w)))
    fsq = TokenImageCodec.from_file(HERE / "golden-fsq.safetensors", "golden-fsq")
    tok = TokenImage(np.load(HERE / "fsq_q2.tokens.npy"), 2, h, w)
    (HERE / "fsq_q2_adaptive.ncd").write_bytes(fsq.compress_tokens(tok, "adaptive"))
    for f in sorted((HERE / "shipped").glob("*.ncd")):
        name, q = f.stem.rsplit("_q", 1)
        codec, t = load(name), np.load(f.with_suffix(".tokens.npz"))
        if "z" in t:  # hyperprior models and ladders over them
            f.write_bytes(codec.compress_tokens(ImageTokens(t["z"], t["y"], int(q), h, w)))
        else:
            f.write_bytes(codec.compress_tokens(TokenImage(t["tokens"], int(q), h, w), "adaptive"))
    print("rewrote", len(list((HERE / "shipped").glob("*.ncd"))) + 2, "files")


if __name__ == "__main__":
    import sys

    {"--shipped": shipped, "--reformat": reformat, "--reconstructions": reconstructions}.get(
        " ".join(sys.argv[1:]), main
    )()
