"""The one-line functions: ``inceptionism.dream``, ``visualize``, ``stylize``, ``style``, and what to ask a model.

Each is the command line's job with the command line's defaults, through the same code (:mod:`inceptionism.jobs`,
:mod:`inceptionism.style.instant`), so the same settings give the same bytes either way. Inputs are whatever a
notebook holds: a path or ``skimage:NAME``, a PIL image, a numpy array, a tensor, or a result of this library.
``model=`` takes a registered name, a model file (a ``train-dream`` model), or any ``torch.nn.Module``
(:func:`inceptionism.wrap` says how it is read). Results show themselves in Jupyter and save with their recipe
(:mod:`inceptionism.results`). Progress shows through ``tqdm.auto``; ``progress=False`` silences it, and nothing
else is printed. Errors are :class:`~inceptionism.errors.InceptionismError`, naming the parameter.
"""

from __future__ import annotations

import os
from dataclasses import fields
from typing import Any, Callable, Sequence

import torch

from inceptionism.configs import DreamConfig, StyleConfig, StylizeConfig, VisualizeConfig
from inceptionism.errors import ConfigError, param
from inceptionism.results import Picture, Pictures

#: networks loaded lately, by (model, weights, the file's size and time, device): a notebook's next call is at once
_NETWORKS: dict[tuple[Any, ...], Any] = {}
#: how many loaded networks are kept
KEPT = 3


def _file_key(path: str | None) -> tuple[Any, ...]:
    if path is None or not os.path.isfile(path):
        return (path,)
    stat = os.stat(path)
    return (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


def _model_and_weights(model: Any, weights: str | os.PathLike[str] | None) -> tuple[str | None, str | None]:
    """A model name and weights file as the command line takes them (a train-dream file names its backbone)."""
    from inceptionism.models import DEFAULT_MODEL

    weights = os.fspath(weights) if weights is not None else None
    if isinstance(model, os.PathLike) or (isinstance(model, str) and (os.path.isfile(model) or os.sep in model
                                                                      or model.endswith((".safetensors", ".pt", ".pth")))):
        path = os.fspath(model)
        if weights is not None:
            raise ConfigError(f"{param('model')} is a file ({path}): leave out {param('weights')}")
        from inceptionism.models.dream_file import is_dream_model

        if not os.path.isfile(path):
            raise ConfigError(f"{param('model', path)}: no such file")
        if not is_dream_model(path):
            raise ConfigError(f"{param('model', path)} is not a train-dream model; for weights of a registered "
                              f"architecture give {param('model', 'NAME')} and {param('weights', path)}")
        return None, path
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"{param('model')} takes a model name, a model file or a torch.nn.Module, "
                          f"got {type(model).__name__}")
    return model or (None if weights else DEFAULT_MODEL), weights


def network(model: Any = None, *, weights: str | os.PathLike[str] | None = None, device: Any = "auto") -> Any:
    """The :class:`~inceptionism.models.Network` that ``model`` names (a name, a model file, any
    ``nn.Module``, or a Network), loaded once and kept while its file is unchanged."""
    return _resolved(model, weights, device)[0]


def _resolved(model: Any, weights: str | os.PathLike[str] | None, device: Any) -> tuple[Any, str | None, str | None]:
    """The network, and the model name and weights file the command line would be given for it (None, None for a
    module in memory): ``model`` and ``weights`` resolved once."""
    from torch import nn

    from inceptionism.devices import resolve_device
    from inceptionism.models import Network, get_model
    from inceptionism.models.wrap import wrap

    if isinstance(model, Network):
        return model, None, None
    if isinstance(model, nn.Module):
        if weights is not None:
            raise ConfigError(f"{param('weights')} goes with a model name; a module has its own")
        return wrap(model), None, None
    name, weights = _model_and_weights(model, weights)
    where = resolve_device(device)
    key = (name, *_file_key(weights), str(where))
    if key not in _NETWORKS:
        _NETWORKS[key] = get_model(name, weights=weights, device=where, progress=False)
        while len(_NETWORKS) > KEPT:
            _NETWORKS.pop(next(iter(_NETWORKS)))
    return _NETWORKS[key], name, weights


def _weights_label(model: Any, net: Any) -> str | None:
    """What a recipe says of the weights of a network given in memory ("in memory", or a Network's own label);
    None for a name or a file (the recipe names those as the command line does)."""
    return net.weights if isinstance(model, torch.nn.Module) else None


class _Progress:
    """A loop's steps on a progress bar (silent with ``progress=False``), each also handed to ``callback``."""

    def __init__(self, progress: bool, callback: Callable[[Any], None] | None, *, total: Callable[[Any], int],
                 describe: Callable[[Any], str], figure: tuple[str, Callable[[Any], Any]] | None = None):
        from inceptionism.progress import LazyBar

        self.bar, self.callback = LazyBar("", not progress), callback
        self.total, self.describe, self.figure = total, describe, figure

    def __call__(self, step: Any) -> None:
        last = self.figure is not None and step.step == step.steps
        postfix = {self.figure[0]: f"{self.figure[1](step).item():.3g}"} if last else None  # type: ignore[index]
        self.bar.step(self.total(step), description=self.describe(step), postfix=postfix)
        if self.callback is not None:
            self.callback(step)

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


class _Done:
    """A one-step job's single step (a stylisation has no steps of its own to report)."""

    step = steps = 1


def _layers_and_objective(layer: Any) -> tuple[tuple[str, ...] | None, Any]:
    """``layer`` as the command line's addresses, or as an objective built in Python (None, the objective)."""
    from inceptionism.objectives import Objective, parse_address

    if layer is None:
        return None, None
    if isinstance(layer, Objective):
        return None, layer
    items = [layer] if isinstance(layer, str) else list(layer) if isinstance(layer, (list, tuple)) else None
    if items is None or not items:
        raise ConfigError(f"{param('layer')} takes an address (LAYER[:CHANNEL][=WEIGHT]), a list of them, or an "
                          f"objective; got {layer!r}")
    if all(isinstance(i, str) for i in items):
        for item in items:
            parse_address(item)  # syntax errors before any work
        return tuple(items), None
    objective = None
    for item in items:
        term = item if isinstance(item, Objective) else None
        if term is None:
            from inceptionism.objectives import from_addresses

            if not isinstance(item, str):
                raise ConfigError(f"{param('layer')}: {item!r} is neither an address nor an objective")
            term = from_addresses([item])
        objective = term if objective is None else objective + term
    return None, objective


def _noise_text(noise: Any) -> str:
    from inceptionism.parsing import parse_size

    if isinstance(noise, (tuple, list)) and len(noise) == 2:
        text = f"{noise[0]}x{noise[1]}"
    elif isinstance(noise, str):
        text = noise
    else:
        raise ConfigError(f"{param('noise')} takes (width, height) or 'WIDTHxHEIGHT', got {noise!r}")
    parse_size(text, "noise")
    return text


def dream(image: Any = None, layer: Any = None, *, model: Any = None, weights: str | None = None,
          guide: Any = None, class_: str | int | None = None, topic: str | int | None = None,
          word: str | None = None, mask: Any = None, invert_mask: bool = False, noise: Any = None,
          max_side: int = 0, steps: int = 10, step_size: float = 0.01, octaves: int = 4, octave_scale: float = 1.4,
          jitter: int = 32, seed: int = 0, preserve_colors: bool = False, tile: int | str | None = "auto",
          precision: str = "auto", lap_norm: int = 0, transforms: str = "none", decorrelate: bool = False,
          device: Any = "auto", progress: bool = True, callback: Callable[[Any], None] | None = None) -> Picture:
    """Dream on ``image``: gradient ascent so that ``layer`` sees more of what it already sees.

    ``image``: a path, ``skimage:NAME``, a PIL image, a numpy array (``H,W,3``, uint8 or float in [0, 1]) or a
    tensor; or None with ``noise=(width, height)``. ``layer``: the command line's grammar
    (``"blocks.5:17=0.5"``), a list of such addresses, or an objective (``Layer("blocks.4") + ...``); None:
    the model's own layers. ``class_``, ``topic``, ``word``: amplify a class (by name or number), or a
    ``train-dream`` captions model's topic or word. ``guide``: amplify what the network sees in this picture.
    ``mask``: dream where it is white, keep black untouched. Every other setting is
    :class:`~inceptionism.configs.DreamConfig`'s, with the command line's defaults. ``callback`` gets a
    :class:`~inceptionism.dream.DreamStep` after each step.
    """
    from inceptionism.dream.loop import noise_image
    from inceptionism.io.images import read_source
    from inceptionism.jobs import DreamJob, dream_recipe

    config = DreamConfig(steps=steps, step_size=step_size, octaves=octaves, octave_scale=octave_scale, jitter=jitter,
                         seed=seed, preserve_colors=preserve_colors, tile=tile, precision=precision,
                         lap_norm=lap_norm, transforms=transforms, decorrelate=decorrelate)
    if (image is None) == (noise is None):
        raise ConfigError(f"give {param('image')} (e.g. 'skimage:chelsea') or {param('noise', (512, 384))}, one of them")
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 0 or 0 < max_side < 16:
        raise ConfigError(f"{param('max_side')} must be 0 (as it is) or at least 16 pixels, got {max_side!r}")
    noise_text = _noise_text(noise) if noise is not None else None
    layers, objective = _layers_and_objective(layer)
    if objective is not None and any(v is not None for v in (guide, class_, topic, word)):
        raise ConfigError(f"an objective says all there is to amplify: put {param('guide')}, {param('class_')}, "
                          f"{param('topic')} or {param('word')} into it, or give {param('layer')} as addresses")
    source = read_source(image, "image") if image is not None else None
    guide_source = read_source(guide, "guide") if guide is not None else None
    net, name, weights = _resolved(model, weights, device)
    mask_file = os.fspath(mask) if isinstance(mask, (str, os.PathLike)) else None
    guide_path = guide_source.given if guide_source is not None else None
    job = DreamJob(model=name or net.name, weights=weights, layers=layers, guide=guide_path,
                   class_value=None if class_ is None else str(class_), topic=topic, word=word, config=config,
                   device=str(device), masks=((-1, mask_file),) if mask_file else (), invert_mask=invert_mask,
                   max_side=max_side, recipe=dream_recipe(weights or _weights_label(model, net), guide_path, topic,
                                                           word, noise_text))
    runner = _dream_runner(job, net, objective, guide_source, mask, invert_mask)
    with _Progress(progress, callback, total=lambda s: s.octaves * s.steps,
                   describe=lambda s: f"dream octave {s.octave + 1}/{s.octaves}",
                   figure=("objective", lambda s: s.objective)) as report:
        if source is None:
            w, h = (int(v) for v in noise_text.split("x"))  # type: ignore[union-attr]
            result = runner.dream(noise_image(w, h, seed=config.seed), report)
            return Picture(result.image, runner.meta(None, None, result.tile, result.precision),
                           objective=list(result.objective))
        result, used, meta = runner.picture(source.image, source.label, source.data, report)
    return Picture(result.image, meta, alpha=used.alpha, objective=list(result.objective))


def _dream_runner(job: Any, net: Any, objective: Any, guide_source: Any, mask: Any, invert_mask: bool) -> Any:
    """The job's runner on ``net``, its guide and mask taken from memory where they were given so."""
    from dataclasses import replace

    from inceptionism.io.images import mask_tensor, read_source

    in_memory_guide = guide_source is not None and guide_source.given is None
    runner = replace(job, guide=None).setup(network=net, objective=objective) if in_memory_guide else \
        job.setup(network=net, objective=objective)
    if in_memory_guide:
        from inceptionism.objectives import build_objective

        runner.guide = guide_source.image.rgb
        runner.objective, runner.chosen = build_objective(net, job.layers, guide=runner.guide,
                                                          class_value=job.class_value, topic=job.topic, word=job.word)
        runner.objective.prepare(net)
    if mask is not None and not isinstance(mask, (str, os.PathLike)):
        runner.mask = mask_tensor(read_source(mask, "mask").image, invert=invert_mask)
    return runner


def _target(what: Any, net: Any, *, layer: Any, neuron: Any, class_: Any, topic: Any, word: Any) -> Any:
    """What ``visualize`` renders, as the command line's :class:`~inceptionism.jobs.Target` (or None for an
    objective built in Python)."""
    from inceptionism.errors import LayerError
    from inceptionism.jobs import Target
    from inceptionism.objectives import parse_address

    def addresses(value: Any, name: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = (value,) if isinstance(value, str) else tuple(value)
        if not items or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{param(name)} takes an address (LAYER:CHANNEL) or a list of them, got {value!r}")
        for item in items:
            parse_address(item)
        return items

    target = dict(layers=addresses(layer, "layer"), neurons=addresses(neuron, "neuron"), class_value=class_,
                  topic=topic, word=word)
    if what is None:
        return Target(**target)
    if any(target.values()):
        raise ConfigError(f"give what to render once: {param('what')}, or {param('layer')}, {param('neuron')}, "
                          f"{param('class_')}, {param('topic')}, {param('word')}")
    if isinstance(what, bool) or not isinstance(what, (int, str)):
        raise ConfigError(f"{param('what')} takes a class name or number, 'LAYER:CHANNEL', a topic, a word or an "
                          f"objective, got {type(what).__name__}")
    if isinstance(what, int):
        return Target(class_value=str(what))
    text = what.strip()
    collection = getattr(net, "collection", None)
    address = None
    try:
        address = parse_address(text)
        net.resolve(address.layer)
    except (ConfigError, LayerError):
        address = None
    if address is not None and (address.channel is not None or text == address.layer):
        return Target(layers=(text,))
    if collection is not None and collection.kind == "topics":
        if text.isdigit():
            return Target(topic=text)
        return Target(word=text)
    return Target(class_value=text)


def visualize(what: Any = None, *, model: Any = None, weights: str | None = None, layer: Any = None,
              neuron: Any = None, class_: str | int | None = None, topic: str | int | None = None,
              word: str | None = None, size: int | tuple[int, int] | None = None, steps: int = 256, lr: float = 0.05,
              param: str = "fft", decorrelate: bool = True, transforms: str = "strong", batch: int = 1,
              diversity: float = 0.0, seed: int = 0, precision: str = "auto", device: Any = "auto",
              progress: bool = True, callback: Callable[[Any], None] | None = None) -> Picture | Pictures:
    """Render from nothing a picture that ``what`` responds to (feature visualisation, as Lucid does).

    ``what``: a class name or number (``"flamingo"``, ``130``), ``"LAYER:CHANNEL"`` (a channel over the whole
    picture), a layer (``"blocks.5"``), a ``train-dream`` model's topic number or word, or an objective
    (``Neuron("blocks.5", 12) - 0.5 * Layer("blocks.4", channel=3)``). ``neuron`` renders a channel's centre
    unit. ``size``: a side or (width, height). With ``batch`` above 1 (and ``diversity`` to make them differ)
    a :class:`~inceptionism.results.Pictures` comes back, else a :class:`~inceptionism.results.Picture`. Every
    other setting is :class:`~inceptionism.configs.VisualizeConfig`'s, with the command line's defaults.
    """
    from inceptionism.jobs import Target, VisualizeJob, visualize_recipe
    from inceptionism.objectives import Objective
    from inceptionism.visualize.render import render

    width, height = _size(size)
    config = VisualizeConfig(width=width, height=height, steps=steps, lr=lr, param=param, decorrelate=decorrelate,
                             transforms=transforms, batch=batch, diversity=diversity, seed=seed, precision=precision)
    net, name, weights = _resolved(model, weights, device)
    job = VisualizeJob(model=name or net.name, weights=weights, config=config, device=str(device),
                       recipe=visualize_recipe(weights, label=_weights_label(model, net)))
    runner = job.setup(network=net)
    with _Progress(progress, callback, total=lambda s: s.steps, describe=lambda s: "visualize",
                   figure=("objective", lambda s: s.objective)) as report:
        if isinstance(what, Objective):
            what.prepare(net)
            result = render(net, what, config, callback=report)
            meta = {**runner.meta(Target(), result.precision), "objective": repr(what)}
            label = repr(what)
        else:
            target = _target(what, net, layer=layer, neuron=neuron, class_=class_, topic=topic, word=word)
            objective = runner.objective(target)  # unknown classes, words, layers: one line before any work
            result = render(net, objective, config, callback=report)
            meta = runner.meta(target, result.precision)
            label = _label(target, net)
    if config.batch == 1:
        return Picture(result.images, meta, objective=list(result.objective), label=label)
    return Pictures(result.images, meta, objective=list(result.objective),
                    labels=[f"{label} {i}" for i in range(config.batch)])


def _label(target: Any, net: Any) -> str:
    from inceptionism.objectives import class_index

    if target.class_value is not None:
        index = class_index(target.class_value, net.categories)
        return net.categories[index] if net.categories else str(index)
    if target.topic is not None:
        return f"topic {target.topic}"
    if target.word is not None:
        return str(target.word)
    return " + ".join(target.layers + target.neurons)


def _size(size: Any) -> tuple[int, int]:
    defaults = VisualizeConfig()
    if size is None:
        return defaults.width, defaults.height
    if isinstance(size, int) and not isinstance(size, bool):
        return size, size
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(v, int) for v in size):
        return int(size[0]), int(size[1])
    raise ConfigError(f"{param('size')} takes a side or (width, height) in pixels, got {size!r}")


def stylize(photo: Any, *, painting: Any = None, style: int | str | Sequence[int | str] | None = None,
            model: str | os.PathLike[str] | None = None, mix: Sequence[float] | None = None,
            style_weights: Sequence[float] | None = None, regions: Sequence[Any] | None = None,
            strength: float = 1.0, strength_by: str = "norms", stroke_scale: float | str | None = None,
            style_size: int = 256, tile: int = 1024, preserve_colors: bool = False, precision: str = "auto",
            device: Any = "auto", progress: bool = True) -> Picture:
    """Paint ``photo`` at once: like ``painting`` (any picture, or several mixed by ``style_weights``; Magenta's
    arbitrary network), in a built-in ``style`` (index or name; :func:`styles` lists them), or in a
    ``train-style`` ``model``'s style or ``mix``. ``regions``: one mask per painting or style, each painted
    where its mask is white. ``strength`` 0 (the photo) to 1 (the full style); ``stroke_scale`` paints larger
    strokes (None: ``"auto"`` with a painting). Every setting is the command line's, with its defaults.
    """
    from inceptionism.io.images import read_source
    from inceptionism.style.instant import choose

    config = StylizeConfig(strength=strength, strength_by=strength_by, stroke_scale=stroke_scale,
                           style_size=style_size, tile=tile, preserve_colors=preserve_colors, precision=precision)
    source = read_source(photo, "photo")
    job = choose(painting=painting, style=style, model=os.fspath(model) if model is not None else None, mix=mix,
                 style_weights=style_weights, regions=regions, config=config, device=device)
    painter = job.setup()
    painter.check_regions(tuple(source.image.rgb.shape[-2:]))
    with _Progress(progress, None, total=lambda _: 1, describe=lambda _: "stylize") as report:
        painted = painter.stylize(source.image.rgb)
        report(_Done())  # one pass: the bar says it is done, and how long it took
    return Picture(painted, painter.recipe(source.given), alpha=source.image.alpha)


def style(photo: Any, painting: Any, *, style_weights: Sequence[float] | None = None,
          regions: Sequence[Any] | None = None, model: Any = None, weights: str | None = None, size: int = 384,
          steps: int = 150, scales: int = 0, content_weight: float = 1.0, style_weight: float = 1.0,
          tv_weight: float = 1.0, optimizer: str = "adam", lr: float = 0.02, init: str = "content",
          style_scale: float = 1.0, preserve_colors: str | None = None, seed: int = 0,
          content_layers: Sequence[str] | None = None, style_layers: Sequence[str] | None = None,
          precision: str = "auto", device: Any = "auto", progress: bool = True,
          callback: Callable[[Any], None] | None = None) -> Picture:
    """Paint ``photo`` like ``painting`` by optimisation (Gatys et al.): slower than :func:`stylize`, any
    loss network (``model``), one or several paintings (``style_weights``), a region each (``regions``).
    Every setting is :class:`~inceptionism.configs.StyleConfig`'s, with the command line's defaults."""
    from dataclasses import replace

    from inceptionism import __version__
    from inceptionism.io.images import mask_tensor, read_source
    from inceptionism.ops import fit_mask
    from inceptionism.precision import resolve_precision
    from inceptionism.style import stylize_optimize

    config = StyleConfig(size=size, steps=steps, scales=scales, content_weight=content_weight,
                         style_weight=style_weight, tv_weight=tv_weight, optimizer=optimizer, lr=lr, init=init,
                         style_scale=style_scale, preserve_colors=preserve_colors, seed=seed,
                         content_layers=tuple(content_layers) if content_layers else None,
                         style_layers=tuple(style_layers) if style_layers else None, precision=precision)
    paintings = list(painting) if isinstance(painting, (list, tuple)) else [painting]
    if style_weights is not None and len(style_weights) != len(paintings):
        raise ConfigError(f"{param('style_weights')} has {len(style_weights)} values for {len(paintings)} paintings")
    content = read_source(photo, "photo")
    styles = [read_source(p, "painting") for p in paintings]
    masks = []
    if regions is not None:
        if style_weights is not None:
            raise ConfigError(f"{param('style_weights')} blends styles everywhere; with {param('regions')} each "
                              "style has its own place")
        if len(regions) != len(paintings):
            raise ConfigError(f"{param('regions')}: one region per painting ({len(paintings)} paintings, "
                              f"{len(regions)} regions)")
        for n, region in enumerate(regions):
            mask = mask_tensor(read_source(region, "regions").image)
            masks.append(fit_mask(mask, tuple(content.image.rgb.shape[-2:]), f"region {n + 1}", kind="region"))
    net = network(model, weights=weights, device=device)
    config = replace(config, precision=resolve_precision(config.precision, next(net.parameters()).device, net.spec))
    meta = {"command": "style", "version": __version__, "model": net.name, "weights": net.weights,
            "content": content.given, "styles": [s.given for s in styles], "style_weights": style_weights,
            "config": config.to_dict(),
            **({"regions": [r if isinstance(r, str) else None for r in regions]} if regions is not None else {})}
    with _Progress(progress, callback, total=lambda s: s.scales * s.steps,
                   describe=lambda s: f"style scale {s.scale + 1}/{s.scales}", figure=("loss", lambda s: s.loss)) as report:
        result = stylize_optimize(net, content.image.rgb, [s.image.rgb for s in styles], config,
                                  style_weights=style_weights, callback=report, regions=masks or None)
    return Picture(result.image, meta, objective=[float(v) for v in result.losses])


# -- what to ask a model ---------------------------------------------------------------
def models() -> list[str]:
    """The registered models' names, the embedded default first (any ``nn.Module`` works too)."""
    from inceptionism.models import list_models

    return list_models()


def layers(model: Any = None, *, weights: str | None = None) -> list[str]:
    """The layers worth naming of ``model`` (a name, a file or a module), in forward order; any
    ``named_modules()`` path and the model's aliases (``conv4_2``, ``mixed3``, ``logits``) work too."""
    from torch import nn

    from inceptionism.models import Network, get_model_spec

    if isinstance(model, (nn.Module, Network)) or (model is not None and not isinstance(model, str)) or \
            weights is not None or (isinstance(model, str) and os.path.isfile(model)):
        return list(network(model, weights=weights, device="cpu").spec.layers)
    name, _ = _model_and_weights(model, None)
    return list(get_model_spec(name or "").layers)


def classes(model: Any = None, *, weights: str | None = None) -> list[str]:
    """The class names of ``model`` (ImageNet's 1,000 for the registered ones; a ``train-dream`` model's own);
    empty when it has none (a module wrapped without ``categories``)."""
    net = network(model, weights=weights, device="cpu")
    return list(net.categories or ())


def topics(model: Any, *, words: int = 10) -> list[list[str]]:
    """The top ``words`` of each topic of a ``train-dream`` model trained on captions."""
    net = network(model, device="cpu")
    collection = getattr(net, "collection", None)
    if collection is None or collection.kind != "topics":
        raise ConfigError(f"{param('model')} was not trained on captions: it has no topics")
    return [[collection.vocabulary[i] for i in collection.topic_word[t].argsort(descending=True)[:words].tolist()]
            for t in range(collection.count)]


def styles(model: str | os.PathLike[str] | None = None) -> list[str]:
    """The names of the styles ``stylize(style=...)`` reaches by index: ``model``'s, or the built-in ones."""
    from inceptionism.style.instant import builtin_styles

    return [name for name, *_ in builtin_styles(os.fspath(model) if model is not None else None)]


def _defaults_of(function: Callable[..., Any], config: type) -> dict[str, tuple[Any, Any]]:
    """(the function's default, the config's) of each setting they share: a test keeps them equal."""
    import inspect

    signature = inspect.signature(function).parameters
    return {f.name: (signature[f.name].default, f.default) for f in fields(config) if f.name in signature}


__all__ = ["classes", "dream", "layers", "models", "network", "style", "styles", "stylize", "topics", "visualize"]
