"""The DeepDream loop: octaves, jitter, normalised gradient ascent.

Follows Google's original notebook (``deepdream.ipynb``, 2015): the image is
processed from the smallest octave up, the detail the dream added at one scale is
carried up to the next, each step rolls the image by a random jitter, takes the
gradient of the objective, divides it by its mean absolute value and steps.
Departures from the notebook: images are RGB in [0, 1] (the notebook worked in
Caffe's mean-subtracted BGR 0-255 space, so its step of 1.5 is about 0.006 here),
pixels are clamped to range after each step, and octave sizes never go below the
model's minimum input size.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from inceptionism.configs import DreamConfig  # noqa: F401 - re-exported
from inceptionism.errors import ConfigError
from inceptionism.models.network import Network
from inceptionism.objectives import Objective
from inceptionism.precision import autocast_dtype
from inceptionism.dream.tiling import AUTO_MIN, auto_tile, tiled_gradient

log = logging.getLogger(__name__)


@dataclass
class DreamStep:
    """What the loop reports to a callback after each step."""

    octave: int  # 0-based, smallest first
    octaves: int
    step: int  # 1-based within the octave
    steps: int
    objective: torch.Tensor  # 0-d, on the device: call .item() only when you need it
    image: torch.Tensor  # current image at this octave's size (do not modify)


@dataclass
class DreamResult:
    """The dreamed image and how the objective went."""

    image: torch.Tensor  # 1,3,H,W in [0, 1], on the CPU
    objective: list[float] = field(default_factory=list)  # one value per step, in order
    tile: int | None = None  # the tile side used (None: the image was never tiled)
    precision: str = "fp32"  # what the network computed in: "bf16" or "fp32" (config.precision resolved)


def octave_sizes(height: int, width: int, octaves: int, scale: float, min_size: int) -> list[tuple[int, int]]:
    """Sizes of the octaves, smallest first, none with a side under ``min_size``.

    Octaves that would be too small are dropped; an image already smaller than the
    model's minimum is worked on at the minimum.
    """
    grow = max(1.0, min_size / min(height, width))
    h0, w0 = height * grow, width * grow
    sizes = []
    for i in range(octaves):
        h, w = round(h0 / scale**i), round(w0 / scale**i)
        if min(h, w) < min_size:
            break
        sizes.append((h, w))
    return sizes[::-1]


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrinking = size[0] < image.shape[-2]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrinking)


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def preserve_colors(result: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """``result``'s luminance with ``original``'s chrominance (YIQ)."""
    m = _RGB_TO_YIQ.to(result)
    original = resize(original.to(result), tuple(result.shape[-2:]))
    yiq_r = torch.einsum("ij,bjhw->bihw", m, result)
    yiq_o = torch.einsum("ij,bjhw->bihw", m, original)
    mixed = torch.cat([yiq_r[:, :1], yiq_o[:, 1:]], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(m), mixed).clamp(0, 1)


def replicate(network: Network, devices: Sequence[torch.device | str]) -> list[Network]:
    """Copies of ``network`` on ``devices`` (for :func:`dream`'s ``replicas``)."""
    return [copy.deepcopy(network).to(device) for device in devices]


def noise_image(width: int, height: int, *, seed: int = 0) -> torch.Tensor:
    """A grey image with a little uniform noise, the usual start of a dream from nothing."""
    if width < 1 or height < 1:
        raise ConfigError(f"noise size must be positive, got {width}x{height}")
    g = torch.Generator().manual_seed(seed)
    return 0.5 + 0.1 * (torch.rand(1, 3, height, width, generator=g) - 0.5)


def gradient_step(
    image: torch.Tensor,
    objective: Objective,
    extract: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    step_size: float,
    shift: tuple[int, int],
    *,
    tile: int | None = None,
    grid_offset: tuple[int, int] = (0, 0),
    min_size: int = 1,
    autocast: torch.dtype | None = None,
    replicas: Sequence[Callable[[torch.Tensor], dict[str, torch.Tensor]]] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """One jittered, normalised ascent step; returns the new image and the objective value.

    ``image`` is updated in place (it is a working buffer of the loop).
    """
    grad, value = tiled_gradient(image, objective, extract, tile=tile, offset=grid_offset, shift=shift,
                                 min_size=min_size, autocast=autocast, replicas=replicas)
    # The notebook's normalisation, over the whole image: divide by the mean |gradient|
    # (an L1 norm reduces without an image-sized temporary).
    scale = step_size / (torch.linalg.vector_norm(grad, ord=1) / grad.numel() + 1e-8)
    return image.add_(grad.mul_(scale)).clamp_(0, 1), value


def dream(
    network: Network,
    image: torch.Tensor,
    objective: Objective,
    config: DreamConfig = DreamConfig(),
    *,
    callback: Callable[[DreamStep], None] | None = None,
    replicas: Sequence[Network] = (),
) -> DreamResult:
    """Dream ``objective`` into ``image`` (``1,3,H,W`` in [0, 1]) with ``network``.

    Runs on the network's device; returns the image on the CPU at the input size.
    ``replicas``: copies of the network on other devices (:func:`replicate`); the
    tiles of every step are shared among all of them and their gradients summed
    into the one image buffer, which stays on ``network``'s device. The result is
    the single-device one. Only a tiled image has tiles to share.
    """
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ConfigError(f"image must be a 1,3,H,W tensor, got shape {tuple(image.shape)}")
    param = next(network.parameters())
    device, dtype = param.device, param.dtype
    source = image.to(device=device, dtype=dtype)
    height, width = source.shape[-2:]
    objective.prepare(network)
    sizes = octave_sizes(height, width, config.octaves, config.octave_scale, network.min_size)
    rng = random.Random(config.seed)
    largest = sizes[-1]
    tile = config.tile
    if tile == "auto":
        # no image smaller than the smallest automatic tile is ever tiled: skip the probe
        tile = auto_tile(network, objective.addresses()) if max(largest) > AUTO_MIN else None
    autocast = autocast_dtype(config.precision, device, network.spec)
    used_tile = tile if tile is not None and max(largest) > tile else None
    values: list[torch.Tensor] = []
    detail = torch.zeros_like(resize(source, sizes[0]))
    with contextlib.ExitStack() as stack:
        extract = stack.enter_context(network.extractor(objective.addresses()))
        others = [stack.enter_context(r.extractor(objective.addresses())) for r in replicas]
        for octave, size in enumerate(sizes):
            base = resize(source, size)
            detail = resize(detail, size)
            x = (base + detail).clamp_(0, 1)
            del detail
            tiled = tile is not None and max(size) > tile
            for step in range(config.steps):
                shift = (rng.randint(-config.jitter, config.jitter), rng.randint(-config.jitter, config.jitter))
                # with several tiles, move the grid too so that seams never stay in one place
                grid = (rng.randrange(tile), rng.randrange(tile)) if tiled else (0, 0)
                x, value = gradient_step(x, objective, extract, config.step_size, shift, tile=tile,
                                         grid_offset=grid, min_size=network.min_size, autocast=autocast,
                                         replicas=others)
                values.append(value)
                if callback is not None:
                    callback(DreamStep(octave, len(sizes), step + 1, config.steps, value, x))
            if octave < len(sizes) - 1:
                detail = x.sub_(base)  # noqa: F841 - what the dream added, carried up to the next octave
                del x, base
    out = resize(x, (height, width)).clamp_(0, 1)
    if config.preserve_colors:
        out = preserve_colors(out, source)
    return DreamResult(image=out.float().cpu(), objective=[v.item() for v in values], tile=used_tile,
                       precision="fp32" if autocast is None else "bf16")
