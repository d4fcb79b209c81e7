"""The dream loop: sizes, range, determinism, octaves, colours, noise."""

from __future__ import annotations

import pytest
import torch

from inceptionism.dream import DreamConfig, dream, noise_image, octave_sizes, preserve_colors
from inceptionism.errors import ConfigError
from inceptionism.objectives import from_addresses

FAST = DreamConfig(steps=3, octaves=2, jitter=8)


def test_output_has_input_size_and_range(lite0, small_cat):
    result = dream(lite0, small_cat, from_addresses(["blocks.4"]), FAST)
    assert result.image.shape == small_cat.shape
    assert result.image.dtype == torch.float32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert (result.image - small_cat).abs().mean() > 0.01  # visibly dreamed


def test_same_seed_same_image_other_seed_other_image(tiny):
    x = torch.rand(1, 3, 40, 52, generator=torch.Generator().manual_seed(0))
    obj = from_addresses(["conv2"])
    a = dream(tiny, x, obj, DreamConfig(steps=3, octaves=2, seed=5)).image
    b = dream(tiny, x, obj, DreamConfig(steps=3, octaves=2, seed=5)).image
    c = dream(tiny, x, obj, DreamConfig(steps=3, octaves=2, seed=6)).image
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_octaves_never_go_below_the_model_minimum():
    assert octave_sizes(300, 450, 4, 1.4, 32) == [(109, 164), (153, 230), (214, 321), (300, 450)]
    assert octave_sizes(40, 60, 10, 1.4, 32) == [(40, 60)]
    # an image under the minimum is worked on at the minimum
    assert octave_sizes(10, 20, 3, 1.4, 75) == [(75, 150)]


def test_small_input_and_many_octaves_do_not_crash(tiny):
    x = torch.rand(1, 3, 9, 12)
    result = dream(tiny, x, from_addresses(["conv2"]), DreamConfig(steps=2, octaves=12))
    assert result.image.shape == x.shape


def test_preserve_colors_changes_only_luminance(lite0, small_cat):
    result = dream(lite0, small_cat, from_addresses(["blocks.4"]), DreamConfig(steps=3, octaves=1, preserve_colors=True))
    yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    before = torch.einsum("ij,bjhw->bihw", yiq, small_cat)
    after = torch.einsum("ij,bjhw->bihw", yiq, result.image)
    chroma = (after[:, 1:] - before[:, 1:]).abs().mean()
    luma = (after[:, :1] - before[:, :1]).abs().mean()
    assert luma > 0.01 and chroma < luma / 4


def test_preserve_colors_round_trips():
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(preserve_colors(x, x), x, atol=1e-5)


def test_noise_start_is_seeded_and_dreams(tiny):
    n = noise_image(40, 30, seed=3)
    assert n.shape == (1, 3, 30, 40) and torch.equal(n, noise_image(40, 30, seed=3))
    assert dream(tiny, n, from_addresses(["conv2"]), FAST).image.std() > n.std()


@pytest.mark.parametrize("bad", [dict(steps=-1), dict(step_size=0), dict(octaves=0), dict(octave_scale=1.0),
                                 dict(jitter=-2), dict(step_size=float("nan"))])
def test_bad_config_is_refused(bad):
    with pytest.raises(ConfigError):
        DreamConfig(**bad)


def test_callback_sees_every_step(tiny):
    seen = []
    x = torch.rand(1, 3, 40, 40)
    dream(tiny, x, from_addresses(["conv2"]), DreamConfig(steps=3, octaves=2), callback=seen.append)
    assert [(s.octave, s.step) for s in seen] == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
