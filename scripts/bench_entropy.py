#!/usr/bin/env python
"""Entropy-layer benchmark: rate overhead, throughput, adaptive-vs-static on real tokens.

    python scripts/bench_entropy.py [--json docs/results/bench_entropy.json] [--quick]

1. Bits written (whole .ncd file, container included, and payload only) vs the prior's ideal
   cross-entropy ``sum(24 - log2 f[x])`` for 10k / 100k / 1M tokens.
2. Throughput of ``ncodec.entropy.encode/decode`` with a K=1024 static table vs raw constriction on the
   same symbols (pre-built model, ``AnsCoder``), and vs compressai's ``EntropyBottleneck``
   (``compress``/``decompress``) on the same number of symbols.  Same process, same machine.
3. Bits saved by the adaptive context prior over the static prior on VQ tokens of real photos shipped
   with scikit-image (4x4 RGB patches, ncodec's VQ with k-means init; static prior fitted on the *other*
   photos' tokens, leave-one-out; adaptive prior starts from that static prior).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import constriction
import numpy as np
import torch

from ncodec.container import compress, decompress
from ncodec.entropy import (
    AdaptiveContextPrior,
    StaticPrior,
    UniformPrior,
    decode,
    encode,
    freqs_from_counts,
    ideal_bits,
)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _zipf_table(k: int, seed: int = 0) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    counts = (1e7 / np.arange(1, k + 1) ** 1.1).astype(np.int64)
    rng.shuffle(counts)
    return freqs_from_counts(counts), rng


def _sample(freqs: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(freqs)
    return np.searchsorted(cdf, rng.integers(0, cdf[-1], n), side="right").astype(np.int64)


# ------------------------------------------------------------------------------------------------ 1. rate


def bench_overhead(sizes: list[int]) -> list[dict]:
    freqs, rng = _zipf_table(1024)
    prior = StaticPrior([freqs])
    rows = []
    for n in sizes:
        x = _sample(freqs, n, rng).reshape(1, 1, n)
        ideal = ideal_bits(x, freqs)
        payload = 8 * len(encode(x, prior))
        chunk = 1 << 16
        data = compress(x, prior, codec="bench", chunk_len=min(n, chunk), weights_hash=bytes(32))
        assert np.array_equal(decompress(data, prior), x)
        rows.append(
            {
                "tokens": n,
                "chunks": -(-n // chunk),
                "ideal_bits": round(ideal, 1),
                "payload_bits": payload,
                "file_bits": 8 * len(data),
                "payload_overhead_pct": 100 * (payload / ideal - 1),
                "file_overhead_pct": 100 * (8 * len(data) / ideal - 1),
            }
        )
    return rows


# ------------------------------------------------------------------------------------------ 2. throughput


def bench_throughput(n: int, repeat: int) -> dict:
    k = 1024
    freqs, rng = _zipf_table(k, seed=1)
    sym = _sample(freqs, n, rng)
    x = sym.reshape(1, 1, n)
    prior = StaticPrior([freqs])

    model = constriction.stream.model.Categorical((freqs - 1).astype(np.float32), perfect=False)
    sym32 = sym.astype(np.int32)

    def raw_enc():
        c = constriction.stream.stack.AnsCoder()
        c.encode_reverse(sym32, model)
        return c.get_compressed()

    words = raw_enc()

    def raw_dec():
        return constriction.stream.stack.AnsCoder(words).decode(model, n)

    assert np.array_equal(raw_dec(), sym32)
    data = encode(x, prior)
    assert data == words.astype("<u4").tobytes()  # ncodec writes exactly constriction's words
    assert np.array_equal(decode(data, prior, x.shape), x)

    out: dict = {"symbols": n, "alphabet": k, "bits_per_symbol": 8 * len(data) / n}
    t = {
        "constriction_encode": _best(raw_enc, repeat),
        "constriction_decode": _best(raw_dec, repeat),
        "ncodec_encode": _best(lambda: encode(x, prior), repeat),
        "ncodec_decode": _best(lambda: decode(data, prior, x.shape), repeat),
    }
    file = compress(x, prior, chunk_len=1 << 16)
    t["ncodec_container_compress"] = _best(
        lambda: compress(x, prior, chunk_len=1 << 16, verify=False), repeat
    )
    t["ncodec_container_decompress"] = _best(lambda: decompress(file, prior), repeat)

    # compressai EntropyBottleneck on as many symbols (C=16 channels, n/16 elements each)
    from compressai.entropy_models import EntropyBottleneck

    torch.manual_seed(0)
    eb = EntropyBottleneck(16)
    eb.update(force=True)
    side = int(np.sqrt(n // 16))
    y = torch.randn(1, 16, side, side) * 8
    strings = eb.compress(y)
    eb_n = y.numel()
    t_eb_enc = _best(lambda: eb.compress(y), repeat)
    t_eb_dec = _best(lambda: eb.decompress(strings, y.shape[2:]), repeat)
    for name, sec in t.items():
        out[name + "_msym_s"] = n / sec / 1e6
    out["compressai_eb_encode_msym_s"] = eb_n / t_eb_enc / 1e6
    out["compressai_eb_decode_msym_s"] = eb_n / t_eb_dec / 1e6
    out["ncodec_vs_constriction_encode_pct"] = 100 * t["constriction_encode"] / t["ncodec_encode"]
    out["ncodec_vs_constriction_decode_pct"] = 100 * t["constriction_decode"] / t["ncodec_decode"]

    # adaptive context prior throughput (2-D grid, K=256)
    g = _sample(_zipf_table(256, 2)[0], 128 * 128, rng).reshape(1, 1, 128, 128)
    ap = AdaptiveContextPrior((256,))
    adata = encode(g, ap)
    out["adaptive_k256_encode_ksym_s"] = g.size / _best(lambda: encode(g, ap), 1) / 1e3
    out["adaptive_k256_decode_ksym_s"] = g.size / _best(lambda: decode(adata, ap, g.shape), 1) / 1e3
    return out


# --------------------------------------------------------------------------------------- 3. real tokens


def _photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
        "motorcycle": data.stereo_motorcycle()[0],
        "hubble": data.hubble_deep_field(),
        "ihc": data.immunohistochemistry(),
        "retina": data.retina(),
    }


def _patches(img: np.ndarray, p: int = 4) -> torch.Tensor:
    img = img[..., :3].astype(np.float32) / 255.0
    h, w = (img.shape[0] // p) * p, (img.shape[1] // p) * p
    x = torch.from_numpy(np.ascontiguousarray(img[:h, :w])).permute(2, 0, 1)
    z = x.unfold(1, p, p).unfold(2, p, p)  # 3, h/p, w/p, p, p
    return z.permute(0, 3, 4, 1, 2).reshape(3 * p * p, h // p, w // p)


def _evaluate(toks: dict[str, np.ndarray], alphabet: tuple[int, ...]) -> dict:
    """Static (leave-one-out), oracle static, uniform and adaptive priors on per-image tokens."""
    counts = {
        name: [np.bincount(t[:, s].ravel(), minlength=k) for s, k in enumerate(alphabet)]
        for name, t in toks.items()
    }
    per = []
    for name, x in toks.items():
        others = [sum(counts[n2][s] for n2 in toks if n2 != name) for s in range(len(alphabet))]
        # 10% of the mass spread evenly: unseen codes stay affordable on an image unlike the others
        static = StaticPrior.from_counts([c + max(1, int(c.sum()) // (10 * len(c))) for c in others])
        oracle = StaticPrior.fit(x, alphabet)
        adaptive = AdaptiveContextPrior(alphabet, init=static)
        t0 = time.perf_counter()
        a_file = compress(x, adaptive)
        t_a = time.perf_counter() - t0
        s_file = compress(x, static)
        o_file = compress(x, oracle)
        per.append(
            {
                "image": name,
                "tokens": int(x.size),
                "uniform_bits": 8 * len(compress(x, UniformPrior(alphabet))),
                "static_bits": 8 * len(s_file),
                "static_oracle_bits": 8 * len(o_file),
                "adaptive_bits": 8 * len(a_file),
                "adaptive_flat_start_bits": 8 * len(compress(x, AdaptiveContextPrior(alphabet))),
                "adaptive_saved_pct": 100 * (1 - len(a_file) / len(s_file)),
                "adaptive_vs_oracle_pct": 100 * (1 - len(a_file) / len(o_file)),
                "adaptive_seconds": t_a,
            }
        )
    keys = (
        "tokens",
        "uniform_bits",
        "static_bits",
        "static_oracle_bits",
        "adaptive_bits",
        "adaptive_flat_start_bits",
    )
    tot = {key: sum(r[key] for r in per) for key in keys}
    tot["adaptive_saved_pct"] = 100 * (1 - tot["adaptive_bits"] / tot["static_bits"])
    tot["adaptive_vs_oracle_pct"] = 100 * (1 - tot["adaptive_bits"] / tot["static_oracle_bits"])
    tot["static_bits_per_token"] = tot["static_bits"] / tot["tokens"]
    tot["adaptive_bits_per_token"] = tot["adaptive_bits"] / tot["tokens"]
    tot["adaptive_ksym_s"] = tot["tokens"] / sum(r["adaptive_seconds"] for r in per) / 1e3
    return {"alphabet": list(alphabet), "per_image": per, "total": tot}


def bench_real_tokens(k: int, n_q: int) -> dict:
    """VQ tokens (one stream) and RVQ tokens (``n_q`` stages) of 4x4 RGB patches of real photos."""
    from ncodec.quantizers import RVQ, VQ

    torch.manual_seed(0)
    photos = _photos()
    zs = {name: _patches(img) for name, img in photos.items()}
    rows = torch.cat([z.reshape(48, -1).T for z in zs.values()])
    vq = VQ(dim=48, codebook_size=k, kmeans_iters=10)
    vq.init_codebook(rows, generator=torch.Generator().manual_seed(0))
    vq.eval()
    rvq = RVQ(dim=48, n_q=n_q, codebook_size=k, kmeans_iters=10)
    rvq.train()
    with torch.no_grad():
        rvq(rows.T[None])  # first training batch: k-means initialisation of every stage
    rvq.eval()
    with torch.no_grad():
        vq_toks = {name: vq.quantize(z[None]).numpy() for name, z in zs.items()}
        rvq_toks = {name: rvq.quantize(z[None]).numpy() for name, z in zs.items()}
    return {
        "patch": "4x4 RGB",
        "vq": _evaluate(vq_toks, tuple(vq.alphabet)),
        "rvq": _evaluate(rvq_toks, tuple(rvq.alphabet)),
    }


# ---------------------------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, default=Path("docs/results/bench_entropy.json"))
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    ap.add_argument("--symbols", type=int, default=1 << 22, help="symbols for the throughput test")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    n = 1 << 16 if args.quick else args.symbols
    torch.set_num_threads(1)

    res = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "torch_threads": 1,
            "constriction": getattr(constriction, "__version__", "0.5"),
        },
        "overhead": bench_overhead([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]),
        "throughput": bench_throughput(n, 2 if args.quick else args.repeat),
        "real_tokens": bench_real_tokens(64 if args.quick else 256, 2 if args.quick else 4),
    }

    print("\n1. Bits written vs ideal cross-entropy (K=1024 static prior, Zipf-like tokens)")
    print(
        f"{'tokens':>9} {'chunks':>6} {'ideal bits':>12} {'payload':>12} {'file':>12} {'payload +%':>10} "
        f"{'file +%':>8}"
    )
    for r in res["overhead"]:
        print(
            f"{r['tokens']:>9} {r['chunks']:>6} {r['ideal_bits']:>12.0f} {r['payload_bits']:>12} "
            f"{r['file_bits']:>12} {r['payload_overhead_pct']:>10.4f} {r['file_overhead_pct']:>8.4f}"
        )
    t = res["throughput"]
    print(
        f"\n2. Throughput, K={t['alphabet']} static table, {t['symbols']} symbols "
        f"({t['bits_per_symbol']:.2f} bits/symbol), M symbols/s (1 thread)"
    )
    print(f"{'':34} {'encode':>9} {'decode':>9}")
    for label, key in (
        ("raw constriction (AnsCoder)", "constriction"),
        ("ncodec.entropy encode/decode", "ncodec"),
        ("ncodec .ncd compress/decompress", "ncodec_container"),
        ("compressai EntropyBottleneck", "compressai_eb"),
    ):
        e = t.get(f"{key}_encode_msym_s", t.get(f"{key}_compress_msym_s"))
        d = t.get(f"{key}_decode_msym_s", t.get(f"{key}_decompress_msym_s"))
        print(f"{label:34} {e:>9.1f} {d:>9.1f}")
    print(
        f"{'ncodec / raw constriction':34} {t['ncodec_vs_constriction_encode_pct']:>8.0f}% "
        f"{t['ncodec_vs_constriction_decode_pct']:>8.0f}%"
    )
    print(
        f"{'adaptive context prior (K=256, 2-D), k sym/s':45} {t['adaptive_k256_encode_ksym_s']:>7.0f} "
        f"{t['adaptive_k256_decode_ksym_s']:>7.0f}"
    )
    rt = res["real_tokens"]
    print(
        f"\n3. Adaptive vs static prior on tokens of real photos ({rt['patch']} patches; "
        "bits = whole .ncd file)"
    )
    print(
        "   static: per-stream tables fitted on the other photos (+10% uniform); oracle: fitted on the photo"
    )
    print(
        "   itself (table not counted); adaptive: starts from static; flat-start: adaptive from flat counts;"
    )
    print("   saved %: adaptive vs static; vs oracle %: adaptive vs oracle")
    for label, key in (("VQ", "vq"), ("RVQ", "rvq")):
        blk = rt[key]
        print(f"\n   {label}, alphabet {blk['alphabet']}")
        print(
            f"{'image':>11} {'tokens':>7} {'uniform':>9} {'static':>9} {'oracle':>9} {'adaptive':>9} "
            f"{'flat-start':>10} {'saved %':>8} {'vs oracle %':>11}"
        )
        for r in blk["per_image"] + [dict(blk["total"], image="TOTAL")]:
            print(
                f"{r['image']:>11} {r['tokens']:>7} {r['uniform_bits']:>9} {r['static_bits']:>9} "
                f"{r['static_oracle_bits']:>9} {r['adaptive_bits']:>9} {r['adaptive_flat_start_bits']:>10} "
                f"{r['adaptive_saved_pct']:>8.1f} {r['adaptive_vs_oracle_pct']:>11.1f}"
            )
        tt = blk["total"]
        print(
            f"   bits/token: static {tt['static_bits_per_token']:.3f}, "
            f"adaptive {tt['adaptive_bits_per_token']:.3f}"
            f"; adaptive coding speed {tt['adaptive_ksym_s']:.0f} k tokens/s"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
