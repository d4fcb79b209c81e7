"""What a dream amplifies: small objects that compose (``a + 0.5 * b``).

An :class:`Objective` names the layers it needs (``addresses``), may prepare
itself once for a network (a guide image's features are computed there, once),
and maps the captured activations to one scalar to *maximise*.

The address grammar, shared by the CLI and Python: ``LAYER[:CHANNEL][=WEIGHT]``,
e.g. ``inception4c``, ``inception4e:97=0.5``, ``relu4_2=2``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

import torch

from inceptionism.errors import ConfigError, LayerError, either, param

if TYPE_CHECKING:
    from inceptionism.models.network import Network


class Objective:
    """A scalar function of layer activations, to be maximised."""

    def addresses(self) -> tuple[str, ...]:
        """The layers (addresses) this objective reads."""
        raise NotImplementedError

    def prepare(self, network: "Network") -> None:
        """Check addresses against ``network`` and precompute anything fixed."""
        for address in self.addresses():
            network.resolve(address)

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def __add__(self, other: "Objective") -> "Objective":
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(_terms(self) + _terms(other))

    def __mul__(self, weight: float) -> "Objective":
        if not isinstance(weight, (int, float)):
            return NotImplemented
        return Sum(tuple((w * weight, o) for w, o in _terms(self)))

    __rmul__ = __mul__

    def __neg__(self) -> "Objective":
        return self * -1.0

    def __sub__(self, other: "Objective") -> "Objective":
        return self + (-other)


def _terms(objective: Objective) -> tuple[tuple[float, Objective], ...]:
    return objective.terms if isinstance(objective, Sum) else ((1.0, objective),)


@dataclass(frozen=True, eq=False)
class Sum(Objective):
    """A weighted sum of objectives."""

    terms: tuple[tuple[float, Objective], ...]

    def addresses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for _, o in self.terms for a in o.addresses()))

    def prepare(self, network: "Network") -> None:
        for _, o in self.terms:
            o.prepare(network)

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(w * o(features) for w, o in self.terms)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return " + ".join(f"{w:g} * {o!r}" for w, o in self.terms)


@dataclass(frozen=True, eq=False)
class Masked(Objective):
    """``objective`` where ``mask`` (``1,1,H,W`` in [0, 1], any size of the image's aspect) is white.

    The value is the inner objective's; the dream loop weights this term's gradient
    by the mask, resized to each octave (:func:`mask_groups`), so that terms with
    different masks dream different regions.
    """

    objective: Objective
    mask: torch.Tensor

    def addresses(self) -> tuple[str, ...]:
        return self.objective.addresses()

    def prepare(self, network: "Network") -> None:
        self.objective.prepare(network)

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.objective(features)

    def __repr__(self) -> str:
        return f"Masked({self.objective!r}, {tuple(self.mask.shape[-2:])})"


def mask_groups(objective: Objective) -> list[tuple[Objective, torch.Tensor | None]]:
    """The objective's terms gathered by mask: ``[(sum of the terms, their mask or None)]``."""
    groups: dict[int, tuple[list[tuple[float, Objective]], torch.Tensor | None]] = {}
    for weight, term in _terms(objective):
        mask = term.mask if isinstance(term, Masked) else None
        inner = term.objective if isinstance(term, Masked) else term
        groups.setdefault(id(mask), ([], mask))[0].extend((weight * w, o) for w, o in _terms(inner))
    return [(Sum(tuple(terms)), mask) for terms, mask in groups.values()]


@dataclass(frozen=True, eq=False)
class Layer(Objective):
    """Mean of squared activations of a layer: the original DeepDream objective.

    With ``channel``, the mean activation of that one channel instead (as in the
    TF DeepDream tutorial), which grows that feature wherever it can.
    """

    layer: str
    channel: int | None = None

    def addresses(self) -> tuple[str, ...]:
        return (self.layer,)

    def prepare(self, network: "Network") -> None:
        super().prepare(network)
        if self.channel is not None:
            shape = network.layer_shapes([self.layer], size=max(64, network.min_size))[self.layer]
            if not 0 <= self.channel < shape[0]:
                raise LayerError(
                    f"channel {self.channel} is out of range: {self.layer} of {network.name} "
                    f"has {shape[0]} channels (0 to {shape[0] - 1})"
                )

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        act = features[self.layer]
        if self.channel is None:
            return act.float().pow(2).mean()
        return act[:, self.channel].float().mean()

    def __repr__(self) -> str:
        return f"Layer({self.layer!r}" + (f", channel={self.channel})" if self.channel is not None else ")")


@dataclass(frozen=True, eq=False)
class Neuron(Objective):
    """One channel of a layer at the centre position only (Lucid's ``neuron``), not its mean over the image.

    What makes that single unit fire: one object in the middle of the picture, where
    :class:`Layer` with a channel fills the whole picture with the feature.
    """

    layer: str
    channel: int

    def addresses(self) -> tuple[str, ...]:
        return (self.layer,)

    def prepare(self, network: "Network") -> None:
        Layer(self.layer, self.channel).prepare(network)

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        act = features[self.layer]
        if act.ndim != 4:
            raise LayerError(f"a neuron needs a convolutional layer; {self.layer} has output shape {tuple(act.shape)}")
        h, w = act.shape[-2:]
        return act[:, self.channel, h // 2, w // 2].float().mean()

    def __repr__(self) -> str:
        return f"Neuron({self.layer!r}, {self.channel})"


@dataclass(frozen=True, eq=False)
class Diversity(Objective):
    """Minus how alike a batch's pictures look to ``layer``: Lucid's ``diversity`` term.

    Each picture's Gram matrix of the layer's channels is normalised to unit length;
    the value is minus the mean over pictures of the summed dot products with the
    others', so maximising it (with a weight, beside another objective) makes the
    pictures of one batch show different faces of one concept. Zero for one picture.
    """

    layer: str

    def addresses(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        act = features[self.layer].float()
        b, c = act.shape[:2]
        flat = act.reshape(b, c, -1)
        grams = torch.bmm(flat, flat.transpose(1, 2)).reshape(b, -1)
        grams = grams / grams.norm(dim=1, keepdim=True).clamp_min(1e-10)
        similarity = grams @ grams.T
        return -(similarity.sum() - similarity.diagonal().sum()) / b

    def __repr__(self) -> str:
        return f"Diversity({self.layer!r})"


@dataclass(frozen=True, eq=False)
class ClassLogit(Objective):
    """The logit of one class of the network's classifier."""

    index: int
    address: str = "logits"

    def addresses(self) -> tuple[str, ...]:
        return (self.address,)

    def prepare(self, network: "Network") -> None:
        n = network.layer_shapes([self.address], size=max(64, network.min_size))[self.address][0]
        if not 0 <= self.index < n:
            raise LayerError(f"class {self.index} is out of range: {network.name} has {n} classes (0 to {n - 1})")

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return features[self.address][:, self.index].float().mean()

    def __repr__(self) -> str:
        return f"ClassLogit({self.index})"


@dataclass(frozen=True, eq=False)
class TopicMix(Objective):
    """A topic mix's logits against the rest: ``sum_k w_k z_k - mean_j z_j`` (weights sum to 1).

    For a model trained on caption topics (``inceptionism train-dream``): a one-hot
    mix amplifies one topic, the mix a word loads on amplifies that word's topics.
    Centred logits rather than the log-likelihood ``sum_k w_k log p_k``: that one
    saturates once the topic wins, and the dream's normalised steps then wander
    into other topics (seen on a three-topic model: the last steps flipped between
    topics); centred logits keep rising and still favour the mix over the others,
    as class visualisations maximise the score before the softmax.
    """

    weights: torch.Tensor
    address: str = "logits"

    def addresses(self) -> tuple[str, ...]:
        return (self.address,)

    def prepare(self, network: "Network") -> None:
        n = network.layer_shapes([self.address], size=max(64, network.min_size))[self.address][0]
        if self.weights.numel() != n:
            raise LayerError(f"a mix of {self.weights.numel()} topics for a classifier of {n} outputs")

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = features[self.address].float()
        logits = logits.reshape(logits.shape[0], -1)
        centred = logits - logits.mean(dim=1, keepdim=True)
        return (centred * self.weights.to(logits.device)).sum(1).mean()

    def __repr__(self) -> str:
        top = torch.argsort(self.weights, descending=True)[:3].tolist()
        return f"TopicMix(top topics {top})"


class Guide(Objective):
    """Amplify in the image what the network sees in a guide image.

    As in the original DeepDream notebook: every position of the image's features
    at ``layer`` is matched to the guide's feature vector with the largest dot
    product, and that dot product is maximised. The guide's features are computed
    once, in :meth:`prepare`.
    """

    def __init__(self, layer: str, guide: torch.Tensor, *, max_side: int = 512):
        if guide.ndim != 4 or guide.shape[:2] != (1, 3):
            raise ConfigError(f"guide must be a 1,3,H,W image tensor, got shape {tuple(guide.shape)}")
        self.layer = layer
        self.guide = guide
        self.max_side = max_side
        self._target: torch.Tensor | None = None  # C x M
        self._prepared_for: tuple[int, torch.device] | None = None

    def addresses(self) -> tuple[str, ...]:
        return (self.layer,)

    def prepare(self, network: "Network") -> None:
        param = next(network.parameters())
        if self._prepared_for == (id(network), param.device):
            return  # the guide's features do not change between images or octaves
        super().prepare(network)
        guide = self.guide.to(device=param.device, dtype=param.dtype)
        h, w = guide.shape[-2:]
        scale = min(1.0, self.max_side / max(h, w))
        scale = max(scale, network.min_size / min(h, w))
        if scale != 1.0:
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
            guide = torch.nn.functional.interpolate(guide, size=size, mode="bilinear", antialias=True, align_corners=False)
        with torch.no_grad(), network.extractor([self.layer]) as extract:
            feats = extract(guide)[self.layer]
        if feats.ndim != 4:
            raise LayerError(f"a guide needs a convolutional layer; {self.layer} has output shape {tuple(feats.shape)}")
        self._target = feats[0].flatten(1).float()
        self._prepared_for = (id(network), param.device)

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        if self._target is None:
            raise RuntimeError("Guide.prepare(network) must run before the guide is used")
        x = features[self.layer].float()
        b, c = x.shape[:2]
        x = x.reshape(b, c, -1)  # B x C x N
        target = self._target.to(x.device)
        with torch.no_grad():
            best = torch.einsum("bcn,cm->bnm", x, target).argmax(-1)  # B x N
        matched = target[:, best]  # C x B x N
        return (x * matched.permute(1, 0, 2)).sum(1).mean()

    def __repr__(self) -> str:
        return f"Guide({self.layer!r})"


class Function(Objective):
    """Any function of the activations, for an objective the others do not make (lucent's
    ``wrap_objective``): ``fn`` takes ``{address: activations}`` of ``layers`` and returns a scalar to maximise.

    ``Function(lambda f: f["blocks.5"][:, 3].mean() - f["blocks.5"][:, 7].mean(), "blocks.5")``, or as a
    decorator, :func:`objective`. It composes with the others (``Function(...) + 0.5 * Layer("blocks.4")``).
    """

    def __init__(self, fn: Callable[[dict[str, torch.Tensor]], torch.Tensor], *layers: str, name: str | None = None):
        if not callable(fn):
            raise ConfigError(f"an objective function must be callable, got {type(fn).__name__}")
        if not layers or not all(isinstance(a, str) and a for a in layers):
            raise ConfigError("an objective function names the layers it reads: Function(fn, 'blocks.5', ...)")
        self.fn, self.layers = fn, tuple(layers)
        self.name = name or getattr(fn, "__name__", "function")

    def addresses(self) -> tuple[str, ...]:
        return self.layers

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        value = self.fn({a: features[a] for a in self.layers})
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise ConfigError(f"objective {self.name} must return one number (a 0-d tensor), "
                              f"got {type(value).__name__}{'' if not isinstance(value, torch.Tensor) else tuple(value.shape)}")
        return value.float().reshape(())

    def __repr__(self) -> str:
        return f"Function({self.name}, {', '.join(repr(a) for a in self.layers)})"


def objective(*layers: str) -> Callable[[Callable[[dict[str, torch.Tensor]], torch.Tensor]], Function]:
    """A decorator that makes a function of the activations of ``layers`` an :class:`Objective`::

        @objective("blocks.5")
        def contrast(f):
            return f["blocks.5"][:, 3].mean() - f["blocks.5"][:, 7].mean()
    """
    def make(fn: Callable[[dict[str, torch.Tensor]], torch.Tensor]) -> Function:
        return Function(fn, *layers)

    return make


_ADDRESS = re.compile(r"^(?P<layer>[^:=\s]+)(?::(?P<channel>[^=]+))?(?:=(?P<weight>.+))?$")


@dataclass(frozen=True)
class LayerAddress:
    """One parsed ``LAYER[:CHANNEL][=WEIGHT]``."""

    layer: str
    channel: int | None = None
    weight: float = 1.0

    def __str__(self) -> str:
        text = self.layer
        if self.channel is not None:
            text += f":{self.channel}"
        if self.weight != 1.0:
            text += f"={self.weight:g}"
        return text


def parse_address(text: str) -> LayerAddress:
    """Parse ``LAYER[:CHANNEL][=WEIGHT]``; bad syntax raises :class:`ConfigError`."""
    m = _ADDRESS.match(text.strip())
    if not m:
        raise ConfigError(f"bad layer address {text!r}: expected LAYER[:CHANNEL][=WEIGHT], e.g. inception4e:97=0.5")
    channel = None
    if m["channel"] is not None:
        try:
            channel = int(m["channel"])
        except ValueError:
            raise ConfigError(f"bad channel in {text!r}: {m['channel']!r} is not a whole number") from None
        if channel < 0:
            raise ConfigError(f"bad channel in {text!r}: channels count from 0")
    weight = 1.0
    if m["weight"] is not None:
        try:
            weight = float(m["weight"])
        except ValueError:
            raise ConfigError(f"bad weight in {text!r}: {m['weight']!r} is not a number") from None
        if not math.isfinite(weight):
            raise ConfigError(f"bad weight in {text!r}: must be finite")
    return LayerAddress(m["layer"], channel, weight)


def from_addresses(addresses: Iterable[str | LayerAddress]) -> Objective:
    """The weighted sum of :class:`Layer` objectives that the addresses describe."""
    parsed = [a if isinstance(a, LayerAddress) else parse_address(a) for a in addresses]
    if not parsed:
        raise ConfigError("no layer given")
    return Sum(tuple((a.weight, Layer(a.layer, a.channel)) for a in parsed))


def class_index(value: str | int, categories: tuple[str, ...] | None) -> int:
    """A class given as an index or as (part of) its name, e.g. ``285`` or ``"Egyptian cat"``."""
    if isinstance(value, int) or str(value).strip().lstrip("-").isdigit():
        return int(value)
    if categories is None:
        raise ConfigError(f"class {value!r}: this model has no class names; give the class number")
    wanted = str(value).strip().lower()
    exact = [i for i, c in enumerate(categories) if c.lower() == wanted]
    if exact:
        return exact[0]
    partial = [i for i, c in enumerate(categories) if wanted in c.lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        shown = ", ".join(f"{i} {categories[i]}" for i in partial[:6])
        raise ConfigError(f"class {value!r} is ambiguous: {shown}")
    import difflib

    close = difflib.get_close_matches(wanted, [c.lower() for c in categories], n=3)
    hint = f" (closest: {', '.join(close)})" if close else ""
    raise ConfigError(f"no class named {value!r}{hint}")


def build_objective(
    network: "Network",
    layers: Sequence[str | LayerAddress] | None = None,
    *,
    guide: torch.Tensor | None = None,
    class_value: str | int | None = None,
    topic: int | str | None = None,
    word: str | None = None,
    masks: Mapping[int, torch.Tensor] | None = None,
    neurons: Sequence[str | LayerAddress] = (),
) -> tuple[Objective, list[LayerAddress]]:
    """The objective that the usual choices describe, and the layer addresses it uses.

    ``layers`` (default: the model's own) are amplified, or matched to the
    ``guide`` image's features when one is given; a class logit is added when
    ``class_value`` (a number or a class name) is given, and for a model trained
    on captions a ``topic`` (its number) or the topic mix a ``word`` loads on.
    ``neurons`` (``LAYER:CHANNEL[=WEIGHT]``) add the centre unit of a channel
    (:class:`Neuron`). With only those, the layers are left out. ``masks`` maps an
    index of ``layers`` to the mask that layer dreams through (:class:`Masked`).
    """
    chosen = [a if isinstance(a, LayerAddress) else parse_address(a) for a in (layers or network.spec.default_layers)]
    masks = dict(masks or {})
    if any(not 0 <= i < len(chosen) for i in masks):
        raise ConfigError(f"a layer mask needs a {param('layer')} before it")
    terms: list[Objective] = []
    units = [a if isinstance(a, LayerAddress) else parse_address(a) for a in neurons]
    for unit in units:
        if unit.channel is None:
            raise ConfigError(f"a neuron is LAYER:CHANNEL (its centre position), got {str(unit)!r}")
    targeted = class_value is not None or topic is not None or word is not None or bool(units)
    if guide is not None or masks:
        for i, a in enumerate(chosen):
            term = a.weight * Guide(a.layer, guide) if guide is not None else from_addresses([a])
            terms.append(Masked(term, masks[i]) if i in masks else term)
    elif layers or not targeted:
        terms.append(from_addresses(chosen))
    for unit in units:
        terms.append(unit.weight * Neuron(unit.layer, unit.channel))  # type: ignore[arg-type]
    if class_value is not None:
        collection = getattr(network, "collection", None)
        if collection is not None and collection.kind == "topics" and not str(class_value).strip().isdigit():
            raise ConfigError(f"class {class_value!r}: this model was trained on captions: it knows topics and "
                              f"words, not classes; use {param('word', str(class_value).split()[0])} or a "
                              f"{param('topic')} ({either('inceptionism.topics(model)', '`inceptionism topics MODEL`')} "
                              f"lists them)")
        terms.append(ClassLogit(class_index(class_value, network.categories), network.spec.classifier))
    if topic is not None or word is not None:
        collection = getattr(network, "collection", None)
        if collection is None:
            raise ConfigError(f"{param('topic')} and {param('word')} need a model trained on captions "
                              f"(`inceptionism train-dream`, then {param('weights', 'MODEL.safetensors')})")
        if topic is not None:
            mix = torch.zeros(collection.count)
            mix[collection.topic_index(topic)] = 1.0
            terms.append(TopicMix(mix, network.spec.classifier))
        if word is not None:
            terms.append(TopicMix(collection.word_mix(word), network.spec.classifier))
    objective = terms[0]
    for term in terms[1:]:
        objective = objective + term
    return objective, chosen
