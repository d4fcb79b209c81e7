"""Frame loops: Google's endless zoom, and dreaming over a video.

Zoom: every frame dreams on the previous output after a small zoom, rotation and
pan, so new hallucinations keep growing out of the old ones. Each frame is written
as soon as it is made and the loop continues from the frame *as written* (8-bit),
so a resumed run is identical to an uninterrupted one.

Video: each source frame is dreamed; with ``blend`` it starts from a mix of the
new frame and the previous dream, and with ``flow`` that previous dream is first
warped along the optical flow between the two source frames (Farneback), so the
patterns move with the scene instead of flickering.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from inceptionism.animate.frames import FrameStore, quantize
from inceptionism.animate.schedule import Schedule
from inceptionism.dream import DreamConfig, dream
from inceptionism.ops import fit_mask
from inceptionism.errors import ConfigError
from inceptionism.jobs import frame_tensor
from inceptionism.models.network import Network
from inceptionism.objectives import Objective


def transform(image: torch.Tensor, *, zoom: float = 1.0, rotate: float = 0.0, pan: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """Zoom in by ``zoom`` about the centre, rotate by ``rotate`` degrees, pan by (dx, dy) pixels.

    Sampling is bilinear with reflected borders, so no black corners appear.
    """
    if not (zoom > 0 and math.isfinite(zoom)):
        raise ConfigError(f"zoom must be a positive number, got {zoom}")
    if zoom == 1.0 and rotate == 0.0 and pan == (0.0, 0.0):
        return image
    _, _, h, w = image.shape
    a = math.radians(rotate)
    c, s = math.cos(a) / zoom, math.sin(a) / zoom
    # rotation in pixel space, expressed in the [-1, 1] coordinates of affine_grid
    theta = torch.tensor([[c, -s * h / w, 2 * pan[0] / w], [s * w / h, c, 2 * pan[1] / h]],
                         dtype=image.dtype, device=image.device)[None]
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def zoom_loop(
    network: Network,
    start: torch.Tensor,
    schedule: Schedule,
    config: DreamConfig,
    *,
    frames: int,
    every: int,
    store: FrameStore,
    objective_for: Callable[[tuple[str, ...]], Objective],
    callback: Callable[[int, int], None] | None = None,
    mask: torch.Tensor | None = None,
) -> int:
    """Write frames ``store.last()+1 .. frames``; returns the number of frames now on disk.

    Frame ``n`` (from 1) is ``every`` dream steps on the transformed frame ``n-1``
    (frame 0 is ``start``), seeded with ``config.seed + n``.
    """
    if frames < 1 or every < 1:
        raise ConfigError(f"frames and every must be at least 1, got {frames} and {every}")
    done = store.last()
    previous = quantize(start) if done == 0 else store.read(done)
    for n in range(done + 1, frames + 1):
        p = schedule.at(n - 1)
        moved = transform(previous, zoom=p.zoom, rotate=p.rotate, pan=(p.pan_x, p.pan_y))
        step_config = replace(config, steps=every, step_size=p.step_size, seed=config.seed + n)
        result = dream(network, moved, objective_for(p.layers), step_config, mask=mask)
        store.write(n, result.image)
        previous = quantize(result.image)
        if callback is not None:
            callback(n, frames)
    return frames


def optical_flow(previous_frame: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Farneback flow from ``frame`` back to ``previous_frame``: where each new pixel came from (``H,W,2``)."""
    import cv2

    prev_gray = cv2.cvtColor(previous_frame, cv2.COLOR_RGB2GRAY)
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.calcOpticalFlowFarneback(gray, prev_gray, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def move(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (of the previous frame) moved along ``flow`` (from :func:`optical_flow`) to the new frame."""
    import cv2

    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def flow_warp(previous_dream: np.ndarray, previous_frame: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``previous_dream`` moved along the optical flow from ``previous_frame`` to ``frame``."""
    return move(previous_dream, optical_flow(previous_frame, frame))


def _to_array(image: torch.Tensor) -> np.ndarray:
    return (image[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def video_loop(
    network: Network,
    frames: Iterable[np.ndarray],
    objective: Objective,
    config: DreamConfig,
    *,
    store: FrameStore,
    blend: float = 0.0,
    flow: bool = False,
    callback: Callable[[int], None] | None = None,
    mask: torch.Tensor | None = None,
) -> int:
    """Dream every frame of ``frames`` into ``store``; returns how many frames it holds.

    With ``mask``, what lies outside it is the frame itself (not the blend with
    the previous dream that the dream started from), so nothing ghosts there.

    Frames already in the store (a resumed run) are skipped, wherever they are,
    and the loop dreams the missing ones.
    """
    if not 0.0 <= blend < 1.0:
        raise ConfigError(f"blend must be in [0, 1), got {blend}")
    done = set(store.frame_numbers())  # any frames, not only the first ones (a cluster run finishes out of order)
    previous_frame: np.ndarray | None = None
    previous_dream: np.ndarray | None = None
    count = 0
    for count, frame in enumerate(frames, start=1):
        if count in done:
            previous_frame = frame
            previous_dream = None
            continue
        if blend > 0 and previous_dream is None and count > 1:
            previous_dream = _to_array(store.read(count - 1))
        start = frame
        if previous_dream is not None and blend > 0:
            carried = flow_warp(previous_dream, previous_frame, frame) if flow else previous_dream
            start = ((1 - blend) * frame.astype(np.float32) + blend * carried.astype(np.float32) + 0.5).astype(np.uint8)
        result = dream(network, frame_tensor(start), objective, config, mask=mask)
        if mask is not None and start is not frame:
            fitted = fit_mask(mask, tuple(result.image.shape[-2:]))
            result.image = torch.lerp(frame_tensor(frame), result.image, fitted)
        store.write(count, result.image)
        previous_dream = _to_array(quantize(result.image))
        previous_frame = frame
        if callback is not None:
            callback(count)
    return count


#: the mean RGB difference (0-255) at which the flow counts as not explaining a pixel (:func:`flow_reliability`)
RELIABILITY_TOLERANCE = 24.0


def flow_reliability(previous_frame: np.ndarray, frame: np.ndarray, flow: np.ndarray, *,
                     tolerance: float = RELIABILITY_TOLERANCE) -> np.ndarray:
    """Per pixel, 1 where the flow explains the new frame (the previous frame moved along it matches) down to 0.

    ``tolerance``: the mean RGB difference (0-255) at which a pixel counts as unexplained
    (occlusions, the scene's edges, lighting changes): there the new stylisation is kept.
    """
    error = np.abs(move(previous_frame, flow).astype(np.float32) - frame.astype(np.float32)).mean(axis=2)
    return np.clip(1.0 - error / tolerance, 0.0, 1.0)


def stylize_video_loop(
    stylize: Callable[[torch.Tensor], torch.Tensor],
    frames: Iterable[np.ndarray],
    *,
    store: FrameStore,
    flow: bool = False,
    blend: float = 0.5,
    callback: Callable[[int], None] | None = None,
) -> int:
    """Stylise every frame of ``frames`` into ``store``; returns how many frames it holds.

    A feed-forward network stylises each frame on its own, so its strokes change from
    frame to frame (flicker). With ``flow``, the previous stylised frame is moved
    along the optical flow to the new frame and mixed in, by ``blend``, wherever the
    flow explains the new frame (:func:`flow_reliability`): strokes travel with the
    scene. Frames already in the store (a resumed run) are skipped.
    """
    if not 0.0 <= blend < 1.0:
        raise ConfigError(f"blend must be in [0, 1), got {blend}")
    done = set(store.frame_numbers())
    previous_frame: np.ndarray | None = None
    previous_out: np.ndarray | None = None
    count = 0
    for count, frame in enumerate(frames, start=1):
        if count in done:
            previous_frame, previous_out = frame, None
            continue
        if flow and previous_out is None and count - 1 in done:
            previous_out = _to_array(store.read(count - 1))
        out = stylize(frame_tensor(frame))
        if flow and previous_out is not None and previous_frame is not None:
            field = optical_flow(previous_frame, frame)
            carried = move(previous_out, field)
            weight = torch.from_numpy(blend * flow_reliability(previous_frame, frame, field))[None, None]
            carried_t = torch.from_numpy(carried.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
            out = out * (1 - weight) + carried_t * weight
        store.write(count, out)
        previous_out = _to_array(quantize(out))
        previous_frame = frame
        if callback is not None:
            callback(count)
    return count
