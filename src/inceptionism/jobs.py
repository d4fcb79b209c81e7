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

    def setup(self) -> "DreamRunner":
        return DreamRunner(self)


class DreamRunner:
    def __init__(self, job: DreamJob):
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
        self.network = get_model(job.model, weights=weights, device=self.device, progress=False)
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
        from inceptionism.dream.loop import fit_mask

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

    def run(self, key: str, payload: tuple[str, bytes, str], callback: Any = None) -> bytes:
        """Dream one image; ``payload`` is (its label in the recipe, its bytes, the output format)."""
        from inceptionism.io.images import encode_image, load_image_bytes, shrink

        label, data, fmt = payload
        image = shrink(load_image_bytes(data, key), self.job.max_side)
        self.check_masks(tuple(image.rgb.shape[-2:]))
        result = self.dream(image.rgb, callback)
        return encode_image(result.image, fmt, alpha=image.alpha, metadata=self.meta(label, data, result.tile, result.precision),
                            quality=self.job.quality)


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

    def setup(self) -> "VisualizeRunner":
        return VisualizeRunner(self)


class VisualizeRunner:
    def __init__(self, job: VisualizeJob):
        from inceptionism.devices import resolve_device
        from inceptionism.models import get_model
        from inceptionism.visualize.render import check

        self.job = job
        self.device = resolve_device(job.device)
        weights = _with_file(job.weights_data, job.weights, ".safetensors" if (job.weights or "").endswith(
            ".safetensors") else ".pt")
        self.network = get_model(job.model, weights=weights, device=self.device, progress=False)
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
        from inceptionism.visualize.atlas import side_by_side

        target, fmt = payload
        result = self.render(target, callback)
        return encode_image(side_by_side(result.images), fmt, metadata=self.meta(target, result.precision))


# -- stylize -----------------------------------------------------------------------
#: the networks that ship and take no model file
ARBITRARY, DEMO = "arbitrary", "demo26"


@dataclass(frozen=True)
class StylizeJob:
    """Stylise many images with one network and one style: a train-style model and a mix, Magenta's
    arbitrary network and a painting's embedding, or the 26-style demo network and a mix."""

    model: str  # a train-style model file, or ARBITRARY, or DEMO
    mix: tuple[float, ...]  # the mix of the model's styles, or the arbitrary network's 100-number embedding
    tile: int = 1024
    preserve_colors: bool = False
    device: str = "auto"
    #: "auto", "bf16" or "fp32" (see inceptionism.precision)
    precision: str = "auto"
    recipe: tuple[tuple[str, Any], ...] = ()
    model_data: bytes | None = None
    #: strokes this many times the size the network paints at full size (1: one pass; see stylize_with_strokes)
    stroke_scale: float | str = 1.0
    #: the arbitrary network: how far from the photo's own embedding to the painting's (Ghiasi et al.)
    strength: float = 1.0
    #: the arbitrary network: the size the photo is seen at for its own embedding (with strength < 1)
    style_size: int = 256
    #: other networks' strength: "norms" (conditional norms toward the identity) or "fade" (into the photo)
    strength_by: str = "norms"
    #: (mix or embedding, mask image) per region: each stylised on its own and blended by the masks
    regions: tuple[tuple[tuple[float, ...], str], ...] = ()
    region_data: tuple[bytes | None, ...] = ()

    def portable(self) -> "StylizeJob":
        regions = tuple(_file_bytes(path) for _, path in self.regions)
        if self.model in (ARBITRARY, DEMO):
            return replace(self, region_data=regions)
        return replace(self, model_data=_file_bytes(self.model), region_data=regions)

    def setup(self) -> "StylizeRunner":
        return StylizeRunner(self)


class StylizeRunner:
    def __init__(self, job: StylizeJob):
        from inceptionism.devices import resolve_device
        from inceptionism.io.images import load_image, load_image_bytes, mask_tensor
        from inceptionism.precision import autocast_dtype
        from inceptionism.style import magenta
        from inceptionism.style.model_file import load_model

        self.job = job
        self.device = resolve_device(job.device)
        if job.model == ARBITRARY:
            self.net: Any = magenta.load_arbitrary(self.device)
        elif job.model == DEMO:
            self.net = magenta.load_multistyle(self.device)
        else:
            self.net, self.meta = load_model(_with_file(job.model_data, job.model, ".safetensors"), self.device)
        self.mix = torch.tensor([job.mix], dtype=torch.float32)
        self.autocast = autocast_dtype(job.precision, self.device)
        self.styled = self.net
        self.photo_strength = isinstance(self.net, magenta.FineTunedStyleNetwork)
        if job.model != ARBITRARY and job.strength < 1.0 and job.strength_by == "norms" and not self.photo_strength:
            from inceptionism.style.regions import toward_identity

            self.styled = toward_identity(self.net, job.strength)
        self.regions = []
        for n, (mix, path) in enumerate(job.regions):
            data = job.region_data[n] if n < len(job.region_data) else None
            picture = load_image_bytes(data, path) if data is not None else load_image(path)
            self.regions.append((torch.tensor([mix], dtype=torch.float32), mask_tensor(picture), path))

    def _one(self, rgb: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        from inceptionism.style.magenta import toward_photo, with_strength
        from inceptionism.style.model_file import auto_stroke_scale, stylize_with_strokes

        job = self.job
        net = self.styled
        if job.model == ARBITRARY and job.strength < 1.0:
            mix = with_strength(self.net, mix.to(self.device), rgb, job.strength, size=job.style_size)
        elif self.photo_strength and job.strength < 1.0 and job.strength_by == "norms":
            net, mix = toward_photo(self.net, mix, rgb, job.strength, size=job.style_size)
        scale = job.stroke_scale
        scale = auto_stroke_scale(*rgb.shape[-2:]) if scale == "auto" else float(scale)
        result = stylize_with_strokes(net, rgb, mix, stroke_scale=scale, tile=job.tile, autocast=self.autocast)
        if job.model != ARBITRARY and job.strength < 1.0 and job.strength_by == "fade":
            result = torch.lerp(rgb.float(), result.float(), job.strength)
        return result

    def stylize(self, rgb: torch.Tensor) -> torch.Tensor:
        """One picture (``1,3,H,W`` in [0, 1]) stylised as the job says, on the CPU."""
        from inceptionism.dream.loop import preserve_colors
        from inceptionism.dream.loop import fit_mask
        from inceptionism.style.regions import blend_regions

        if self.regions:
            size = tuple(rgb.shape[-2:])
            masks = [fit_mask(mask, size, path, kind="region") for _, mask, path in self.regions]
            result = blend_regions(rgb.float(), [self._one(rgb, mix).float() for mix, _, _ in self.regions], masks)
        else:
            result = self._one(rgb, self.mix)
        return preserve_colors(result, rgb) if self.job.preserve_colors else result

    def run(self, key: str, payload: tuple[str, bytes, str]) -> bytes:
        from inceptionism.io.images import encode_image, load_image_bytes

        label, data, fmt = payload
        image = load_image_bytes(data, key)
        meta = {**dict(self.job.recipe), "content": label, "device": str(self.device)}
        return encode_image(self.stylize(image.rgb), fmt, alpha=image.alpha, metadata=meta)


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

