"""The audio codec end to end on real speech (the bundled clip): tokens independent of the chunking,
exact lengths/rates/channels, span decoding, chunk concealment, batches, the streaming API, the CLI
and its refusals, and the fuzzer on real audio files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from ncodec.cli import main
from ncodec.codecs.audio.codec import CHUNK_FRAMES, AudioCodec, AudioTokens
from ncodec.codecs.fuzz import run_codec_fuzz, seeds_for
from ncodec.codecs.registry import available_models, default_model, load
from ncodec.container import parse
from ncodec.errors import FormatError, MediaError, NcodecError, ShapeError
from ncodec.io.samples import sample_speech

AUDIO_MODELS = sorted(n for n in available_models("audio"))
SPEECH = default_model("audio")
pytestmark = pytest.mark.skipif(SPEECH is None, reason="no audio model shipped")


@pytest.fixture(scope="module")
def codec() -> AudioCodec:
    return load(SPEECH)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    x, rate = sf.read(sample_speech(), dtype="float32")
    assert rate == 16000
    return x


@pytest.fixture(scope="module")
def long_speech(speech) -> np.ndarray:
    """~13.8 s: three chunks of 5 s."""
    return np.concatenate([speech, 0.7 * speech[::-1], speech])


def _stream(codec, x: np.ndarray, rate: int, block: int, quality: int) -> np.ndarray:
    enc = codec.stream_encoder(quality, rate, x.shape[1] if x.ndim == 2 else 1)
    parts = [enc.feed(x[i : i + block]) for i in range(0, x.shape[0], block)]
    parts.append(enc.flush())
    return np.concatenate(parts, axis=-1)


@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 2)])
def test_tokens_do_not_depend_on_the_chunking(codec, long_speech, rate, channels) -> None:
    x = long_speech if rate == 16000 else AF.resample(torch.from_numpy(long_speech), 16000, rate).numpy()
    x = np.stack([x, -0.5 * x], axis=1)[:, :channels]
    q = codec.quality_for_bitrate(3)
    whole = codec.encode(x.T, q, sample_rate=rate)
    for seconds in (1, 7):
        tok = _stream(codec, x, rate, seconds * rate, q)
        assert np.array_equal(tok, whole.tokens), f"blocks of {seconds} s"
    ragged = np.random.default_rng(0).integers(1, 3000, 200).cumsum()
    enc = codec.stream_encoder(q, rate, channels)
    parts = [enc.feed(b) for b in np.split(x, ragged[ragged < x.shape[0]])] + [enc.flush()]
    assert np.array_equal(np.concatenate(parts, axis=-1), whole.tokens)
    # identical bytes too: the file is a function of the tokens
    t = AudioTokens(tok, q, rate, channels, [x.shape[0]], codec.frame_rate)
    assert codec.compress_tokens(t) == codec.compress_tokens(whole)


def test_streaming_decoder_matches_decode(codec, long_speech) -> None:
    t = codec.encode(long_speech, 2)
    ref = codec.decode(t)[0, 0].numpy()
    dec = codec.stream_decoder(16000, 1, end=long_speech.shape[0])
    cuts = np.random.default_rng(1).integers(1, 40, 60).cumsum()
    parts = [dec.feed(b) for b in np.split(t.tokens, cuts[cuts < t.tokens.shape[-1]], axis=-1)]
    parts.append(dec.flush())
    y = np.concatenate(parts, axis=0)[:, 0]
    assert y.shape == ref.shape and np.array_equal(y, ref)


def test_api_shapes_rates_and_lengths(codec, speech) -> None:
    t = codec.encode(speech, sample_rate=16000, bitrate=3)
    assert t.codes.shape[:2] == (1, len(codec.alphabet(t.quality)))
    assert codec.nominal_kbps(t.quality) <= 3 and t.frame_rate == 50
    assert t.codes.shape[2] == -(-(speech.shape[0] + 480) // 320)
    y = codec.decode(t)
    assert y.shape == (1, 1, speech.shape[0])
    # a batch of different lengths and another rate: a list, each at its own length
    x22 = AF.resample(torch.from_numpy(speech), 16000, 22050).numpy()
    batch = codec.encode([x22[:30000], x22[:12345]], sample_rate=22050, quality=0)
    assert batch.codes.shape[0] == 2 and batch.lengths == [30000, 12345]
    ys = codec.decode(batch)
    assert [y.shape for y in ys] == [(1, 30000), (1, 12345)]
    data = codec.compress([x22[:30000], x22[:12345]], 0, sample_rate=22050)
    again = codec.decompress(data)
    assert [a.shape for a in again] == [(1, 30000), (1, 12345)]
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(again, ys, strict=True))
    assert codec.latency_ms == 50.0


def test_quality_rises_with_rate(codec, speech) -> None:
    from ncodec.metrics.audio import mel_distance

    mels = []
    for q in range(codec.qualities):
        y = codec.decompress(codec.compress(speech, q))[0, 0].numpy()
        mels.append(mel_distance(speech, y, 16000))
    assert mels[-1] < mels[0], mels


def test_file_keeps_rate_channels_length(codec, speech, tmp_path) -> None:
    x44 = AF.resample(torch.from_numpy(speech), 16000, 44100).numpy()[:100_003]
    stereo = np.stack([x44, 0.25 * x44])
    data = codec.compress(stereo, sample_rate=44100, bitrate=6)
    h = parse(data).header
    assert (h.media.kind, h.media.sample_rate, h.media.channels, h.media.length) == (
        "audio",
        44100,
        2,
        100_003,
    )
    y = codec.decompress(data)
    assert y.shape == (1, 2, 100_003)
    # a mono model: one mixdown, decoded into both channels
    assert torch.equal(y[0, 0], y[0, 1])


@pytest.mark.parametrize("rate", [16000, 22050])
def test_span_decoding_reads_only_what_it_needs(codec, long_speech, rate) -> None:
    x = long_speech if rate == 16000 else AF.resample(torch.from_numpy(long_speech), 16000, rate).numpy()
    data = codec.compress(x, 3, sample_rate=rate)
    assert parse(data).header.n_chunks == 3
    full = codec.decompress(data)[0, 0].numpy()
    for start, dur in ((0.0, 1.0), (6.3, 2.0), (11.0, None), (4.99, 0.2)):
        part = codec.decompress(data, start=start, duration=dur)[0, 0].numpy()
        a = int(round(start * rate))
        n = len(full) - a if dur is None else int(round(dur * rate))
        assert part.shape == (n,)
        assert np.abs(part - full[a : a + n]).max() < 2e-3, (start, dur)
    with pytest.raises(ValueError):
        codec.decompress(data, start=20.0, duration=1.0)


def test_damaged_chunk_costs_only_its_seconds(codec, long_speech) -> None:
    data = bytearray(codec.compress(long_speech, 3))
    nf = parse(bytes(data))
    c = nf.chunks[1]
    data[c.offset + 30] ^= 0x40  # inside chunk 1's payload: its CRC no longer matches
    with pytest.raises(FormatError, match="chunk 1"):
        codec.decompress(bytes(data))
    full = codec.decompress(codec.compress(long_speech, 3))[0, 0].numpy()
    y = codec.decompress(bytes(data), conceal=True)[0, 0].numpy()
    a, b = CHUNK_FRAMES * 320, 2 * CHUNK_FRAMES * 320
    assert y.shape == full.shape
    assert np.abs(y[: a - 480] - full[: a - 480]).max() < 1e-4  # before the damage: as decoded
    assert not y[a : b - 480].any()  # the damaged chunk's seconds: silence
    late = b + 16000  # after a second of the next chunk the decoder has caught up
    assert np.abs(y[late:] - full[late:]).max() < 0.05


def test_bad_api_input(codec, speech) -> None:
    with pytest.raises(MediaError):
        codec.encode(np.zeros(0, np.float32))
    bad = speech.copy()
    bad[100] = np.nan
    with pytest.raises(MediaError, match="NaN"):
        codec.encode(bad)
    with pytest.raises(MediaError, match="sample rate"):
        codec.encode(speech, sample_rate=10**7)
    with pytest.raises(MediaError, match="channels"):
        codec.encode(np.zeros((9, 1000), np.float32))
    with pytest.raises(ShapeError):
        codec.encode(np.zeros((1, 1, 1, 10), np.float32))
    with pytest.raises(ValueError, match="below"):
        codec.encode(speech, bitrate=0.5)
    with pytest.raises(ValueError):
        codec.encode(speech, quality=codec.qualities)
    t = codec.encode(speech[:4000], 0)
    t.tokens = t.tokens.copy()
    t.tokens[0, 0, 0] = 5000
    with pytest.raises(ShapeError):
        codec.decode(t)
    # a file shorter than one frame is coded, and decodes to its exact length
    tiny = codec.decompress(codec.compress(speech[:17]))
    assert tiny.shape == (1, 1, 17)


def _write(path: Path, data: np.ndarray, rate: int, **kw) -> Path:
    sf.write(path, data, rate, **kw)
    return path


def test_priors_and_auto_choice(codec, long_speech, tmp_path) -> None:
    """Every prior kind round-trips; ``auto`` codes the file with static or uniform tables, whichever
    codes its first chunk in fewer bytes; the CLI's streamed file is the API's, byte for byte."""
    t = codec.encode(long_speech, 0, sample_rate=16000)
    files = {k: codec.compress_tokens(t, k) for k in ("static", "adaptive", "uniform")}
    for kind, data in files.items():
        assert parse(data).header.sections[0].prior_name == kind
        assert np.array_equal(codec.decompress_tokens(data).tokens, t.tokens)
    first = t.tokens[..., :CHUNK_FRAMES]
    sizes = {k: len(codec.compress_tokens(AudioTokens(first, 0, 16000, 1, [CHUNK_FRAMES * 320],
                                                      t.frame_rate), k)) for k in files}  # fmt: skip
    best = "uniform" if sizes["uniform"] < sizes["static"] else "static"
    auto = codec.compress_tokens(t)
    assert auto == files[best] and parse(auto).header.sections[0].prior_name == best
    # uniform codes cost log2(K) bits a token: within a few bytes of the raw size
    raw_bits = t.tokens.size * 10
    payload = sum(len(c.payload) for c in parse(files["uniform"]).chunks) * 8
    assert raw_bits <= payload <= raw_bits + 64 * 3
    src = _write(tmp_path / "long.wav", long_speech, 16000)
    assert main(["encode", str(src), str(tmp_path / "a.ncd"), "--quality", "0"]) == 0
    back, _ = sf.read(src, dtype="float32")  # the 16-bit samples the CLI read
    assert (tmp_path / "a.ncd").read_bytes() == codec.compress(back, 0, sample_rate=16000)


def test_cli_round_trip(tmp_path, speech, capsys) -> None:
    src = _write(tmp_path / "in.wav", np.stack([speech, speech * 0.5], 1), 48000)
    ncd, out = tmp_path / "a.ncd", tmp_path / "a.flac"
    assert main(["encode", str(src), str(ncd), "--bitrate", "6"]) == 0
    assert "kbps" in capsys.readouterr().out
    assert main(["info", str(ncd)]) == 0
    assert "48000 Hz, 2 ch" in capsys.readouterr().out
    assert main(["decode", str(ncd), str(out)]) == 0
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.frames) == (48000, 2, speech.shape[0])
    span = tmp_path / "span.wav"
    assert main(["decode", str(ncd), str(span), "--start", "1", "--duration", "0.5"]) == 0
    assert sf.info(span).frames == 24000


@pytest.mark.parametrize(
    "case",
    ["empty", "nan", "channels", "truncated", "image", "no-audio", "exists", "out-format", "image-model",
     "both-rates", "low-bitrate"],
)  # fmt: skip
def test_cli_refusals(tmp_path, speech, case, capsys) -> None:
    out = tmp_path / "out.ncd"
    args = None
    if case == "empty":
        src = _write(tmp_path / "e.wav", np.zeros((0, 1), np.float32), 16000)
    elif case == "nan":
        x = speech.copy()[:, None]
        x[50] = np.inf
        src = _write(tmp_path / "n.wav", x, 16000, subtype="FLOAT")
    elif case == "channels":
        src = _write(tmp_path / "c.wav", np.zeros((1000, 9), np.float32), 16000)
    elif case == "truncated":
        full = _write(tmp_path / "full.wav", speech, 16000)
        src = tmp_path / "t.wav"
        src.write_bytes(full.read_bytes()[:20000])
    elif case == "image":
        src = tmp_path / "photo.wav"
        shutil.copy(Path(__file__).resolve().parents[1] / "src/ncodec/data/sample.png", src)
    elif case == "no-audio":
        import av

        src = tmp_path / "v.m4a"
        with av.open(str(src), "w", format="mp4") as c:  # an audio suffix on a video-only file
            s = c.add_stream("mpeg4", rate=10)
            s.width, s.height = 32, 32
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for pkt in s.encode(frame):
                c.mux(pkt)
            for pkt in s.encode(None):
                c.mux(pkt)
    elif case == "exists":
        src = _write(tmp_path / "s.wav", speech, 16000)
        out.write_bytes(b"keep")
    elif case == "out-format":
        src = _write(tmp_path / "s.wav", speech, 16000)
        ncd = tmp_path / "s.ncd"
        assert main(["encode", str(src), str(ncd)]) == 0
        out = tmp_path / "s.mp3"
        args = ["decode", str(ncd), str(out)]
    elif case == "image-model":
        src = _write(tmp_path / "s.wav", speech, 16000)
        args = ["encode", str(src), str(out), "--model", "image-hyperprior-v5"]
    elif case == "both-rates":
        src = _write(tmp_path / "s.wav", speech, 16000)
        args = ["encode", str(src), str(out), "--bitrate", "3", "--quality", "1"]
    else:
        src = _write(tmp_path / "s.wav", speech, 16000)
        args = ["encode", str(src), str(out), "--bitrate", "0.2"]
    capsys.readouterr()
    before = out.read_bytes() if out.exists() else None
    assert main(args or ["encode", str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert (out.read_bytes() if out.exists() else None) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_audio_file_refused_by_image_model_and_back(tmp_path, speech, codec) -> None:
    data = codec.compress(speech[:8000])
    image = load("image-hyperprior-v5")
    with pytest.raises(NcodecError):
        image.decompress(data)
    img_file = image.compress(torch.rand(3, 64, 64), 0)
    with pytest.raises(NcodecError):
        codec.decompress(img_file)


@pytest.mark.parametrize("name", AUDIO_MODELS)
def test_audio_fuzz(name) -> None:
    rep = run_codec_fuzz(seeds_for(load(name)), 300, seed=3, time_limit=20)
    assert not rep.failures, "\n".join(f"{s} {k}: {e}" for s, k, e, _ in rep.failures[:5])
    assert rep.outcomes["refused"] > rep.cases // 2 and rep.outcomes["identical"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", AUDIO_MODELS)
def test_audio_fuzz_10k(name) -> None:
    rep = run_codec_fuzz(seeds_for(load(name)), 10_000, seed=13, time_limit=20)
    assert not rep.failures, "\n".join(f"{s} {k}: {e}" for s, k, e, _ in rep.failures[:5])
