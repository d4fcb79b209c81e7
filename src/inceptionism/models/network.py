"""A model wrapped for dreaming: input normalisation, layer addresses and a truncated forward.

Images enter as RGB in [0, 1]; each :class:`Network` applies its own normalisation.
Layers are addressed by ``named_modules()`` path or by an alias from the model
spec. :class:`FeatureExtractor` hooks the layers an objective needs and stops the
forward pass as soon as the last of them has run, so a dream on an early layer
never pays for the rest of the network.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Sequence

import torch
from torch import nn

from inceptionism.errors import LayerError, either
from inceptionism.models.dream_file import Collection
from inceptionism.models.optimize import FusedConv2d, Fusion
from inceptionism.models.spec import ModelSpec


class _Stop(Exception):
    """Raised from a forward hook once every requested layer has been seen."""


def _first_tensor(output: object) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    raise LayerError(f"layer output of type {type(output).__name__} holds no tensor")


class Network(nn.Module):
    """A CNN plus what it takes to dream with it.

    ``net`` is the architecture (torchvision, timm or a loaded checkpoint); ``spec``
    says how to normalise its input and which layers it exposes under which names.
    """

    def __init__(
        self,
        spec: ModelSpec,
        net: nn.Module,
        *,
        categories: Sequence[str] | None,
        weights: str,
        channels_last: bool = False,
        collection: Collection | None = None,
    ):
        super().__init__()
        self.spec = spec
        # In-place activations stay (they save an allocation per layer); the extractor
        # copies a captured output that a later in-place layer would overwrite.
        self.net = net.eval().requires_grad_(False)
        self.categories = tuple(categories) if categories is not None else None
        self.weights = weights
        #: a user model's classes or caption topics (``inceptionism train-dream``), else None
        self.collection = collection
        mean, std = spec.mean_std
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        self._modules_by_path = dict(self.net.named_modules())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def min_size(self) -> int:
        return self.spec.min_size

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        x = (image - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Logits for an RGB batch in [0, 1]."""
        return self.net(self.normalize(image))

    # -- layer addresses -------------------------------------------------
    def layer_paths(self) -> list[str]:
        """Every module path that can be addressed (besides aliases)."""
        return [p for p in self._modules_by_path if p]

    def resolve(self, address: str) -> str:
        """The module path that ``address`` (a path or an alias) names.

        An unknown address raises :class:`LayerError` listing the closest names.
        """
        if address in self.spec.aliases:
            return self.spec.aliases[address]
        if address in self._modules_by_path and address:
            return address
        candidates = list(self.spec.aliases) + self.layer_paths()
        close = difflib.get_close_matches(address, candidates, n=5, cutoff=0.5)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise LayerError(
            f"unknown layer {address!r} for {self.name}{hint} "
            f"({either(f'inceptionism.layers({self.name!r})', f'`inceptionism layers --model {self.name}`')} "
            f"lists them all)"
        )

    def module(self, address: str) -> nn.Module:
        return self._modules_by_path[self.resolve(address)]

    def aliases_of(self, path: str) -> list[str]:
        return [a for a, p in self.spec.aliases.items() if p == path]

    def extractor(self, addresses: Iterable[str]) -> "FeatureExtractor":
        return FeatureExtractor(self, addresses)

    @torch.no_grad()
    def layer_shapes(self, addresses: Iterable[str], size: int = 224) -> dict[str, tuple[int, ...]]:
        """Output shape (C, H, W) of each layer for a ``size`` x ``size`` input."""
        p = next(self.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
        dtype = p.dtype if p is not None else torch.float32
        x = torch.full((1, 3, size, size), 0.5, device=device, dtype=dtype)
        with self.extractor(addresses) as extract:
            feats = extract(x)
        return {a: tuple(t.shape[1:]) for a, t in feats.items()}


class FeatureExtractor:
    """Captures the outputs of some layers, stopping the forward after the deepest.

    Use as a context manager (hooks are removed on exit) and call it with an RGB
    batch in [0, 1]; it returns ``{address: tensor}``.
    """

    def __init__(self, network: Network, addresses: Iterable[str]):
        self.network = network
        self.addresses = tuple(dict.fromkeys(addresses))
        if not self.addresses:
            raise LayerError("no layer to extract")
        self._paths = {a: network.resolve(a) for a in self.addresses}
        self._wanted: dict[str, list[str]] = {}
        for address, path in self._paths.items():
            self._wanted.setdefault(path, []).append(address)
        self._captured: dict[str, torch.Tensor] = {}
        self._versions: dict[str, int] = {}
        #: layers whose output a later in-place operation modifies: captured as a copy
        self._copy: set[str] = set()
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        #: fused convolution + activation pairs whose convolution output is wanted
        self._unfused: list[Fusion] = []

    def __enter__(self) -> "FeatureExtractor":
        modules = self.network._modules_by_path
        for path in self._wanted:
            module = modules[path]
            # a fused convolution's own address means its output before the activation
            # (its activation slot's address needs nothing: it yields the activated output)
            if isinstance(module, FusedConv2d) and module.clamp is not None and module.fusion.on:
                module.fusion.on = False
                self._unfused.append(module.fusion)
            self._handles.append(module.register_forward_hook(self._hook(path)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for fusion in self._unfused:
            fusion.on = True
        self._unfused.clear()

    def _hook(self, path: str):
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            if path in self._captured:
                return  # a module called twice (shared activation): keep the first call
            tensor = _first_tensor(output)
            if path in self._copy:
                tensor = tensor.clone()
            self._captured[path] = tensor
            self._versions[path] = tensor._version
            if len(self._captured) == len(self._wanted):
                raise _Stop

        return hook

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self._handles:
            raise RuntimeError("FeatureExtractor must be entered (`with`) before use")
        self._captured, self._versions = {}, {}
        try:
            self.network(image)
        except _Stop:
            pass
        # The last layer captured stops the forward; an earlier one may have been
        # overwritten by a later in-place operation (a conv before ReLU(inplace=True)).
        # Its version counter tells: from now on copy it at capture, and run again.
        changed = {p for p, t in self._captured.items() if t._version != self._versions[p]}
        if changed - self._copy:
            self._copy |= changed
            return self(image)
        missing = [p for p in self._wanted if p not in self._captured]
        if missing:
            raise LayerError(f"layers {', '.join(missing)} were not reached by the forward pass")
        return {a: self._captured[p] for p, addresses in self._wanted.items() for a in addresses}
