"""What the toolkit knows about one model, and loading a state dict into its architecture.

A :class:`ModelSpec` is pure data plus builders; the registry
(:mod:`inceptionism.models.registry`) lists the specs, and checkpoint loading
(:mod:`inceptionism.models.checkpoint`) fills a spec's architecture with a file's tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch import nn

from inceptionism.errors import ModelError

IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: TF-style scaling of [0, 1] inputs to [-1, 1].
SIGNED_MEAN_STD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@dataclass(frozen=True)
class ModelSpec:
    """Everything the toolkit knows about one model."""

    name: str
    description: str
    #: builds the architecture, weights untouched: ``build(num_classes=...)``
    build: Callable[..., nn.Module]
    #: the default pretrained state dict: ``load(progress=...)``
    load_default: Callable[..., dict[str, torch.Tensor]]
    #: "embedded", "cached" or "needs download"
    weights_status: Callable[[], str]
    mean_std: tuple[tuple[float, float, float], tuple[float, float, float]]
    #: the layers worth listing, in forward order (any module path stays addressable)
    layers: tuple[str, ...]
    default_layers: tuple[str, ...]
    #: module path of the final classifier layer (its output is the logits)
    classifier: str
    num_classes: int = 1000
    aliases: Mapping[str, str] = field(default_factory=dict)
    min_size: int = 32
    #: state-dict key prefixes that the dreaming architecture leaves out (aux heads)
    ignore_prefixes: tuple[str, ...] = ()
    weights_url: str | None = None
    #: default layers when this network is the loss network of style transfer
    content_layers: tuple[str, ...] = ()
    style_layers: tuple[str, ...] = ()
    #: the stages that fine-tuning unfreezes, in forward order (each one or more module paths);
    #: empty: the network's top-level children
    blocks: tuple[tuple[str, ...], ...] = ()
    #: how many of the last blocks ``train-dream`` fine-tunes by default (the head is always trained)
    fine_tune_blocks: int = 3
    #: whether ``--precision auto`` may pick bfloat16 on a CPU for this network (False where its bfloat16
    #: input gradient strays from the float32 one; see :mod:`inceptionism.precision`)
    cpu_bf16: bool = True


def load_state_into(net: nn.Module, spec: ModelSpec, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load ``state`` into ``net`` (built from ``spec``), strictly; mismatches raise :class:`ModelError`."""
    state = {k: v for k, v in state.items() if not k.startswith(spec.ignore_prefixes)}
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        first = str(exc).strip().splitlines()[-1].strip()
        raise ModelError(f"{source} do not fit the {spec.name} architecture: {first}") from exc
    problems = list(result.missing_keys) + list(result.unexpected_keys)
    if problems:
        shown = ", ".join(problems[:4]) + (" ..." if len(problems) > 4 else "")
        raise ModelError(
            f"{source} do not fit the {spec.name} architecture: "
            f"{len(result.missing_keys)} missing and {len(result.unexpected_keys)} unexpected tensors ({shown})"
        )
