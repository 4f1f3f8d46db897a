"""compressai adapter: continuous latents coded through compressai's own integer tables, in .ncd files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncodec import FormatError
from ncodec.container import TokenSection, compress, decompress, parse
from ncodec.entropy.compressai_adapter import CompressaiAdapter

compressai = pytest.importorskip("compressai")
from compressai.entropy_models import EntropyBottleneck, GaussianConditional  # noqa: E402


def _bottleneck(channels: int = 6) -> EntropyBottleneck:
    torch.manual_seed(0)
    eb = EntropyBottleneck(channels)
    with torch.no_grad():  # a trained-looking density: different scales per channel
        for m in eb.matrices:
            m.mul_(torch.linspace(0.5, 3, channels).view(-1, 1, 1))
    eb.update(force=True)
    return eb


def _gaussian() -> GaussianConditional:
    gc = GaussianConditional(None)
    gc.update_scale_table(torch.exp(torch.linspace(np.log(0.11), np.log(256), 64)))
    gc.update()
    return gc


def test_bottleneck_matches_compressai_decode_including_out_of_range() -> None:
    eb = _bottleneck()
    y = torch.randn(2, 6, 9, 7) * 4
    y[0, 0, 0, 0] = 5000.0  # far outside the table: escape
    y[1, 5, 8, 6] = -7000.0
    ad = CompressaiAdapter(eb)
    tok, idx = ad.to_tokens(y)
    data = compress(tok, ad.prior(idx), chunk_len=4, codec="bmshj-like", quantizer="EntropyBottleneck")
    ref = eb.decompress(eb.compress(y), y.shape[2:])
    assert torch.equal(ad.from_tokens(decompress(data, ad.prior(idx)), idx), ref)
    h = parse(data).header
    assert h.quantizer == "EntropyBottleneck" and h.shape == (2, 6, 9, 7) and len(parse(data).chunks) == 3
    # Same integer tables => essentially the same rate as compressai's own rANS (container aside).
    theirs = sum(len(s) for s in eb.compress(y))
    payload = sum(c.size - 24 for c in parse(data).chunks)
    assert payload <= theirs * 1.05 + 64


def test_tables_are_compressai_tables_exactly() -> None:
    eb = _bottleneck(3)
    ad = CompressaiAdapter(eb)
    for c, t in enumerate(ad.tables):
        n = int(eb._cdf_length[c])
        cdf = eb._quantized_cdf[c, :n].numpy().astype(np.int64)
        np.testing.assert_array_equal(t, np.diff(cdf) << 8)


def test_gaussian_conditional_with_means() -> None:
    gc = _gaussian()
    torch.manual_seed(1)
    scales = torch.rand(1, 4, 8, 8) * 20 + 0.05
    means = torch.randn(1, 4, 8, 8) * 3
    y = torch.randn(1, 4, 8, 8) * scales + means
    y[0, 1, 2, 3] = 1e5
    idx = gc.build_indexes(scales)
    ad = CompressaiAdapter(gc)
    tok, idx_np = ad.to_tokens(y, idx, means)
    data = compress(tok, ad.prior(idx_np))
    ref = gc.decompress(gc.compress(y, idx, means), idx, means=means)
    assert torch.equal(ad.from_tokens(decompress(data, ad.prior(idx_np)), idx_np, means), ref)
    with pytest.raises(FormatError):  # a table choice of another shape than at encode time
        decompress(data, ad.prior(idx_np[:, :, :4]))


def test_adapter_refuses_models_without_tables() -> None:
    with pytest.raises(ValueError, match="update"):
        CompressaiAdapter(EntropyBottleneck(4))
    gc = _gaussian()
    with pytest.raises(Exception, match="indexes"):
        CompressaiAdapter(gc).to_tokens(torch.zeros(1, 2, 3, 3))


def test_hyperprior_z_and_y_in_one_file() -> None:
    """z through an EntropyBottleneck, y through a GaussianConditional whose table indexes the decoder
    derives from the decoded z with integer arithmetic only; both in one .ncd file."""
    from ncodec.container import compress_sections as write
    from ncodec.container import decompress_sections

    eb, gc = _bottleneck(4), _gaussian()
    za, ya = CompressaiAdapter(eb), CompressaiAdapter(gc)
    torch.manual_seed(3)
    z = torch.randn(1, 4, 4, 4) * 3

    def indexes_from(z_tok: np.ndarray) -> torch.Tensor:  # stand-in for an integer hyper-decoder
        idx = np.minimum(np.abs(z_tok - 10), 63).repeat(2, axis=2).repeat(2, axis=3)
        return torch.from_numpy(idx[:, :4].astype(np.int32))

    z_tok, z_idx = za.to_tokens(z)
    y_idx = indexes_from(z_tok)
    y = torch.randn(1, 4, 8, 8) * 5
    y_tok, y_idx_np = ya.to_tokens(y, y_idx)
    sections = [TokenSection(z_tok, za.prior(z_idx)), TokenSection(y_tok, ya.prior(y_idx_np), chunk_len=3)]
    data = write(sections, codec="toy-hyperprior")
    assert len(parse(data).header.sections) == 2

    z_back, y_back = decompress_sections(
        data, [za.prior(z_idx), lambda dec: ya.prior(indexes_from(dec[0]).numpy().astype(np.int64))]
    )
    assert torch.equal(za.from_tokens(z_back, z_idx), eb.decompress(eb.compress(z), z.shape[2:]))
    y_idx_np = y_idx.numpy().astype(np.int64)
    assert torch.equal(ya.from_tokens(y_back, y_idx_np), gc.decompress(gc.compress(y, y_idx), y_idx))
