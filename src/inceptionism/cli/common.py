"""What the commands share: the parser class, common options, progress bars, loading a network.

Command modules import from here and never from each other.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

from inceptionism.devices import resolve_device
from inceptionism.errors import ConfigError, OutputError

PROG = "inceptionism"

#: "not given", where None is a meaningful value
UNSET = object()

#: CLI options that map one to one onto DreamConfig fields (None: not given).
DREAM_CONFIG_OPTIONS = ("steps", "step_size", "octaves", "octave_scale", "jitter", "seed", "preserve_colors", "tile",
                        "mixed_precision")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def argument_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """A library parser as an argparse ``type=``, its message kept in the usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def file_sha256(path: str) -> str | None:
    """SHA-256 of a file's bytes (None for what is not a file, e.g. skimage:NAME)."""
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_label(path: str | None) -> str | None:
    """How an input is recorded in a recipe: an absolute path, or ``skimage:NAME`` as given."""
    if path is None or path.startswith("skimage:"):
        return path
    return os.path.abspath(path)


def progress_bar(total: int, desc: str, quiet: bool, *, unit: str = "step", initial: int = 0, leave: bool = False) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=quiet, unit=unit, leave=leave, dynamic_ncols=True)


class LazyBar:
    """A progress bar that appears at the first step, so that an error before any work prints alone."""

    def __init__(self, name: str, quiet: bool):
        self.name, self.quiet = name, quiet
        self.bar: Any = None

    def step(self, total: int, *, done: int = 1, description: str | None = None, postfix: dict | None = None) -> None:
        """Count one step of ``total``; ``done`` is the step's number (a resumed run starts past 1)."""
        if self.bar is None:
            self.bar = progress_bar(total, self.name, self.quiet)
            self.bar.update(done - 1)
        if description:
            self.bar.set_description(description)
        if postfix:
            self.bar.set_postfix(postfix)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class TrainBar:
    """Training progress: steps with the loss, and the held-out figures once they are measured."""

    def __init__(self, name: str, quiet: bool):
        self.name, self.quiet = name, quiet
        self.bar: Any = None
        self.figures: dict[str, str] = {}

    def report(self, step: Any) -> None:
        if self.bar is None:
            self.bar = progress_bar(step.steps, self.name, self.quiet, initial=step.step - 1, leave=True)
        if step.metrics:
            self.figures = {f"val_{k}": f"{v:.3f}" for k, v in step.metrics.items()}
        self.bar.set_postfix({"loss": f"{step.loss:.3g}", **self.figures}, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def output_targets(inputs: list[str], output: str) -> list[Path]:
    """Where each input's result goes: ``output`` itself, or ``output/NAME.png`` for several inputs."""
    out = Path(output)
    if len(inputs) > 1 or (out.is_dir() and inputs):
        if out.exists() and not out.is_dir():
            raise OutputError(f"{output}: several inputs need an output folder, not a file")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{output}: cannot create the output folder: {exc.strerror or exc}") from exc
        return [out / (Path(i.replace("skimage:", "")).stem + ".png") for i in inputs]
    return [out]


def model_file_output(output: str, *, resume: bool) -> Path:
    """Check a model file to be written by a trainer: ``.safetensors``, in an existing folder, not clobbering."""
    out = Path(output)
    if out.suffix != ".safetensors":
        raise ConfigError(f"{output}: the model file must end in .safetensors")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise ConfigError(f"{output}: the folder {out.parent} does not exist")
    if out.exists() and not resume:
        raise ConfigError(f"{output} exists: add --resume to continue its training, or choose another name")
    if resume and not out.exists():
        raise ConfigError(f"{output}: nothing to resume (no such model file)")
    return out


# -- options -------------------------------------------------------------------
def add_device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto: CUDA, then MPS, then CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_model_options(p: argparse.ArgumentParser, *, layer_help: str = "") -> None:
    """--model, --weights, --layer, --guide, --class, --device, --quiet: what to dream, where."""
    p.add_argument("--model", default=None, help="model name (see `inceptionism models`); default efficientnet_lite0")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="checkpoint for the model's architecture (state dict, .safetensors or TorchScript); "
                        "'random' for untrained weights")
    p.add_argument("--layer", action="append", default=None, metavar="SPEC",
                   help="LAYER[:CHANNEL][=WEIGHT], repeatable; default: the model's own (see `inceptionism layers`)"
                   + layer_help)
    p.add_argument("--guide", default=None, metavar="IMAGE",
                   help="amplify in the input what the network sees in this image, at the chosen layers")
    p.add_argument("--class", dest="class_", default=None, metavar="N|NAME",
                   help="amplify a class logit, by number or name (e.g. 285 or 'Egyptian cat'; "
                        "a train-dream model's own class names)")
    p.add_argument("--topic", default=None, metavar="N",
                   help="amplify one topic of a model trained on captions (see `inceptionism topics MODEL`)")
    p.add_argument("--word", default=None, metavar="WORD",
                   help="amplify the topics a word loads on, for a model trained on captions (e.g. food)")
    add_device_options(p)


def dream_config_defaults() -> dict[str, Any]:
    from inceptionism.dream import DreamConfig

    return {f.name: f.default for f in fields(DreamConfig)}


def add_step_options(p: argparse.ArgumentParser, *, steps: bool = True, octaves: int | None = None) -> None:
    """The DreamConfig options; every default is DreamConfig's unless ``octaves`` says otherwise."""
    from inceptionism.parsing import parse_tile

    d = dream_config_defaults()
    if steps:
        p.add_argument("--steps", type=int, default=None, help=f"gradient steps per octave (default {d['steps']})")
    p.add_argument("--step-size", type=float, default=None,
                   help=f"mean pixel change per step, [0, 1] units (default {d['step_size']})")
    p.add_argument("--octaves", type=int, default=octaves,
                   help=f"number of scales (default {octaves if octaves is not None else d['octaves']})")
    p.add_argument("--octave-scale", type=float, default=None,
                   help=f"size ratio between octaves (default {d['octave_scale']})")
    p.add_argument("--jitter", type=int, default=None, help=f"random roll in pixels per step (default {d['jitter']})")
    p.add_argument("--seed", type=int, default=None, help=f"random seed (default {d['seed']})")
    p.add_argument("--preserve-colors", action="store_true", default=None,
                   help="keep the input's colours; only luminance changes")
    p.add_argument("--tile", type=argument_type(parse_tile, "tile"), default=UNSET, metavar="PX|auto|off",
                   help="work on large images tile by tile (default auto: the largest tile that fits in free memory)")
    p.add_argument("--fp32", dest="mixed_precision", action="store_false", default=None,
                   help="compute in float32 on CUDA too (default: bfloat16 autocast on CUDA)")


def build_dream_config(args: argparse.Namespace, recipe: dict[str, Any] | None = None) -> Any:
    """The DreamConfig that the arguments (over an optional stored recipe) describe."""
    from inceptionism.dream import DreamConfig

    values = dict((recipe or {}).get("config", {}))
    values = {k: v for k, v in values.items() if k in DREAM_CONFIG_OPTIONS}
    for name in DREAM_CONFIG_OPTIONS:
        given = getattr(args, name, None)
        if given is not None and given is not UNSET:
            values[name] = given
    return DreamConfig(**values)


def load_network(args: argparse.Namespace, model: str | None = None, weights: str | None = None) -> Any:
    """The network the options name, on the device they name.

    A ``train-dream`` model given as ``--weights`` names its own backbone, so
    ``--model`` may be left out; otherwise the default is the embedded model.
    """
    from inceptionism.models import get_model

    device = resolve_device(args.device)
    return get_model(model or args.model, weights=weights or args.weights, device=device, progress=not args.quiet)


def dream_objective(network: Any, layers: list[str] | None, guide: str | None, class_value: str | None,
                    topic: str | None = None, word: str | None = None) -> Any:
    """The objective of the dream options (``--layer``, ``--guide``, ``--class``, ``--topic``, ``--word``)
    and its layer addresses."""
    from inceptionism.io.images import load_image
    from inceptionism.objectives import build_objective

    return build_objective(network, layers, guide=load_image(guide).rgb if guide else None, class_value=class_value,
                           topic=topic, word=word)
