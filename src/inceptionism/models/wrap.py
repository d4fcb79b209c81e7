"""Any ``torch.nn.Module`` ready to dream and visualise, as a registered model is: :func:`wrap`.

A researcher's own network (or a torchvision or timm model already in memory) has no
:class:`~inceptionism.models.spec.ModelSpec`; ``wrap`` writes one from the module itself. One forward pass of
a probe picture lists its layers in the order they run (every module whose output is a tensor), the default
dream layer is a convolutional one about 60% of the way through (where DeepDream's classic layers sit), the
classifier is its last ``nn.Linear``, and input normalisation is ImageNet's unless given. The module is
copied, never changed: batch norm is folded and convolutions fused in the copy where that keeps its outputs
(:mod:`inceptionism.models.optimize` checks), and the truncated forward applies to it as to any model.
"""

from __future__ import annotations

import copy
import logging
from typing import Sequence

import torch
from torch import nn

from inceptionism.errors import ConfigError, ModelError, param
from inceptionism.models.network import Network
from inceptionism.models.spec import IMAGENET_MEAN_STD, ModelSpec

log = logging.getLogger(__name__)

#: ``categories="imagenet"``: ImageNet's 1,000 class names, for a module with a 1000-way head
IMAGENET = "imagenet"


def _no_builder(**_: object) -> nn.Module:
    raise ModelError("a wrapped module cannot be built again: pass the module itself")


def _probe(module: nn.Module, size: int, mean_std: tuple) -> list[tuple[str, tuple[int, ...]]]:
    """(path, output shape) of every module whose output is a tensor, in the order they run."""
    order: list[tuple[str, tuple[int, ...]]] = []
    seen: set[str] = set()
    handles = []
    for path, sub in module.named_modules():
        if not path:
            continue

        def hook(_m: nn.Module, _i: object, out: object, path: str = path) -> None:
            if path not in seen and isinstance(out, torch.Tensor):
                seen.add(path)
                order.append((path, tuple(out.shape[1:])))

        handles.append(sub.register_forward_hook(hook))
    p = next(module.parameters(), None)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in mean_std)
    x = (x - mean) / std
    if p is not None:
        x = x.to(p.device, p.dtype)
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return order


def _layers_in_order(net: nn.Module, min_size: int, mean_std: tuple) -> tuple[int, list[tuple[str, tuple[int, ...]]]]:
    """The probe's side and (path, output shape) of each layer in the order they run: a 64 px probe, else one of
    ``min_size`` (a module with a fixed input size); a module that fails on both is one line naming the error."""
    for size in dict.fromkeys((max(min_size, 64), min_size)):
        try:
            order = _probe(net, size, mean_std)
        except Exception as exc:  # noqa: BLE001 - the module's own error, said in one line
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            continue
        if not order:
            raise ModelError("the module has no submodules to address: wrap a network built of layers")
        return size, order
    raise ModelError(f"the module fails on a 1x3x{min_size}x{min_size} picture (give {param('min_size')} the side it "
                     f"takes): {error}")


def _class_names(categories: Sequence[str] | str | None, out_features: int, classifier: str) -> tuple[str, ...] | None:
    """``categories`` as class names, checked against the head's outputs."""
    if categories is None:
        return None
    if isinstance(categories, str):
        if categories != IMAGENET:
            raise ConfigError(f"{param('categories')} takes a list of class names or 'imagenet', got {categories!r}")
        from inceptionism.models.registry import imagenet_categories

        names = imagenet_categories()
    else:
        names = tuple(str(c) for c in categories)
    if out_features and len(names) != out_features:
        raise ConfigError(f"{param('categories')} names {len(names)} classes but the module's head "
                          f"({classifier}) has {out_features} outputs")
    return names


def wrap(module: nn.Module, *, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
         categories: Sequence[str] | str | None = None, min_size: int = 32, name: str | None = None,
         default_layers: Sequence[str] | None = None, optimize: bool = True) -> Network:
    """``module`` as a :class:`Network`: layers by ``named_modules()`` path, ImageNet's normalisation unless
    ``mean`` and ``std`` are given (of pictures in [0, 1]), class names from ``categories`` (a list, or
    ``"imagenet"`` for a 1000-way head), and a minimum input side ``min_size``.

    ``default_layers``: what ``dream`` amplifies when no layer is named (default: a convolutional layer
    about 60% of the way through). ``optimize``: fold batch norm and fuse convolutions in the copy.
    """
    if isinstance(module, Network):
        return module
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{param('model')} takes a model name, a model file or a torch.nn.Module, "
                          f"got {type(module).__name__}")
    mean_std = IMAGENET_MEAN_STD
    if (mean is None) != (std is None):
        raise ConfigError(f"give both {param('mean')} and {param('std')}, or neither (ImageNet's)")
    if mean is not None and std is not None:
        if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
            raise ConfigError(f"{param('mean')} and {param('std')} take three numbers each (R, G, B), std above 0")
        mean_std = (tuple(float(m) for m in mean), tuple(float(s) for s in std))  # type: ignore[assignment]
    if min_size < 1:
        raise ConfigError(f"{param('min_size')} must be at least 1, got {min_size}")
    net = copy.deepcopy(module).eval().requires_grad_(False)
    size, order = _layers_in_order(net, min_size, mean_std)
    spatial = [path for path, shape in order if len(shape) == 3]
    linear = [path for path, _ in order if isinstance(net.get_submodule(path), nn.Linear)]
    classifier = linear[-1] if linear else order[-1][0]
    out_features = dict(order)[classifier][0] if dict(order)[classifier] else 0
    if default_layers is None:
        convs = [p for p in spatial if isinstance(net.get_submodule(p), nn.Conv2d)] or spatial or [order[-1][0]]
        default_layers = (convs[round(0.6 * (len(convs) - 1))],)
    names = _class_names(categories, out_features, classifier)
    label = name or type(module).__name__
    spec = ModelSpec(name=label, description=f"{label} (a module wrapped by inceptionism.wrap)", build=_no_builder,
                     load_default=_no_builder, weights_status=lambda: "in memory", mean_std=mean_std,
                     layers=tuple(p for p, _ in order), default_layers=tuple(default_layers), classifier=classifier,
                     num_classes=out_features or 0, min_size=min_size)
    channels_last = False
    if optimize:
        from inceptionism.models.optimize import fold_batchnorm, fuse_convolutions

        try:
            net, _ = fold_batchnorm(net, probe_size=size)
            net, _ = fuse_convolutions(net, probe_size=size)
            channels_last = True
        except Exception as exc:  # noqa: BLE001 - optimising is optional: the module as it is still dreams
            log.info("%s is used as it is (%s)", label, exc)
            net = copy.deepcopy(module).eval().requires_grad_(False)
    network = Network(spec, net, categories=names, weights="in memory", channels_last=channels_last)
    for address in spec.default_layers:
        network.resolve(address)
    p = next(module.parameters(), None)
    return network.to(p.device) if p is not None else network
