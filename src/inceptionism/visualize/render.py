"""The render loop: parameters -> picture -> random transforms -> network -> objective -> Adam step.

Lucid's ``render_vis`` in one function. Departures from Lucid: the objective is
our own algebra (the one the dream uses), every random draw comes from the run's
seed, the network runs in bfloat16 only where :mod:`inceptionism.precision` says
it is safe, and a picture is never smaller than the network's minimum input.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from inceptionism.configs import VisualizeConfig
from inceptionism.errors import ConfigError
from inceptionism.models.network import Network
from inceptionism.objectives import Diversity, Objective
from inceptionism.precision import autocast, autocast_dtype
from inceptionism.visualize import param as parameterization
from inceptionism.visualize import transforms as robustness

log = logging.getLogger(__name__)


@dataclass
class VisualizeStep:
    """What the loop reports to a callback after each step."""

    step: int  # 1-based
    steps: int
    objective: torch.Tensor  # 0-d, on the device: call .item() only when you need it
    image: Callable[[], torch.Tensor]  # makes the current pictures (B,3,H,W in [0, 1]) when called


@dataclass
class VisualizeResult:
    """The rendered pictures and how the objective went."""

    images: torch.Tensor  # B,3,H,W in [0, 1], float32, on the CPU
    objective: list[float] = field(default_factory=list)  # one value per step (without the diversity term)
    precision: str = "fp32"  # what the network computed in


def diversity_layer(network: Network, objective: Objective) -> str:
    """The layer whose Gram matrices the diversity term compares: the objective's first
    convolutional layer, else the model's own default dream layer (a mid-level one)."""
    shapes = network.layer_shapes(objective.addresses(), size=max(64, network.min_size))
    for address, shape in shapes.items():
        if len(shape) == 3:
            return address
    return network.spec.default_layers[0]


def check(network: Network, config: VisualizeConfig) -> None:
    """What only the network can tell about a config: the picture must be at least its minimum input."""
    if min(config.width, config.height) < network.min_size:
        raise ConfigError(f"size {config.width}x{config.height} is below {network.name}'s minimum of "
                          f"{network.min_size} px a side")


def render(
    network: Network,
    objective: Objective,
    config: VisualizeConfig = VisualizeConfig(),
    *,
    callback: Callable[[VisualizeStep], None] | None = None,
    diversity_at: str | None = None,
) -> VisualizeResult:
    """Render ``objective`` from nothing: ``config.batch`` pictures of ``config.width`` x ``config.height``.

    ``diversity_at``: the layer of the diversity term (default :func:`diversity_layer`).
    Runs on the network's device; the pictures come back on the CPU.
    """
    check(network, config)
    device = next(network.parameters()).device
    objective.prepare(network)
    diversity = None
    if config.diversity > 0:
        diversity = Diversity(diversity_at or diversity_layer(network, objective))
        diversity.prepare(network)
    generator = torch.Generator().manual_seed(config.seed)
    rng = random.Random(config.seed)
    params, make = parameterization.image(config.param, config.batch, config.height, config.width,
                                          decorrelated=config.decorrelate, generator=generator, device=device)
    transform = robustness.named(config.transforms)
    optimizer = torch.optim.Adam(params, lr=config.lr)
    dtype = autocast_dtype(config.precision, device, network.spec)
    addresses = objective.addresses() + ((diversity.layer,) if diversity is not None else ())
    values: list[torch.Tensor] = []
    with network.extractor(addresses) as extract:
        for step in range(config.steps):
            optimizer.zero_grad(set_to_none=True)
            x = transform(make(), rng)
            if min(x.shape[-2:]) < network.min_size:  # a strong random scale of a small picture
                x = F.interpolate(x, size=(max(network.min_size, x.shape[-2]), max(network.min_size, x.shape[-1])),
                                  mode="bilinear", align_corners=False)
            with autocast(dtype, device):
                features = extract(x)
                value = objective(features)
                total = value + config.diversity * diversity(features) if diversity is not None else value
            (-total).backward()
            optimizer.step()
            values.append(value.detach())
            if callback is not None:
                callback(VisualizeStep(step + 1, config.steps, values[-1], lambda: _picture(make)))
    return VisualizeResult(images=_picture(make), objective=[v.item() for v in values],
                           precision="fp32" if dtype is None else "bf16")


def _picture(make: Callable[[], torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return make().float().cpu()
