"""The options that several commands share, in groups (a model and what to dream, the dream's settings, devices
and precision, Ray, watching a training), the argparse actions that pair masks and regions with what they follow,
and what those options load (the network, the objective, the masks)."""

from __future__ import annotations

import argparse
import functools
import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Sequence

from inceptionism.cli.common import UNSET, argument_type
from inceptionism.errors import ConfigError

#: CLI options that map one to one onto DreamConfig fields (None: not given).
DREAM_CONFIG_OPTIONS = ("steps", "step_size", "octaves", "octave_scale", "jitter", "seed", "preserve_colors", "tile",
                        "precision", "lap_norm", "transforms", "decorrelate")


# -- options -------------------------------------------------------------------
def add_device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto: CUDA, then MPS, then CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


class MaskAction(argparse.Action):
    """``--mask``: kept with the number of ``--layer`` options before it (0: the whole image's mask)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        masks = list(getattr(namespace, self.dest) or [])
        masks.append((len(getattr(namespace, "layer", None) or []), values))
        setattr(namespace, self.dest, masks)


class StyleChoice(argparse._AppendAction):
    """An appended style option (``--style``, ``--style-index``) that a ``--region`` after it pairs with."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        super().__call__(parser, namespace, values, option_string)
        namespace.last_style = (self.dest, len(getattr(namespace, self.dest)) - 1)


class RegionAction(argparse.Action):
    """``--region MASK``: kept with the style option just before it, as ``(dest, index, path)``."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        regions = list(getattr(namespace, self.dest) or [])
        last = getattr(namespace, "last_style", None)
        regions.append((*(last or (None, -1)), values))
        setattr(namespace, self.dest, regions)


def paired_regions(args: argparse.Namespace, dest: str, count: int) -> list[str]:
    """The ``--region`` of each of ``count`` ``dest`` styles, in order; one clear error for a region without
    a style before it, two regions for one style, or a style left without one."""
    found: dict[int, str] = {}
    for kind, index, path in args.region or []:
        if kind != dest:
            raise ConfigError(f"--region {path}: put it right after the --{dest.replace('_', '-')} it is for")
        if index in found:
            raise ConfigError(f"two --region options for one --{dest.replace('_', '-')}: one region per style")
        found[index] = path
    missing = [i for i in range(count) if i not in found]
    if missing:
        raise ConfigError(f"--region: every --{dest.replace('_', '-')} needs its own region when one has one "
                          f"(style {missing[0] + 1} has none)")
    return [found[i] for i in range(count)]


def _lap_levels(text: str) -> int:
    try:
        levels = int(text)
    except ValueError:
        raise ConfigError(f"--lap-norm takes a number of levels, got {text!r} (put it after the input images)") from None
    if not 1 <= levels <= 12:
        raise ConfigError(f"--lap-norm takes 1 to 12 levels, got {levels} (leave it out for the plain normalisation)")
    return levels


def split_masks(args: argparse.Namespace) -> tuple[str | None, dict[int, str]]:
    """``--mask`` options as (the whole image's mask, {layer index: its mask}), each checked for clashes."""
    whole, per_layer = None, {}
    for after, path in args.mask or []:
        if after == 0:
            if whole is not None:
                raise ConfigError("two --mask options before any --layer: give the whole image one mask "
                                  "(or put each mask after the --layer it is for)")
            whole = path
        else:
            if after - 1 in per_layer:
                raise ConfigError(f"two --mask options after --layer {args.layer[after - 1]}: one mask per layer")
            per_layer[after - 1] = path
    return whole, per_layer


def add_network_options(p: Any) -> None:
    """--model and --weights: which network, with which weights (a train-dream model names its own backbone)."""
    p.add_argument("--model", default=None, help="model name (see `inceptionism models`); default efficientnet_lite0")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="checkpoint for the model's architecture (state dict, .safetensors or TorchScript), or a "
                        "train-dream model (its classes and topics); 'random' for untrained weights")


def add_target_options(p: Any, *, layer_help: str = "", between: Any = None) -> None:
    """--layer, --class, --topic, --word: what the network is asked for (``between(p)`` adds options after
    --layer, as dreams' masks and guide)."""
    p.add_argument("--layer", action="append", default=None, metavar="SPEC",
                   help="LAYER[:CHANNEL][=WEIGHT], repeatable; default: the model's own (see `inceptionism layers`)"
                   + layer_help)
    if between is not None:
        between(p)
    p.add_argument("--class", dest="class_", default=None, metavar="N|NAME",
                   help="a class logit, by number or name (e.g. 285, 'Egyptian cat', 'flamingo'; a train-dream "
                        "model's own class names)")
    p.add_argument("--topic", default=None, metavar="N",
                   help="one topic of a model trained on captions (see `inceptionism topics MODEL`)")
    p.add_argument("--word", default=None, metavar="WORD",
                   help="the topics a word loads on, for a model trained on captions (e.g. food)")


def _dream_places(p: Any) -> None:
    p.add_argument("--mask", action=MaskAction, default=None, metavar="IMAGE",
                   help="dream where this picture is white, fade where grey, keep black untouched (bit for bit); "
                        "after a --layer, that layer's own region (different regions, different layers)")
    p.add_argument("--invert-mask", action="store_true", help="swap the masks' white and black")
    p.add_argument("--lap-norm", type=argument_type(_lap_levels, "--lap-norm"), nargs="?", const=4, default=None,
                   metavar="LEVELS",
                   help="normalise the gradient over a Laplacian pyramid of LEVELS (default 4) levels, as in "
                        "TensorFlow's 2016 notebook: larger, smoother patterns, less speckle")
    p.add_argument("--guide", default=None, metavar="IMAGE",
                   help="amplify in the input what the network sees in this image, at the chosen layers")


def add_model_options(p: argparse.ArgumentParser, *, layer_help: str = "") -> None:
    """What to dream and where: the network, its target (with masks, guide, Laplacian normalisation), devices."""
    add_network_options(p)
    add_target_options(p, layer_help=layer_help, between=_dream_places)
    add_device_options(p)


# -- options declared from the configs -----------------------------------------------
@functools.lru_cache(maxsize=None)
def _module_lines(path: str) -> tuple[str, ...]:
    return tuple(Path(path).read_text(encoding="utf-8").splitlines())


@functools.lru_cache(maxsize=None)
def field_help(config: type) -> dict[str, str]:
    """Each field's ``#:`` comment in ``config``'s source: the help text of its option. (The module's text is read
    once; ``inspect.getsource`` parsed it again for every class, which start-up paid for.)"""
    lines = _module_lines(sys.modules[config.__module__].__file__ or "")
    start = next(i for i, line in enumerate(lines) if re.match(rf"class {config.__name__}\b", line))
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in lines[start + 1:]:
        if line and not line[0].isspace():
            break  # the class's body ends at the next statement of the module
        text = line.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
            continue
        m = re.match(r"([a-z_][a-z0-9_]*)\s*:", text)
        if m and pending:
            docs[m[1]] = " ".join(pending)
        pending = []
    return docs


def _kind(annotation: str) -> Any:
    """The argparse type a field's annotation (as text) asks for."""
    kinds = set(re.split(r"[\s|\[\],]+", annotation))
    return int if "int" in kinds and "float" not in kinds else float if "float" in kinds else None


def config_options(p: Any, config: type, names: Sequence[str], **overrides: dict[str, Any]) -> None:
    """Declare each field of ``config`` in ``names`` as an option: ``--name-with-dashes``, its type from the
    field, its help from the field's ``#:`` comment and its default shown from the field. The option's own
    default is None (not given: the config's, or a stored recipe's). ``overrides[name]`` changes what the field
    cannot say (``flags``, ``metavar``, ``choices``, an ``action``, a ``help`` of its own, ``default_text``)."""
    by_name = {f.name: f for f in fields(config)}
    docs = field_help(config)
    for name in names:
        f, extra = by_name[name], dict(overrides.get(name, {}))
        flags = extra.pop("flags", (f"--{name.replace('_', '-')}",))
        shown = extra.pop("default_text", f.default)
        text = extra.pop("help", None) or re.sub(  # a field named in its doc is the option's flag here
            r"``([a-z_]+)``", lambda m: f"--{m[1].replace('_', '-')}" if m[1] in by_name else m[1], docs.get(name, ""))
        if "action" not in extra and "type" not in extra:
            if isinstance(f.default, bool):
                extra["action"] = "store_true"
            elif _kind(str(f.type)) is not None:
                extra["type"] = _kind(str(f.type))
        extra.setdefault("default", None)
        tail = "" if shown is False else f" (default {shown})"  # a flag's default, off, goes without saying
        p.add_argument(*flags, dest=name, help=f"{text}{tail}".strip().replace("%", "%%"), **extra)


def config_from(args: argparse.Namespace, config: type, values: dict[str, Any] | None = None) -> Any:
    """``config`` built from the options that were given, over ``values`` (a stored recipe's, say)."""
    values = dict(values or {})
    for f in fields(config):
        given = getattr(args, f.name, None)
        if given is not None and given is not UNSET:
            values[f.name] = given
    return config(**values)


def add_step_options(p: argparse.ArgumentParser, *, steps: bool = True, octaves: int | None = None,
                     lists: bool = False) -> None:
    """The DreamConfig options; every default is DreamConfig's unless ``octaves`` says otherwise.

    ``lists``: ``--steps``, ``--step-size`` and ``--octaves`` take one value or several (``sweep``'s axes).
    """
    from inceptionism.configs import VISUALIZE_TRANSFORMS, DreamConfig
    from inceptionism.parsing import parse_tile

    several = {"type": str, "help_tail": " (one or several, comma-separated)"} if lists else {}
    axes = {name: {"type": several["type"], "metavar": metavar,
                   "help": field_help(DreamConfig)[name] + several["help_tail"]}
            for name, metavar in (("steps", "N[,N...]"), ("step_size", "X[,X...]"), ("octaves", "N[,N...]"))} \
        if lists else {}
    if octaves is not None:
        axes["octaves"] = {**axes.get("octaves", {}), "default": octaves, "default_text": octaves}
    names = (("steps",) if steps else ()) + ("step_size", "octaves", "octave_scale", "jitter", "seed",
                                             "preserve_colors", "transforms", "decorrelate")
    config_options(p, DreamConfig, names, transforms={"choices": VISUALIZE_TRANSFORMS}, **axes)
    config_options(p, DreamConfig, ("tile",), tile={"type": argument_type(parse_tile, "tile"), "default": UNSET,
                                                   "metavar": "PX|auto|off", "help": "work on large images tile by tile",
                                                   "default_text": "auto: the largest tile that fits in free memory"})
    add_precision_option(p)


def add_precision_option(p: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--precision auto|bf16|fp32`` and its synonym ``--fp32`` (None: not given; the config's default)."""
    from inceptionism.configs import PRECISIONS

    p.add_argument("--precision", choices=PRECISIONS, default=default,
                   help="compute precision of the network (default auto: bfloat16 on CUDA and on a CPU with "
                        "AVX-512 BF16 or AMX, float32 elsewhere; images, weights and losses stay float32)")
    p.add_argument("--fp32", dest="precision", action="store_const", const="fp32",
                   help="the same as --precision fp32")


def add_watch_options(p: argparse.ArgumentParser, sheet: str) -> None:
    """A trainer's ``--preview-every N`` and ``--log-dir DIR`` (the log CSV is always written)."""

    def steps(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes a number of steps, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 (never) or more, got {value}")
        return value

    p.add_argument("--preview-every", type=steps, default=None, metavar="N",
                   help=f"write a preview sheet ({sheet}) to MODEL's .previews/ folder every N steps and at the end; "
                        "0: never (default: at every checkpoint, as long as previews take at most 5%% of the run's "
                        "time). Every run also logs its figures, one row per step, to MODEL's .log.csv")
    p.add_argument("--log-dir", default=None, metavar="DIR",
                   help="also write TensorBoard files (figures and previews) to DIR/MODEL-NAME, so that "
                        "`tensorboard --logdir DIR` shows runs side by side (needs inceptionism[tensorboard])")


def build_dream_config(args: argparse.Namespace, recipe: dict[str, Any] | None = None) -> Any:
    """The DreamConfig that the arguments (over an optional stored recipe) describe."""
    from inceptionism.configs import DreamConfig, stored_values

    stored = (recipe or {}).get("config", {})
    values = stored_values(DreamConfig, stored, "the recipe")
    if "mixed_precision" in stored and "precision" not in stored:
        # a recipe from before --precision: float32, except bfloat16 autocast on CUDA
        on_cuda = str((recipe or {}).get("device", "")).startswith("cuda")
        values["precision"] = "bf16" if stored["mixed_precision"] is True and on_cuda else "fp32"
    return config_from(args, DreamConfig, {k: v for k, v in values.items() if k in DREAM_CONFIG_OPTIONS})


def load_network(args: argparse.Namespace, model: str | None = None, weights: str | None = None, *,
                 device: Any = None) -> Any:
    """The network the options name, on the device they name (or ``device``).

    A ``train-dream`` model given as ``--weights`` names its own backbone, so
    ``--model`` may be left out; otherwise the default is the embedded model.
    """
    from inceptionism.devices import resolve_device
    from inceptionism.models import get_model

    device = device if device is not None else resolve_device(args.device)
    return get_model(model or args.model, weights=weights or args.weights, device=device, progress=not args.quiet)


def dream_objective(network: Any, layers: list[str] | None, guide: str | None, class_value: str | None,
                    topic: str | None = None, word: str | None = None, masks: dict[int, Any] | None = None) -> Any:
    """The objective of the dream options (``--layer``, ``--guide``, ``--class``, ``--topic``, ``--word``,
    a ``--mask`` after a ``--layer``) and its layer addresses."""
    from inceptionism.io.images import load_image
    from inceptionism.objectives import build_objective

    return build_objective(network, layers, guide=load_image(guide).rgb if guide else None, class_value=class_value,
                           topic=topic, word=word, masks=masks)


def mask_pairs(args: argparse.Namespace) -> tuple[tuple[int, str], ...]:
    """``--mask`` options as a job's (index, path) pairs: -1 for the whole image, then each layer's, in order."""
    whole, per_layer = split_masks(args)
    return (((-1, whole),) if whole else ()) + tuple(sorted(per_layer.items()))


def load_masks(args: argparse.Namespace, *, per_layer: bool = True) -> tuple[Any, dict[int, Any]]:
    """The ``--mask`` pictures as tensors: (the whole image's mask or None, {layer index: its mask})."""
    from inceptionism.io.images import load_image, mask_tensor

    whole, layered = split_masks(args)
    if layered and not per_layer:
        raise ConfigError(f"{args.command} takes one --mask for the whole image: put it before any --layer")
    load = lambda path: mask_tensor(load_image(path), invert=args.invert_mask)  # noqa: E731
    return (load(whole) if whole else None), {i: load(path) for i, path in layered.items()}


# -- many items: here, or on a Ray cluster -------------------------------------------
def add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("many items on a Ray cluster (pip install 'inceptionism[cluster]')")
    g.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="spread the items over Ray workers: alone, a local Ray on this machine; 'auto', the running "
                        "cluster (`ray start --head`); ray://HOST:PORT, a remote one")
    g.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="workers (default: one per GPU, else as many as the CPUs allow)")
    g.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C",
                   help="CPUs (and torch threads) per worker (default 1)")
    g.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                   help="GPUs per worker, e.g. 0.5 to share one (default 1 where there are GPUs)")
