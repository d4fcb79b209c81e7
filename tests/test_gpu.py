"""CUDA correctness: run with `pytest -m gpu` on a machine with a GPU (skips without one)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from inceptionism.dream import DreamConfig, dream
from inceptionism.models import get_model
from inceptionism.objectives import from_addresses

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_cuda_dream_matches_the_cpu_in_kind(small_cat, precision):
    obj = from_addresses(["blocks.4"])
    config = DreamConfig(steps=4, octaves=2, precision=precision)
    gpu = dream(get_model(device="cuda"), small_cat, obj, config)
    cpu = dream(get_model(device="cpu"), small_cat, obj, replace(config, precision="fp32"))
    assert gpu.image.device.type == "cpu" and torch.isfinite(gpu.image).all()
    assert gpu.objective[-1] > gpu.objective[0]
    # same jitter sequence and arithmetic: close to the CPU result, not bit-identical
    tolerance = 0.05 if precision == "bf16" else 0.01
    assert (gpu.image - cpu.image).abs().mean() < tolerance


def test_cuda_tiled_dream(chelsea):
    result = dream(get_model(device="cuda"), chelsea, from_addresses(["blocks.4"]),
                   DreamConfig(steps=2, octaves=1, tile=128))
    assert result.tile == 128 and result.image.shape == chelsea.shape


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_cuda_visualize_draws_the_class(precision):
    """Feature visualisation on the GPU: a finite picture in [0, 1] that the network reads as its class."""
    from inceptionism.configs import VisualizeConfig
    from inceptionism.objectives import build_objective
    from inceptionism.visualize import render

    net = get_model(device="cuda")
    objective, _ = build_objective(net, None, class_value=1)  # goldfish
    result = render(net, objective, VisualizeConfig(width=128, height=128, steps=96, precision=precision))
    images = result.images.float()
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    with torch.no_grad():
        logits = net(images.to("cuda"))
    assert int(logits.argmax(-1)[0]) == 1
