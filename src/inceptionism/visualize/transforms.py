"""Small random transformations applied before every step, so the picture must work under all of them.

"Transformation robustness" (Olah et al. 2017, Lucid's ``transform.py``): a feature
that survives being padded, shifted, rescaled and rotated by a little is a feature
of the picture, not of one pixel grid, and the high-frequency patterns that fool a
network at one alignment fade away. Each transform is a function of the image and
a :class:`random.Random`, so a run's seed fixes every draw (same seed, same picture).
"""

from __future__ import annotations

import math
import random
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from inceptionism.configs import VISUALIZE_TRANSFORMS as TRANSFORMS  # one list of the sets, the config's

Transform = Callable[[torch.Tensor, random.Random], torch.Tensor]


def pad(width: int, value: float = 0.5) -> Transform:
    """A border of ``width`` pixels of constant grey (so the picture's edges are not special)."""

    def apply(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
        return F.pad(image, (width, width, width, width), mode="constant", value=value)

    return apply


def jitter(d: int) -> Transform:
    """A random crop ``d - 1`` pixels smaller on each axis: a shift of 0 to ``d - 1`` pixels."""

    def apply(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
        if d <= 1:
            return image
        dx, dy = rng.randrange(d), rng.randrange(d)
        h, w = image.shape[-2:]
        return image[..., dy:dy + h - d + 1, dx:dx + w - d + 1]

    return apply


def _drawn(values: Sequence[float], identity: float, change: Callable[[torch.Tensor, float], torch.Tensor]) -> Transform:
    """A transform by a value drawn from ``values`` at each step (the picture as it is at ``identity``)."""
    choices = list(values)

    def apply(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
        value = rng.choice(choices)
        return image if value == identity else change(image, value)

    return apply


def random_scale(scales: Sequence[float]) -> Transform:
    """Resized by a factor drawn from ``scales`` (bilinear)."""

    def scale(image: torch.Tensor, s: float) -> torch.Tensor:
        h, w = image.shape[-2:]
        size = (max(1, round(h * s)), max(1, round(w * s)))
        return F.interpolate(image, size=size, mode="bilinear", align_corners=False)

    return _drawn(scales, 1.0, scale)


def random_rotate(degrees: Sequence[float]) -> Transform:
    """Rotated about the centre by an angle drawn from ``degrees`` (bilinear, the corners from the border)."""

    def rotate(image: torch.Tensor, angle: float) -> torch.Tensor:
        a = math.radians(angle)
        b = image.shape[0]
        theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]],
                             dtype=image.dtype, device=image.device).expand(b, 2, 3)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)

    return _drawn(degrees, 0.0, rotate)


def compose(transforms: Sequence[Transform]) -> Transform:
    def apply(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
        for t in transforms:
            image = t(image, rng)
        return image

    return apply


def standard() -> list[Transform]:
    """Lucid's ``standard_transforms``: pad 12, jitter 8, scale 0.9-1.1, rotate up to 10 degrees, jitter 4."""
    return [pad(12), jitter(8), random_scale([1 + (i - 5) / 50.0 for i in range(11)]),
            random_rotate(list(range(-10, 11)) + 5 * [0]), jitter(4)]


def strong() -> list[Transform]:
    """Larger moves than :func:`standard` (pad 16, jitter 16, scale 0.8-1.2, rotate up to 20 degrees):
    simpler, bolder shapes, at some cost in detail."""
    return [pad(16), jitter(16), random_scale([1 + (i - 10) / 50.0 for i in range(21)]),
            random_rotate(list(range(-20, 21)) + 10 * [0]), jitter(8)]


def named(name: str) -> Transform:
    """The transform set ``name`` ("none", "standard" or "strong") as one function."""
    if name == "none":
        return compose([])
    if name == "standard":
        return compose(standard())
    if name == "strong":
        return compose(strong())
    from inceptionism.errors import ConfigError

    raise ConfigError(f"transforms must be one of {', '.join(TRANSFORMS)}, got {name!r}")
