"""Tiled gradients: exact when one tile, seamless when many, auto-sized on the CPU."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import inceptionism.dream.tiling as tiling
from inceptionism.dream import DreamConfig, dream
from inceptionism.dream.loop import gradient_step
from inceptionism.dream.tiling import tile_spans
from inceptionism.objectives import from_addresses


def test_tile_spans_cover_the_length_without_tiny_pieces():
    assert tile_spans(100, 128, 17, 32) == [(0, 100)]
    spans = tile_spans(300, 100, 37, 32)
    assert spans[0][0] == 0 and spans[-1][1] == 300
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(stop - start >= 32 for start, stop in spans)
    assert tile_spans(300, 100, 5, 32)[0] == (0, 105)  # a 5 px sliver joins its neighbour


def test_one_tile_gives_exactly_the_untiled_result(lite0, small_cat):
    obj = from_addresses(["blocks.4"])
    untiled = dream(lite0, small_cat, obj, DreamConfig(steps=3, octaves=2, tile=None))
    one_tile = dream(lite0, small_cat, obj, DreamConfig(steps=3, octaves=2, tile=512))
    assert torch.equal(untiled.image, one_tile.image)
    assert one_tile.tile is None


def _seam_strength(change: torch.Tensor, period: int) -> float:
    """How far the dream's strength on the worst column phase (mod ``period``) is from typical.

    A tile grid that stays put leaves a band of weaker dreaming along each tile edge
    (about 40-50 % here); a grid that moves every step leaves none (noise, ~10 %).
    """
    per_column = change.abs().mean(dim=(0, 1, 2))
    phases = torch.stack([per_column[k::period].mean() for k in range(period)])
    return (phases / phases.median() - 1).abs().max().item()


def test_tiled_dream_shows_no_grid(lite0, chelsea):
    img = F.interpolate(chelsea, size=(192, 288), mode="bilinear", antialias=True)
    obj = from_addresses(["blocks.3"])
    result = dream(lite0, img, obj, DreamConfig(steps=8, octaves=1, tile=64, jitter=8))
    assert result.tile == 64
    assert (result.image - img).abs().mean() > 0.02
    seamless = _seam_strength(result.image - img, 64)
    # the same steps on a grid that never moves: the metric does see those seams
    x = img.clone()
    with lite0.extractor(obj.addresses()) as extract:
        for _ in range(8):
            x, _ = gradient_step(x, obj, extract, 0.01, (0, 0), tile=64, grid_offset=(0, 0), min_size=32)
    fixed = _seam_strength(x - img, 64)
    assert fixed > 0.3 and fixed > 2 * seamless, (fixed, seamless)
    assert seamless < 0.2


def test_tile_auto_works_on_the_cpu(lite0, small_cat, monkeypatch):
    side = tiling.auto_tile(lite0, ["blocks.4"])
    assert tiling.AUTO_MIN <= side <= tiling.AUTO_MAX and side % 64 == 0
    # with little free memory, auto picks a small tile and a large image is tiled
    monkeypatch.setattr(tiling, "_available_bytes", lambda device: 1 << 20)
    assert tiling.auto_tile(lite0, ["blocks.4"]) == tiling.AUTO_MIN
    big = F.interpolate(small_cat, size=(280, 420), mode="bilinear")
    result = dream(lite0, big, from_addresses(["blocks.4"]), DreamConfig(steps=1, octaves=1, tile="auto"))
    assert result.tile == tiling.AUTO_MIN


def test_tiled_gradient_is_normalised_over_the_whole_image():
    """Per-tile normalisation would give every tile the same mean |step|; ours keeps their ratio.

    On an identity network the objective mean(x^2) has gradient 2x/N, so a half of the
    image ten times darker must move ten times less.
    """
    from dataclasses import replace

    from inceptionism.models import Network
    from tests.conftest import TINY_SPEC

    conv = torch.nn.Conv2d(3, 3, 1, bias=False)
    conv.weight.data = torch.eye(3).view(3, 3, 1, 1)
    spec = replace(TINY_SPEC, mean_std=((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), layers=("0",), aliases={})
    net = Network(spec, torch.nn.Sequential(conv), categories=None, weights="identity")
    x = 0.2 + 0.5 * torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(0))
    x[..., :64] *= 0.1
    obj = from_addresses(["0"])
    with net.extractor(obj.addresses()) as extract:
        out, _ = gradient_step(x.clone(), obj, extract, 0.01, (0, 0), tile=64, min_size=16)
    change = out - x
    ratio = change[..., :64].abs().mean() / change[..., 64:].abs().mean()
    assert ratio.item() == pytest.approx(0.1, rel=0.02)


def test_tiles_of_the_rolled_image_are_gathered_without_rolling_it(lite0):
    """Tiling with a jitter shift equals rolling the whole image, tiling, and rolling back."""
    from inceptionism.dream.tiling import tiled_gradient

    x = torch.rand(1, 3, 150, 230, generator=torch.Generator().manual_seed(3))
    obj = from_addresses(["blocks.2"])
    shift, offset = (-37, 51), (20, 45)
    with lite0.extractor(obj.addresses()) as extract:
        grad, value = tiled_gradient(x, obj, extract, tile=64, offset=offset, shift=shift, min_size=32)
        rolled = torch.roll(x, shifts=shift, dims=(2, 3))
        ref, ref_value = tiled_gradient(rolled, obj, extract, tile=64, offset=offset, min_size=32)
    ref = torch.roll(ref, shifts=(-shift[0], -shift[1]), dims=(2, 3))
    assert torch.allclose(grad, ref, atol=1e-7) and torch.allclose(value, ref_value)
