"""Work that runs the same in this process or on a cluster worker: set up once, then item after item.

A job is a small picklable description (model, objective, settings); ``setup()``
loads the network once and returns a runner whose ``run(key, payload)`` does one
item and returns what the driver writes (encoded image bytes) or assembles (a
sweep's cell). The command line runs items through the runner itself, or hands
the job to :mod:`inceptionism.cluster` to run on Ray actors: the same code, so
the same bytes, whichever runs it. Workers read nothing from the driver's disk:
input images and user checkpoints travel as bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch


def _with_file(data: bytes | None, path: str | None, suffix: str) -> str | None:
    """``path`` where it exists here, else ``data`` written to a temporary file (a worker on another machine)."""
    if path is None or path == "random":
        return path
    if data is None or os.path.isfile(path):
        return path
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="inceptionism-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return tmp


def _file_bytes(path: str | None) -> bytes | None:
    if path is None or path == "random" or path.startswith("skimage:") or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()


# -- dream -------------------------------------------------------------------------
@dataclass(frozen=True)
class DreamJob:
    """Dream many images with one network and objective."""

    model: str | None
    weights: str | None
    layers: tuple[str, ...] | None
    guide: str | None
    class_value: str | None
    topic: str | None
    word: str | None
    config: Any  # DreamConfig
    device: str = "auto"
    quality: int = 95
    #: fields every output's recipe carries besides the per-image ones
    recipe: tuple[tuple[str, Any], ...] = ()
    weights_data: bytes | None = None
    guide_data: bytes | None = None
    #: more devices whose network copies share each step's tiles (``--devices``); the first is ``device``
    devices: tuple[str, ...] = ()
    #: (-1 for the whole image or the index of a layer in ``layers``, the mask image)
    masks: tuple[tuple[int, str], ...] = ()
    invert_mask: bool = False
    mask_data: tuple[bytes | None, ...] = ()
    #: an input whose long side is over this many pixels is shrunk to it first (0: dreamed as it is)
    max_side: int = 0

    def portable(self) -> "DreamJob":
        """The job with its files' bytes inside, for workers that do not share this disk."""
        return replace(self, weights_data=_file_bytes(self.weights), guide_data=_file_bytes(self.guide),
                       mask_data=tuple(_file_bytes(path) for _, path in self.masks))

    def setup(self, *, network: Any = None, objective: Any = None) -> "DreamRunner":
        return DreamRunner(self, network=network, objective=objective)


def dream_recipe(weights: str | None, guide: str | None, topic: Any, word: Any, noise: str | None) -> tuple[tuple[str, Any], ...]:
    """The fields a dream's recipe carries besides the network's and the picture's (the command line's and the
    library's dreams alike, so that one recipe makes the same bytes through either)."""
    from inceptionism import __version__
    from inceptionism.paths import source_label

    return (("command", "dream"), ("version", __version__), ("weights", weights or "pretrained"),
            ("guide", source_label(guide)), ("topic", topic), ("word", word), ("noise", noise))


class DreamRunner:
    """A :class:`DreamJob` set up: its network loaded (or the one given), its objective built (or the one given:
    any :class:`~inceptionism.objectives.Objective`, which the recipe then names but cannot repeat)."""

    def __init__(self, job: DreamJob, *, network: Any = None, objective: Any = None):
        from inceptionism.devices import resolve_device, resolve_devices
        from inceptionism.dream.loop import replicate
        from inceptionism.io.images import load_image, load_image_bytes, mask_tensor
        from inceptionism.models import get_model
        from inceptionism.objectives import build_objective

        self.job = job
        devices = resolve_devices(",".join(job.devices)) if job.devices else []
        self.device = devices[0] if devices else resolve_device(job.device)
        weights = _with_file(job.weights_data, job.weights, ".safetensors" if (job.weights or "").endswith(
            ".safetensors") else ".pt")
        self.network = network if network is not None else \
            get_model(job.model, weights=weights, device=self.device, progress=False)
        self.replicas = replicate(self.network, devices[1:])
        guide = None
        if job.guide:
            guide = (load_image_bytes(job.guide_data, job.guide) if job.guide_data is not None
                     else load_image(job.guide)).rgb
        self.guide = guide
        masks = {}
        for n, (index, path) in enumerate(job.masks):
            data = job.mask_data[n] if n < len(job.mask_data) else None
            masks[index] = mask_tensor(load_image_bytes(data, path) if data is not None else load_image(path),
                                       invert=job.invert_mask)
        self.mask_paths = {index: path for index, path in job.masks}
        self.masks = dict(masks)
        #: the whole image's mask (--mask before any --layer), or None
        self.mask = masks.pop(-1, None)
        self.custom = objective
        if objective is not None:
            self.objective, self.chosen = objective, []
        else:
            self.objective, self.chosen = build_objective(self.network, job.layers, guide=guide,
                                                          class_value=job.class_value, topic=job.topic, word=job.word,
                                                          masks=masks)
        self.objective.prepare(self.network)

    def dream(self, start: torch.Tensor, callback: Any = None) -> Any:
        from inceptionism.dream import dream

        return dream(self.network, start, self.objective, self.job.config, callback=callback, replicas=self.replicas,
                     mask=self.mask)

    def check_masks(self, size: tuple[int, int]) -> None:
        """Each mask fits an image of ``size`` (``H, W``): the same aspect ratio, or one clear error naming it."""
        from inceptionism.ops import fit_mask

        for index, mask in self.masks.items():
            fit_mask(mask, size, what=self.mask_paths[index])

    def meta(self, label: str | None, data: bytes | None, tile: Any = None, precision: str | None = None) -> dict[str, Any]:
        """The recipe an output records (the same here and on any worker)."""
        from inceptionism.objectives import class_index
        from inceptionism.precision import resolve_precision

        job = self.job
        targeted = job.class_value is not None or job.topic is not None or job.word is not None
        return {
            **dict(job.recipe),
            "model": self.network.name,
            "layers": [str(a) for a in self.chosen] if (job.layers or job.guide or not targeted) else [],
            **({"objective": repr(self.custom)} if self.custom is not None else {}),
            "class": class_index(job.class_value, self.network.categories) if job.class_value is not None else None,
            "input": label,
            "input_sha256": hashlib.sha256(data).hexdigest() if data else None,
            **({"masks": [[index, path] for index, path in job.masks], "invert_mask": job.invert_mask}
               if job.masks else {}),
            **({"max_side": job.max_side} if job.max_side else {}),
            # the tile and precision actually used, so that --from reproduces the image on any machine
            "config": {**job.config.to_dict(), "tile": tile, "precision": precision or resolve_precision(job.config.precision, self.device,
                                                                         self.network.spec)},
            "device": str(self.device),
            **_threads(self.device),
        }

    def picture(self, image: Any, label: str | None, data: bytes | None,
                callback: Any = None) -> tuple[Any, Any, dict[str, Any]]:
        """Dream one loaded picture (shrunk to ``max_side`` first): (the result, the picture as dreamed from, its
        recipe). ``label`` and ``data`` are how the recipe names the input and its bytes' digest."""
        from inceptionism.io.images import shrink

        image = shrink(image, self.job.max_side)
        self.check_masks(tuple(image.rgb.shape[-2:]))
        result = self.dream(image.rgb, callback)
        return result, image, self.meta(label, data, result.tile, result.precision)

    def run(self, key: str, payload: tuple[str, bytes, str], callback: Any = None) -> bytes:
        """Dream one image; ``payload`` is (its label in the recipe, its bytes, the output format)."""
        from inceptionism.io.images import encode_image, load_image_bytes

        label, data, fmt = payload
        result, image, meta = self.picture(load_image_bytes(data, key), label, data, callback)
        return encode_image(result.image, fmt, alpha=image.alpha, metadata=meta, quality=self.job.quality)


def _threads(device: Any) -> dict[str, int]:
    """The CPU thread count a result was computed with (its last bits depend on it), for the recipe."""
    return {"threads": torch.get_num_threads()} if str(device).startswith("cpu") else {}


# -- visualize ----------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """What one visualised picture shows: the objective's choices, as the command line gives them."""

    layers: tuple[str, ...] = ()
    neurons: tuple[str, ...] = ()
    class_value: str | None = None
    topic: str | None = None
    word: str | None = None
    label: str = ""

    def fields(self) -> dict[str, Any]:
        """The recipe's fields for this target."""
        return {"layers": list(self.layers), "neurons": list(self.neurons), "class": self.class_value,
                "topic": self.topic, "word": self.word}


@dataclass(frozen=True)
class VisualizeJob:
    """Render targets from nothing with one network and one config (a picture, or an atlas's tiles)."""

    model: str | None
    weights: str | None
    config: Any  # VisualizeConfig
    device: str = "auto"
    recipe: tuple[tuple[str, Any], ...] = ()
    weights_data: bytes | None = None

    def portable(self) -> "VisualizeJob":
        return replace(self, weights_data=_file_bytes(self.weights))

    def setup(self, *, network: Any = None) -> "VisualizeRunner":
        return VisualizeRunner(self, network=network)


def visualize_recipe(weights: str | None, *, label: str | None = None) -> tuple[tuple[str, Any], ...]:
    """The fields a visualisation's recipe carries besides the target's and the network's (command line and
    library alike); ``label`` names weights that are no file (a module in memory)."""
    from inceptionism import __version__
    from inceptionism.paths import source_label

    return (("command", "visualize"), ("version", __version__),
            ("weights", label or source_label(weights) or "pretrained"))


class VisualizeRunner:
    def __init__(self, job: VisualizeJob, *, network: Any = None):
        from inceptionism.devices import resolve_device
        from inceptionism.models import get_model
        from inceptionism.visualize.render import check

        self.job = job
        self.device = resolve_device(job.device)
        weights = _with_file(job.weights_data, job.weights, ".safetensors" if (job.weights or "").endswith(
            ".safetensors") else ".pt")
        self.network = network if network is not None else \
            get_model(job.model, weights=weights, device=self.device, progress=False)
        check(self.network, job.config)

    def objective(self, target: Target) -> Any:
        """The target's objective, checked against the network (unknown names and channels are one line here)."""
        from inceptionism.objectives import build_objective

        objective, _ = build_objective(self.network, list(target.layers) or None, class_value=target.class_value,
                                       topic=target.topic, word=target.word, neurons=target.neurons)
        objective.prepare(self.network)
        return objective

    def meta(self, target: Target, precision: str | None = None) -> dict[str, Any]:
        """The recipe an output records (the same here and on any worker)."""
        from inceptionism.objectives import class_index
        from inceptionism.precision import resolve_precision

        fields = target.fields()
        if target.class_value is not None:
            fields["class"] = class_index(target.class_value, self.network.categories)
        return {**dict(self.job.recipe), **fields, "model": self.network.name, "label": target.label or None,
                "config": {**self.job.config.to_dict(),
                           "precision": precision or resolve_precision(self.job.config.precision, self.device,
                                                                       self.network.spec)},
                "device": str(self.device), **_threads(self.device)}

    def render(self, target: Target, callback: Any = None) -> Any:
        from inceptionism.visualize import render

        return render(self.network, self.objective(target), self.job.config, callback=callback)

    def run(self, key: str, payload: tuple[Target, str], callback: Any = None) -> bytes:
        """Render one target; ``payload`` is (the target, the output format). Several pictures: side by side."""
        from inceptionism.io.images import encode_image
        from inceptionism.io.sheets import side_by_side

        target, fmt = payload
        result = self.render(target, callback)
        return encode_image(side_by_side(result.images), fmt, metadata=self.meta(target, result.precision))


# -- sweep -------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepJob:
    """The cells of a sweep: one input, one network, a config per cell."""

    dream: DreamJob
    input: str
    input_data: bytes

    def portable(self) -> "SweepJob":
        return replace(self, dream=self.dream.portable())

    def setup(self) -> "SweepRunner":
        return SweepRunner(self)


class SweepRunner:
    def __init__(self, job: SweepJob):
        from inceptionism.io.images import load_image_bytes

        self.job = job
        self.runner = job.dream.setup()
        self.image = load_image_bytes(job.input_data, job.input).rgb
        self.objectives: dict[str, Any] = {}

    def run(self, key: str, payload: dict[str, Any]) -> np.ndarray:
        """One cell: ``payload`` holds its layer (``A+B`` for several), steps, step size and octaves."""
        from inceptionism.dream import dream
        from inceptionism.io.images import to_pil
        from inceptionism.objectives import build_objective

        layer = payload["layer"]
        if layer not in self.objectives:
            job = self.job.dream
            self.objectives[layer], _ = build_objective(
                self.runner.network, layer.split("+"), guide=self.runner.guide, class_value=job.class_value,
                topic=job.topic, word=job.word)
        # every other setting is the sweep's own (seed, jitter, precision, transforms...), as dream's options give it
        config = replace(self.job.dream.config, steps=payload["steps"], step_size=payload["step_size"],
                         octaves=payload["octaves"])
        result = dream(self.runner.network, self.image, self.objectives[layer], config, mask=self.runner.mask)
        return np.asarray(to_pil(result.image))


# -- video frames --------------------------------------------------------------------
@dataclass(frozen=True)
class FrameJob:
    """Frames of a video dreamed one by one (no --blend/--flow: every frame stands alone)."""

    dream: DreamJob
    recipe: tuple[tuple[str, Any], ...]

    def portable(self) -> "FrameJob":
        return replace(self, dream=self.dream.portable())

    def setup(self) -> "FrameRunner":
        return FrameRunner(self)


def frame_tensor(frame: np.ndarray) -> torch.Tensor:
    """An ``H,W,3`` uint8 video frame as a ``1,3,H,W`` float image."""
    return torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


class FrameRunner:
    def __init__(self, job: FrameJob):
        self.job = job
        self.runner = job.dream.setup()

    def run(self, key: str, payload: tuple[int, np.ndarray]) -> bytes:
        """Frame ``number``, dreamed, as the PNG the frame store keeps (its recipe and number inside)."""
        from inceptionism.io.images import encode_image

        number, frame = payload
        result = self.runner.dream(frame_tensor(frame))
        return encode_image(result.image, "PNG", metadata={**dict(self.job.recipe), "frame": number})

