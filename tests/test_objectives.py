"""Objectives: the address grammar, composition, and each kind rising under the dream."""

from __future__ import annotations

import pytest
import torch

from inceptionism.dream import DreamConfig, dream
from inceptionism.errors import ConfigError, LayerError
from inceptionism.objectives import (
    ClassLogit, Guide, Layer, LayerAddress, class_index, from_addresses, parse_address,
)


@pytest.mark.parametrize("text, expected", [
    ("inception4c", LayerAddress("inception4c")),
    ("inception4e:97=0.5", LayerAddress("inception4e", 97, 0.5)),
    ("relu4_2=2", LayerAddress("relu4_2", None, 2.0)),
    ("inception_4c/output:3", LayerAddress("inception_4c/output", 3)),
    ("blocks.4.1:0=-1", LayerAddress("blocks.4.1", 0, -1.0)),
])
def test_address_grammar(text, expected):
    assert parse_address(text) == expected
    assert parse_address(str(expected)) == expected


@pytest.mark.parametrize("text", ["", "a:b", "a:1=x", "a:-1", "a=inf", ":3"])
def test_bad_addresses_are_config_errors(text):
    with pytest.raises(ConfigError):
        parse_address(text)


def test_objectives_compose(tiny):
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a, b = Layer("conv2"), Layer("4", channel=3)
    combo = a + 0.5 * b - b
    with tiny.extractor(combo.addresses()) as extract:
        feats = extract(x)
    assert torch.allclose(combo(feats), a(feats) - 0.5 * b(feats))
    assert set(combo.addresses()) == {"conv2", "4"}


def test_channel_out_of_range_names_the_range(tiny):
    with pytest.raises(LayerError, match="0 to 15"):
        Layer("4", channel=16).prepare(tiny)


def test_class_by_name_and_number(lite0):
    assert class_index("Egyptian cat", lite0.categories) == 285
    assert class_index("285", lite0.categories) == 285
    assert class_index("espresso", lite0.categories) == 967
    with pytest.raises(ConfigError, match="ambiguous"):
        class_index("cat", lite0.categories)
    with pytest.raises(ConfigError, match="no class"):
        class_index("zzzzzz", lite0.categories)


def _rises(network, image, objective):
    config = DreamConfig(steps=6, octaves=1, step_size=0.01, jitter=4)
    values = dream(network, image, objective, config).objective
    assert len(values) == 6
    assert values[-1] > values[0], values
    return values


def test_layer_objective_rises(lite0, small_cat):
    _rises(lite0, small_cat, from_addresses(["blocks.4"]))


def test_channel_objective_rises(lite0, small_cat):
    _rises(lite0, small_cat, from_addresses(["blocks.4:17"]))


def test_weighted_multi_layer_objective_rises(lite0, small_cat):
    _rises(lite0, small_cat, from_addresses(["blocks.3=0.5", "blocks.5"]))


def test_guide_objective_rises(lite0, small_cat):
    from inceptionism.io.images import load_image

    guide = load_image("skimage:coffee").rgb
    _rises(lite0, small_cat, Guide("blocks.4", guide))


def test_class_objective_rises(lite0, small_cat):
    _rises(lite0, small_cat, ClassLogit(967, "logits"))


def test_objective_rises_on_the_tiny_cnn(tiny):
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    _rises(tiny, x, from_addresses(["conv2"]))
