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
import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from inceptionism.configs import DreamConfig  # noqa: F401 - re-exported
from inceptionism.errors import ConfigError
from inceptionism.models.network import Network
from inceptionism.objectives import Objective, mask_groups
from inceptionism.precision import autocast_dtype
from inceptionism.dream.tiling import AUTO_MIN, auto_tile, tiled_gradient
from inceptionism.ops import fit_mask, preserve_colors, resize  # noqa: F401 - the loop's, and re-exported

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
    precondition: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One jittered, normalised ascent step; returns the new image and the objective value.

    ``image`` is updated in place (it is a working buffer of the loop). ``precondition``
    maps the gradient before it is normalised (``DreamConfig.decorrelate``).
    """
    grad, value = tiled_gradient(image, objective, extract, tile=tile, offset=grid_offset, shift=shift,
                                 min_size=min_size, autocast=autocast, replicas=replicas)
    if precondition is not None:
        grad = precondition(grad)
    # The notebook's normalisation, over the whole image: divide by the mean |gradient|
    # (an L1 norm reduces without an image-sized temporary).
    scale = step_size / (torch.linalg.vector_norm(grad, ord=1) / grad.numel() + 1e-8)
    return image.add_(grad.mul_(scale)).clamp_(0, 1), value


_LAP_KERNEL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])


def _lap_kernel(like: torch.Tensor) -> torch.Tensor:
    k = torch.outer(_LAP_KERNEL, _LAP_KERNEL)
    return (k / k.sum()).to(like)[None, None].expand(like.shape[1], 1, 5, 5)


def lap_normalize(grad: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """``grad`` split into a Laplacian pyramid, each level divided by its own RMS, merged back.

    TensorFlow's 2016 DeepDream notebook (``lap_normalize``): the coarse levels,
    whose gradient is weak, get as much say as the fine ones, so the dream grows
    larger, smoother patterns instead of high-frequency speckle. As there, a level
    is blurred with the 5x5 binomial kernel and halved; the number of levels is cut
    where the image would shrink under 8 pixels.
    """
    levels = max(0, min(levels, int(math.log2(max(1, min(grad.shape[-2:]) // 8)))))
    if levels == 0:
        return grad / grad.float().pow(2).mean().sqrt().clamp_min(1e-10)
    k = _lap_kernel(grad)
    channels = grad.shape[1]

    def up(low: torch.Tensor, size: torch.Size) -> torch.Tensor:
        pad = (size[-2] - (2 * low.shape[-2] - 1), size[-1] - (2 * low.shape[-1] - 1))
        return F.conv_transpose2d(low, k * 4, stride=2, padding=2, output_padding=pad, groups=channels)

    highs, img = [], grad
    for _ in range(levels):
        low = F.conv2d(img, k, stride=2, padding=2, groups=channels)
        highs.append(img - up(low, img.shape))
        img = low
    out = img / img.float().pow(2).mean().sqrt().clamp_min(1e-10)
    for high in reversed(highs):
        out = up(out, high.shape) + high / high.float().pow(2).mean().sqrt().clamp_min(1e-10)
    return out


def masked_step(
    image: torch.Tensor,
    groups: Sequence[tuple[Objective, torch.Tensor | None]],
    extract: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    step_size: float,
    shift: tuple[int, int],
    *,
    lap_levels: int = 0,
    precondition: Callable[[torch.Tensor], torch.Tensor] | None = None,
    **tiling: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step for objectives whose terms dream through masks (or with a Laplacian-normalised gradient).

    Each group's gradient (same jitter, same tiles) is weighted by its mask and
    normalised by its mean absolute value inside the mask, so every region moves
    by ``step_size`` on average however small it is; the groups' steps add up.
    """
    total: torch.Tensor | None = None
    value = torch.zeros((), device=image.device)
    for objective, mask in groups:
        if mask is not None and not mask.any():
            continue  # this region vanished at this octave's size
        grad, v = tiled_gradient(image, objective, extract, shift=shift, **tiling)
        value = value + v
        if precondition is not None:
            grad = precondition(grad)
        if lap_levels:
            grad = lap_normalize(grad, lap_levels)
        if mask is not None:
            grad = grad.mul_(mask)
            area = mask.sum() * grad.shape[1]
        else:
            area = torch.tensor(float(grad.numel()), device=grad.device)
        grad = grad.mul_(step_size / (torch.linalg.vector_norm(grad, ord=1) / area + 1e-8))
        total = grad if total is None else total.add_(grad)
    if total is not None:
        image.add_(total).clamp_(0, 1)
    return image, value


def _transformed(extract: Callable[[torch.Tensor], dict[str, torch.Tensor]], others: Sequence[Any], name: str,
                 seed: int) -> tuple[Any, list[Any]]:
    """``extract`` (and the replicas' extractors) seeing each input through a random transform of ``name``."""
    from inceptionism.visualize.transforms import named

    transform = named(name)
    rng = random.Random(f"transforms-{seed}")
    lock = threading.Lock()  # replicas draw from the one stream, in turn

    def wrap(run: Any) -> Any:
        def transformed(x: torch.Tensor) -> dict[str, torch.Tensor]:
            with lock:
                t = random.Random(rng.random())
            return run(transform(x, t))

        transformed.network = getattr(run, "network", None)  # type: ignore[attr-defined]
        return transformed

    return wrap(extract), [wrap(o) for o in others]


def dream(
    network: Network,
    image: torch.Tensor,
    objective: Objective,
    config: DreamConfig = DreamConfig(),
    *,
    callback: Callable[[DreamStep], None] | None = None,
    replicas: Sequence[Network] = (),
    mask: torch.Tensor | None = None,
) -> DreamResult:
    """Dream ``objective`` into ``image`` (``1,3,H,W`` in [0, 1]) with ``network``.

    ``mask`` (``1,1,h,w`` in [0, 1], the image's aspect ratio, any size): the dream
    happens where it is white, fades where it is grey and leaves black untouched,
    bit for bit. Terms of ``objective`` wrapped in :class:`~inceptionism.objectives.Masked`
    dream through their own masks (within ``mask``, when both are given).

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
    groups: list[tuple[Objective, torch.Tensor | None]] = []
    for term, own in mask_groups(objective):
        masks = [m for m in (own, mask) if m is not None]
        fitted = [fit_mask(m.to(device), (height, width)) for m in masks]
        groups.append((term, fitted[0] * fitted[1] if len(fitted) == 2 else (fitted[0] if fitted else None)))
    plain = len(groups) == 1 and groups[0][1] is None and not config.lap_norm
    # where the result may differ from the input: nowhere else is it blended back
    union = None if any(m is None for _, m in groups) else torch.stack([m for _, m in groups]).amax(0)
    detail = torch.zeros_like(resize(source, sizes[0]))
    precondition = None
    if config.decorrelate:
        from inceptionism.visualize.param import precondition
    with contextlib.ExitStack() as stack:
        extract = stack.enter_context(network.extractor(objective.addresses()))
        others = [stack.enter_context(r.extractor(objective.addresses())) for r in replicas]
        if config.transforms != "none":
            # transformation robustness (visualize's): the gradient flows back through a random
            # pad/jitter/scale/rotate of each (tile of the) image, drawn from a stream of its own
            extract, others = _transformed(extract, others, config.transforms, config.seed)
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
                if plain:
                    x, value = gradient_step(x, objective, extract, config.step_size, shift, tile=tile,
                                             grid_offset=grid, min_size=network.min_size, autocast=autocast,
                                             replicas=others, precondition=precondition)
                else:
                    x, value = masked_step(x, [(o, None if m is None else resize(m, size)) for o, m in groups],
                                           extract, config.step_size, shift, lap_levels=config.lap_norm,
                                           precondition=precondition,
                                           tile=tile, offset=grid, min_size=network.min_size, autocast=autocast,
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
    if union is not None:  # black stays the input, bit for bit: source + 0 * (out - source)
        out = torch.lerp(source.float(), out.float(), union.float())
    return DreamResult(image=out.float().cpu(), objective=[v.item() for v in values], tile=used_tile,
                       precision="fp32" if autocast is None else "bf16")
