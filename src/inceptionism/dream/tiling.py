"""Tiled gradients: any image size in memory that depends on the tile, not the image.

As in the TF DeepDream tutorial's ``TiledGradients``: the jitter-rolled image is
cut into tiles (gathered across the roll's wrap-around, so the rolled image is
never copied whole), the objective's gradient is computed tile by tile into
one buffer, and the caller normalises that buffer over the *whole* image (per-tile
normalisation shows the grid). When more than one tile is needed the grid itself
is shifted by a random offset every step, so seams never stay in one place.

Each tile's objective is weighted by its share of the image's area, so the tiled
objective approximates the whole-image mean; an image that fits in one tile takes
exactly the untiled path.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Callable, Iterable, Sequence

import torch

from inceptionism.models.network import Network
from inceptionism.objectives import Objective
from inceptionism.precision import autocast as autocast_to

log = logging.getLogger(__name__)

#: Bounds of an automatically chosen tile side.
AUTO_MIN, AUTO_MAX = 256, 4096


def tile_spans(length: int, tile: int, offset: int, min_size: int) -> list[tuple[int, int]]:
    """Cut ``[0, length)`` at ``offset + k * tile``; no piece shorter than ``min_size``.

    A piece that would be too short for the model is merged into its neighbour.
    """
    if length <= tile:
        return [(0, length)]
    cuts = [0] + [c for c in range(offset % tile, length, tile) if 0 < c < length] + [length]
    spans = list(zip(cuts[:-1], cuts[1:]))
    merged: list[tuple[int, int]] = []
    for start, stop in spans:
        if merged and (stop - start < min_size or merged[-1][1] - merged[-1][0] < min_size):
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def _wrapped(start: int, stop: int, shift: int, length: int) -> list[tuple[int, int]]:
    """Where rows ``[start, stop)`` of an image rolled by ``shift`` lie in the original."""
    first = (start - shift) % length
    if first + (stop - start) <= length:
        return [(first, first + stop - start)]
    return [(first, length), (0, first + stop - start - length)]


def tiled_gradient(
    x: torch.Tensor,
    objective: Objective,
    extract: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    *,
    tile: int | None,
    offset: tuple[int, int] = (0, 0),
    shift: tuple[int, int] = (0, 0),
    min_size: int = 1,
    autocast: torch.dtype | None = None,
    replicas: Sequence[Callable[[torch.Tensor], dict[str, torch.Tensor]]] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of ``objective`` at ``x`` rolled by ``shift``, and its value, tile by tile.

    The gradient comes back in ``x``'s own (unrolled) coordinates. Only tiles are
    gathered across the roll's wrap-around: the rolled image is never made whole,
    so a huge image costs one image-sized buffer (the gradient) here, not three.

    ``replicas``: extractors of copies of the network on other devices. The step's
    tiles are dealt out among ``extract`` and them, each device working through its
    share in a thread of its own; gradients are written back and values summed in
    tile order, so the result is the one a single device gives.
    """
    height, width = x.shape[-2:]
    dy, dx = shift
    if tile is None or (height <= tile and width <= tile):
        rolled = torch.roll(x, shifts=(dy, dx), dims=(2, 3)) if (dy or dx) else x
        grad, value = _gradient(rolled, objective, extract, autocast)
        del rolled
        return (torch.roll(grad, shifts=(-dy, -dx), dims=(2, 3)) if (dy or dx) else grad), value
    grad = torch.empty_like(x)
    area = float(height * width)
    tiles = [(_wrapped(y0, y1, dy, height), _wrapped(x0, x1, dx, width), (y1 - y0) * (x1 - x0) / area)
             for y0, y1 in tile_spans(height, tile, offset[0], min_size)
             for x0, x1 in tile_spans(width, tile, offset[1], min_size)]

    def cut(rows: list[tuple[int, int]], cols: list[tuple[int, int]]) -> torch.Tensor:
        return torch.cat([torch.cat([x[:, :, r0:r1, c0:c1] for c0, c1 in cols], dim=3) for r0, r1 in rows], dim=2)

    def paste(rows: list[tuple[int, int]], cols: list[tuple[int, int]], g: torch.Tensor) -> None:
        top = 0
        for r0, r1 in rows:
            left = 0
            for c0, c1 in cols:
                grad[:, :, r0:r1, c0:c1] = g[:, :, top:top + r1 - r0, left:left + c1 - c0]
                left += c1 - c0
            top += r1 - r0

    values: list[torch.Tensor] = []
    if not replicas:
        for rows, cols, weight in tiles:
            g, value = _gradient(cut(rows, cols), objective, extract, autocast, weight)
            paste(rows, cols, g)
            values.append(value)
    else:
        from concurrent.futures import ThreadPoolExecutor

        extracts = [extract, *replicas]

        def work(device_index: int) -> list[tuple[int, torch.Tensor, torch.Tensor]]:
            run, done = extracts[device_index], []
            device = _device_of(run, x.device)
            for i in range(device_index, len(tiles), len(extracts)):
                rows, cols, weight = tiles[i]
                g, value = _gradient(cut(rows, cols).to(device), objective, run, autocast, weight)
                done.append((i, g.to(x.device), value.to(x.device)))
            return done

        with ThreadPoolExecutor(max_workers=len(extracts)) as pool:
            results = sorted((item for part in pool.map(work, range(len(extracts))) for item in part),
                             key=lambda item: item[0])
        for (i, g, value), (rows, cols, _) in zip(results, tiles):
            paste(rows, cols, g)
            values.append(value)
    total = torch.zeros((), device=x.device)
    for value in values:  # in tile order, whichever device computed which
        total += value
    return grad, total


def _device_of(extract: Callable[..., object], default: torch.device) -> torch.device:
    network = getattr(extract, "network", None)
    param = next(network.parameters(), None) if network is not None else None
    return param.device if param is not None else default


def _gradient(
    x: torch.Tensor,
    objective: Objective,
    extract: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    autocast: torch.dtype | None,
    weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    with autocast_to(autocast, x.device):
        value = objective(extract(x))
    if weight != 1.0:
        value = value * weight
    (grad,) = torch.autograd.grad(value, x)
    return grad, value.detach().float()


def _available_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def bytes_per_pixel(network: Network, addresses: Iterable[str], size: int = 128) -> float:
    """Memory a forward and backward pass to ``addresses`` costs per input pixel.

    Measured on a probe: the outputs of every module that runs before the forward
    stops, counted twice (kept for the backward pass, then their gradients).
    """
    param = next(network.parameters())
    size = max(size, 2 * network.min_size)
    seen = [0]

    def count(module: torch.nn.Module, inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor) and not list(module.children()):
            seen[0] += output.numel() * output.element_size()

    handles = [m.register_forward_hook(count) for m in network.net.modules()]
    try:
        x = torch.rand(1, 3, size, size, device=param.device, dtype=param.dtype)
        with torch.no_grad(), network.extractor(addresses) as extract:
            extract(x)
    finally:
        for h in handles:
            h.remove()
    return 2.0 * seen[0] / (size * size) + 64.0  # + the image, its gradient and buffers


def auto_tile(network: Network, addresses: Iterable[str], *, fraction: float = 0.5) -> int:
    """The largest tile side whose pass fits in ``fraction`` of the free device memory."""
    device = next(network.parameters()).device
    per_pixel = bytes_per_pixel(network, addresses)
    budget = fraction * _available_bytes(device)
    side = int(math.sqrt(max(budget, 0) / per_pixel)) // 64 * 64
    side = max(AUTO_MIN, min(AUTO_MAX, side))
    log.debug("auto tile: %.0f bytes/pixel, %.1f GB free -> %d px", per_pixel, budget / 1e9, side)
    return side
