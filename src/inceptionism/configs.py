"""The settings of every long-running job, as frozen dataclasses with documented defaults.

They import nothing heavier than the standard library, so that the command line can
build its parsers (whose defaults are these) and answer ``--help`` without
importing torch. The modules that run the jobs re-export them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from inceptionism.errors import ConfigError, param

if TYPE_CHECKING:  # pragma: no cover
    from inceptionism.models.network import Network

#: compute precisions: "auto" picks bfloat16 where the device has it natively (see :mod:`inceptionism.precision`)
PRECISIONS = ("auto", "bf16", "fp32")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def _fits(annotation: str, value: Any) -> bool:
    """Whether a stored value is of a kind the field's annotation allows (JSON gives lists for tuples)."""
    kinds = set(annotation.replace(" ", "").replace("[", "|").replace("]", "|").replace(",", "|").split("|"))
    if value is None:
        return "None" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds or "float" in kinds
    if isinstance(value, float):
        return "float" in kinds and math.isfinite(value)
    if isinstance(value, str):
        return "str" in kinds
    if isinstance(value, (list, tuple)):
        return "tuple" in kinds and all(isinstance(v, str) for v in value) and "str" in kinds
    return False


def stored_values(cls: type, values: Any, where: str) -> dict[str, Any]:
    """The settings of ``cls`` in ``values`` (a recipe's or a model file's), each of its field's kind.

    Keys ``cls`` does not know are left out (files from other versions); a value of
    the wrong kind (text for a number, a list for a flag) is a :class:`ConfigError`
    that names it, before the dataclass's own range checks run.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: its settings are damaged (not a mapping)")
    out = {}
    for f in fields(cls):
        if f.name in values:
            value = values[f.name]
            if not _fits(str(f.type), value):
                raise ConfigError(f"{where}: its setting {f.name} is damaged ({value!r})")
            out[f.name] = tuple(value) if isinstance(value, list) else value
    return out


class _Config:
    """What every config has: its settings as a plain dict (a recipe's ``config``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


#: how a visualised picture is represented (inceptionism.visualize.param)
VISUALIZE_PARAMS = ("fft", "pixel")
#: sets of random transformations before each step (inceptionism.visualize.transforms)
VISUALIZE_TRANSFORMS = ("none", "standard", "strong")


# -- dreams ------------------------------------------------------------------------
@dataclass(frozen=True)
class DreamConfig(_Config):
    """How a dream runs. The CLI's defaults are these."""

    #: gradient steps per octave
    steps: int = 10
    #: mean absolute change of a pixel per step, in [0, 1] units
    step_size: float = 0.01
    #: number of scales, smallest first; 1 dreams at the input size only
    octaves: int = 4
    #: size ratio between two octaves
    octave_scale: float = 1.4
    #: largest random roll in pixels, applied before and undone after each step
    jitter: int = 32
    #: seeds the jitter (and noise starts)
    seed: int = 0
    #: keep the input's colours: only luminance changes
    preserve_colors: bool = False
    #: tile side in pixels for large images; "auto" fits the free device memory, None never tiles
    tile: int | str | None = "auto"
    #: "auto" (bfloat16 where the device computes it natively: CUDA, a CPU with AVX-512 BF16 or AMX),
    #: "bf16" or "fp32"; the image itself always stays float32
    precision: str = "auto"
    #: Laplacian-pyramid levels the gradient is normalised over (TF's 2016 notebook); 0: off,
    #: the mean-|gradient| normalisation of Google's original notebook
    lap_norm: int = 0
    #: random transformations of the image before each gradient (feature visualisation's transformation
    #: robustness): "none", "standard" or "strong"; with a class, topic or word the concept shows in the photo
    transforms: str = "none"
    #: step along the gradient as a 1/f-scaled, decorrelated-colour parameterisation would (Olah et al. 2017)
    decorrelate: bool = False

    def __post_init__(self) -> None:
        if self.transforms not in VISUALIZE_TRANSFORMS:
            raise ConfigError(f"transforms must be one of {', '.join(VISUALIZE_TRANSFORMS)}, got {self.transforms!r}")
        if not 0 <= self.lap_norm <= 12:
            raise ConfigError(f"lap_norm must be 0 (off) to 12 levels, got {self.lap_norm}")
        if self.steps < 0:
            raise ConfigError(f"steps must be 0 or more, got {self.steps}")
        if not (self.step_size > 0 and math.isfinite(self.step_size)):
            raise ConfigError(f"step_size must be a positive number, got {self.step_size}")
        if self.octaves < 1:
            raise ConfigError(f"octaves must be at least 1, got {self.octaves}")
        if not (self.octave_scale > 1.0 and math.isfinite(self.octave_scale)):
            raise ConfigError(f"octave_scale must be greater than 1, got {self.octave_scale}")
        if self.jitter < 0:
            raise ConfigError(f"jitter must be 0 or more, got {self.jitter}")
        check_precision(self.precision)
        if not (self.tile is None or self.tile == "auto" or (isinstance(self.tile, int) and self.tile >= 32)):
            raise ConfigError(f"tile must be 'auto', None or a side of at least 32 px, got {self.tile!r}")


# -- feature visualisation -----------------------------------------------------------


@dataclass(frozen=True)
class VisualizeConfig(_Config):
    """How ``inceptionism visualize`` renders an objective from nothing. The CLI's defaults are these."""

    #: picture width and height in pixels
    width: int = 224
    height: int = 224
    #: optimiser (Adam) steps
    steps: int = 256
    #: Adam's learning rate on the picture's parameters
    lr: float = 0.05
    #: "fft": a 1/f-scaled spectrum (Olah et al. 2017); "pixel": one parameter per pixel
    param: str = "fft"
    #: colour decorrelated by the square root of ImageNet's colour covariance
    decorrelate: bool = True
    #: random transformations before each step: "none", "standard" (Lucid's) or "strong" (larger moves: the
    #: independent judge ranks 96% of 25 classes first with it, 88% with "standard"; benchmarks.visualize)
    transforms: str = "strong"
    #: pictures rendered at once
    batch: int = 1
    #: weight of Lucid's Gram-matrix diversity term between the pictures of a batch (0: off)
    diversity: float = 0.0
    #: seeds the starting parameters and every random transformation
    seed: int = 0
    #: "auto", "bf16" or "fp32" (see inceptionism.precision); the picture's parameters stay float32
    precision: str = "auto"

    def __post_init__(self) -> None:
        if not (1 <= self.width <= 8192 and 1 <= self.height <= 8192):
            raise ConfigError(f"size must be 1 to 8192 pixels a side, got {self.width}x{self.height}")
        if self.steps < 0:
            raise ConfigError(f"steps must be 0 or more, got {self.steps}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if self.param not in VISUALIZE_PARAMS:
            raise ConfigError(f"param must be one of {', '.join(VISUALIZE_PARAMS)}, got {self.param!r}")
        if self.transforms not in VISUALIZE_TRANSFORMS:
            raise ConfigError(f"transforms must be one of {', '.join(VISUALIZE_TRANSFORMS)}, got {self.transforms!r}")
        if not 1 <= self.batch <= 64:
            raise ConfigError(f"batch must be 1 to 64 pictures, got {self.batch}")
        if not (self.diversity >= 0 and math.isfinite(self.diversity)):
            raise ConfigError(f"diversity must be 0 or a positive number, got {self.diversity}")
        if self.diversity > 0 and self.batch < 2:
            raise ConfigError(f"diversity compares the pictures of a batch: give {param('batch', 2)} or more")
        check_precision(self.precision)


# -- style transfer by optimisation --------------------------------------------
OPTIMIZERS = ("adam", "lbfgs")
COLOR_MODES = ("luminance", "match")


@dataclass(frozen=True)
class StyleConfig(_Config):
    """How a style transfer runs. The CLI's defaults are these."""

    #: long side of the output in pixels
    size: int = 384
    #: optimisation steps at each scale
    steps: int = 150
    #: number of scales, each twice the previous, ending at ``size`` (0: as many as keep the smallest >= 128 px)
    scales: int = 0
    #: weight of the content term (the photo's layout)
    content_weight: float = 1.0
    #: weight of the style term (the painting's Gram matrices)
    style_weight: float = 1.0
    #: weight of the total variation term (smoothness)
    tv_weight: float = 1.0
    #: "adam" or "lbfgs"
    optimizer: str = "adam"
    #: Adam's learning rate in [0, 1] pixel units (L-BFGS uses 1)
    lr: float = 0.02
    #: "content" or "noise"
    init: str = "content"
    #: size of the style image relative to the output
    style_scale: float = 1.0
    #: None, "luminance" or "match"
    preserve_colors: str | None = None
    #: seeds a noise start
    seed: int = 0
    #: None: the loss network's defaults
    content_layers: tuple[str, ...] | None = None
    style_layers: tuple[str, ...] | None = None
    #: the loss network's compute precision: "auto", "bf16" or "fp32" (the image optimised stays float32)
    precision: str = "auto"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.size < 32:
            raise ConfigError(f"size must be at least 32 px, got {self.size}")
        if self.steps < 1:
            raise ConfigError(f"steps must be at least 1, got {self.steps}")
        if self.scales < 0:
            raise ConfigError(f"scales must be 0 (automatic) or more, got {self.scales}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be 0 or more, got {value}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.init not in ("content", "noise"):
            raise ConfigError(f"init must be 'content' or 'noise', got {self.init!r}")
        if not (self.style_scale > 0 and math.isfinite(self.style_scale)):
            raise ConfigError(f"style_scale must be positive, got {self.style_scale}")
        if self.preserve_colors not in (None, *COLOR_MODES):
            raise ConfigError(f"preserve_colors must be one of {', '.join(COLOR_MODES)}, got {self.preserve_colors!r}")


# -- instant stylisation --------------------------------------------------------
#: how a network's strength below 1 works, the default first: its conditional norms moved toward the identity, or
#: the painted picture faded into the photo (a painting's strength always moves its embedding toward the photo's)
STRENGTH_BY = ("norms", "fade")


def check_strength(strength: float) -> float:
    """A style's strength: 0 (the photo) to 1 (the full style). The one place the rule lives."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        raise ConfigError(f"{param('strength')} must be between 0 and 1, got {strength!r}")
    return float(strength)


@dataclass(frozen=True)
class StylizeConfig(_Config):
    """How a photo is painted at once by a network (``inceptionism stylize``). The CLI's defaults are these."""

    #: 0 (the photo) to 1 (the full style). With a painting, from the photo's own embedding to the painting's
    #: (Ghiasi et al.); with a network's styles, as ``strength_by`` says
    strength: float = 1.0
    #: how a network's strength works: "norms" (its conditional norms moved toward the identity) or "fade" (the
    #: painted picture faded into the photo)
    strength_by: str = "norms"
    #: strokes S times the size the network paints at the photo's full size (a coarse pass at 1/S of the size, then
    #: a full-size pass over it); "auto": the long side over 512 px; None: "auto" with a painting, 1 with a
    #: network's own styles
    stroke_scale: float | str | None = None
    #: with a painting: the shorter side it is seen at (256, as Magenta trained; larger: finer features of the
    #: painting)
    style_size: int = 256
    #: tile side for large pictures
    tile: int = 1024
    #: keep the photo's colours: only luminance changes
    preserve_colors: bool = False
    #: "auto", "bf16" or "fp32" (see inceptionism.precision)
    precision: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "strength", check_strength(self.strength))
        if self.strength_by not in STRENGTH_BY:
            raise ConfigError(f"{param('strength_by')} must be one of {', '.join(STRENGTH_BY)}, got {self.strength_by!r}")
        scale = self.stroke_scale
        if not (scale is None or scale == "auto" or (isinstance(scale, (int, float)) and not isinstance(scale, bool)
                                                     and math.isfinite(scale) and scale >= 1.0)):
            raise ConfigError(f"{param('stroke_scale')} takes a number of 1 or more, or 'auto', got {scale!r}")
        if not 32 <= self.style_size <= 4096:
            raise ConfigError(f"{param('style_size')} must be between 32 and 4096 px, got {self.style_size}")
        if self.tile < 64:
            raise ConfigError(f"{param('tile')} must be at least 64 px, got {self.tile}")
        check_precision(self.precision)


# -- style networks -------------------------------------------------------------
SCHEDULES = ("constant", "cosine")
INITS = ("scratch", "magenta")


@dataclass(frozen=True)
class TrainConfig(_Config):
    """How a style network trains. The CLI's defaults are these."""

    #: training crop size
    image_size: int = 256
    #: images per step
    batch_size: int = 4
    #: training steps in all
    steps: int = 2000
    #: Adam's learning rate
    lr: float = 1e-3
    #: weight of the content term
    content_weight: float = 1.0
    #: weight of the style term
    style_weight: float = 1.0
    #: weight of the total variation term (smoothness)
    tv_weight: float = 1.0
    #: write the model every N steps (0: only at the end)
    checkpoint_every: int = 500
    #: seeds the network's start, the crops and their order
    seed: int = 0
    #: data loader processes
    workers: int = 2
    #: channels of the first layer (Johnson: 32)
    width: int = 32
    #: the network adds to its input (and starts as the identity); see StyleNetwork
    skip: bool = False
    #: "constant", or "cosine": a short warm-up, then down to a tenth of lr
    schedule: str = "constant"
    #: long side of the style images, relative to image_size, aspect kept (None: squeezed to a square, as before)
    style_scale: float | None = None
    #: layers of the loss network for the content and the style terms (None: the loss network's own)
    content_layers: tuple[str, ...] | None = None
    style_layers: tuple[str, ...] | None = None
    #: gradients whose norm is above this are scaled down to it before each step (None: never)
    clip_grad: float | None = 10.0
    #: compute precision of the forward and backward passes: "auto", "bf16" or "fp32"
    #: (weights, optimiser state and the loss stay float32)
    precision: str = "auto"
    #: where the network starts: "magenta" (Magenta's arbitrary-stylisation network, each style's embedding from its
    #: painting: reaches in 500 steps the loss "scratch" reached in 3,600), or "scratch" (our own network, random;
    #: width and skip are its settings)
    init: str = "magenta"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.init == "magenta" and (self.width != 32 or self.skip):
            raise ConfigError("width and skip are settings of our own network (init scratch); "
                              "Magenta's network has its own")
        for name in ("image_size", "batch_size", "steps", "width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.image_size < 32:
            raise ConfigError(f"image_size must be at least 32, got {self.image_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.checkpoint_every < 0 or self.workers < 0:
            raise ConfigError("checkpoint_every and workers must be 0 or more")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.style_scale is not None and not (self.style_scale > 0 and math.isfinite(self.style_scale)):
            raise ConfigError(f"style_scale must be positive, got {self.style_scale}")
        if self.clip_grad is not None and not (self.clip_grad > 0 and math.isfinite(self.clip_grad)):
            raise ConfigError(f"clip_grad must be positive, got {self.clip_grad}")
        for name in ("content_layers", "style_layers"):
            layers = getattr(self, name)
            if layers is not None:
                if isinstance(layers, str) or not layers or not all(isinstance(a, str) and a for a in layers):
                    raise ConfigError(f"{name} must be a non-empty list of layer names, got {layers!r}")
                object.__setattr__(self, name, tuple(layers))  # a list from JSON metadata is the same recipe


    def loss_layers(self, network: "Network") -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The content and style layers of the loss on ``network`` (checked): the config's, else the network's own."""
        content = self.content_layers or network.spec.content_layers or network.spec.default_layers
        style = self.style_layers or network.spec.style_layers or network.spec.default_layers
        for address in (*content, *style):
            network.resolve(address)
        return tuple(content), tuple(style)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """The config stored in a model's training metadata (other keys there are ignored).

        A setting a model's metadata lacks is the one it was trained with before the
        setting existed, not today's default.
        """
        names = {f.name for f in fields(cls)}
        legacy = {"skip": False, "schedule": "constant", "style_scale": None, "content_layers": None,
                  "style_layers": None, "clip_grad": None,
                  "precision": "fp32", "init": "scratch"}
        return cls(**{**legacy, **{k: v for k, v in values.items() if k in names}})


# -- dream models ---------------------------------------------------------------
LABELS = ("auto", "folders", "captions")


@dataclass(frozen=True)
class DreamTrainConfig(_Config):
    """How a dream model trains. The CLI's defaults are these."""

    #: "folders" (one subfolder per class), "captions" (topics), or "auto"
    labels: str = "auto"
    #: LDA topics for a captions collection
    topics: int = 40
    #: training crop size
    image_size: int = 224
    #: images per step
    batch_size: int = 32
    #: passes over the training images (used when ``steps`` is 0)
    epochs: int = 10
    #: training steps in all; 0: ``epochs`` worth
    steps: int = 0
    #: the head's learning rate (AdamW); fine-tuned blocks use a tenth
    lr: float = 1e-3
    #: AdamW's weight decay
    weight_decay: float = 1e-4
    #: share of the images held out for validation
    val: float = 0.1
    #: last blocks of the backbone to fine-tune: a number, "all", or None for the backbone's default
    train_blocks: int | str | None = None
    #: write the model every N steps (0: at the end of each epoch)
    checkpoint_every: int = 0
    #: data loader processes
    workers: int = 2
    #: seeds the held-out split, the head's start and the order of the photos
    seed: int = 0
    #: compute precision of the forward and backward passes: "auto", "bf16" or "fp32"
    precision: str = "auto"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.labels not in LABELS:
            raise ConfigError(f"labels must be one of {', '.join(LABELS)}, got {self.labels!r}")
        for name in ("topics", "image_size", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.topics < 2:
            raise ConfigError(f"topics must be at least 2, got {self.topics}")
        if self.image_size < 32:
            raise ConfigError(f"image_size must be at least 32, got {self.image_size}")
        if self.steps < 0 or self.checkpoint_every < 0 or self.workers < 0:
            raise ConfigError("steps, checkpoint_every and workers must be 0 or more")
        if not (self.lr > 0 and math.isfinite(self.lr)) or not (self.weight_decay >= 0):
            raise ConfigError(f"lr must be positive and weight_decay 0 or more, got {self.lr}, {self.weight_decay}")
        if not 0.0 <= self.val < 0.9:
            raise ConfigError(f"val must be at least 0 and below 0.9, got {self.val}")
        if not (self.train_blocks is None or self.train_blocks == "all"
                or (isinstance(self.train_blocks, int) and self.train_blocks >= 0)):
            raise ConfigError(f"train_blocks must be a number of blocks or 'all', got {self.train_blocks!r}")


    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DreamTrainConfig":
        names = {f.name for f in fields(cls)}
        # a model whose metadata has no precision was trained in float32
        return cls(**{"precision": "fp32", **{k: v for k, v in values.items() if k in names}})
