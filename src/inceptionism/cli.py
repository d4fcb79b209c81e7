"""The ``inceptionism`` command: parsing and printing only; the work is in the library."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from inceptionism import __version__
from inceptionism.errors import ConfigError, InceptionismError, OutputError

PROG = "inceptionism"
log = logging.getLogger(PROG)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# -- shared helpers ----------------------------------------------------------
def resolve_device(name: str) -> Any:
    """``auto`` picks CUDA, then MPS, then the CPU; a named device must exist."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True  # fixed shapes per octave: let cuDNN pick kernels
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here (try --device auto)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices here")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("--device mps: MPS is not available here (try --device auto)")
    return device


def parse_size(text: str, what: str = "--noise") -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise ConfigError(f"{what} takes WIDTHxHEIGHT, e.g. 512x384; got {text!r}")
    return int(m[1]), int(m[2])


def _file_sha256(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _progress(total: int, desc: str, quiet: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, unit="step", leave=False, dynamic_ncols=True)


class LazyBar:
    """A progress bar that appears at the first step, so that an error before any work prints alone."""

    def __init__(self, name: str, quiet: bool):
        self.name, self.quiet = name, quiet
        self.bar: Any = None

    def step(self, total: int, *, done: int = 1, description: str | None = None, postfix: dict | None = None) -> None:
        """Count one step of ``total``; ``done`` is the step's number (a resumed run starts past 1)."""
        if self.bar is None:
            self.bar = _progress(total, self.name, self.quiet)
            self.bar.update(done - 1)
        if description:
            self.bar.set_description(description)
        if postfix:
            self.bar.set_postfix(postfix)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- dream -------------------------------------------------------------------
_UNSET = object()  # "not given", where None is a meaningful value


def _dream_config_defaults() -> dict[str, Any]:
    from inceptionism.dream import DreamConfig

    return {f.name: f.default for f in fields(DreamConfig)}


#: CLI options that map one to one onto DreamConfig fields (None: not given).
_CONFIG_OPTIONS = ("steps", "step_size", "octaves", "octave_scale", "jitter", "seed", "preserve_colors", "tile",
                   "mixed_precision")


def parse_tile(text: str) -> int | str | None:
    """``--tile``: a side in pixels, ``auto`` or ``off``."""
    if text == "auto":
        return "auto"
    if text in ("off", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in pixels, 'auto' or 'off', got {text!r}") from None



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
                   help="amplify a class logit, by number or name (e.g. 285 or 'Egyptian cat')")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto: CUDA, then MPS, then CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_step_options(p: argparse.ArgumentParser, *, steps: bool = True, octaves: int | None = None) -> None:
    """The DreamConfig options; every default is DreamConfig's unless ``octaves`` says otherwise."""
    d = _dream_config_defaults()
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
    p.add_argument("--tile", type=parse_tile, default=_UNSET, metavar="PX|auto|off",
                   help="work on large images tile by tile (default auto: the largest tile that fits in free memory)")
    p.add_argument("--fp32", dest="mixed_precision", action="store_false", default=None,
                   help="compute in float32 on CUDA too (default: bfloat16 autocast on CUDA)")


def load_network(args: argparse.Namespace, model: str | None = None, weights: str | None = None) -> Any:
    from inceptionism.models import DEFAULT_MODEL, get_model

    device = resolve_device(args.device)
    return get_model(model or args.model or DEFAULT_MODEL, weights=weights or args.weights, device=device,
                     progress=not args.quiet)


def _add_dream_parser(sub: Any) -> None:
    p = sub.add_parser(
        "dream",
        help="dream on one or more images",
        description="Gradient ascent on an image so that a layer of a CNN sees more of what it already sees.",
        epilog="Examples:\n"
        "  inceptionism dream skimage:chelsea -o cat-dream.png\n"
        "  inceptionism dream photo.jpg -o out.png --layer blocks.3 --layer blocks.5:17=0.5\n"
        "  inceptionism dream photo.jpg -o out.png --guide flowers.jpg\n"
        "  inceptionism dream --noise 512x384 -o noise.png --class 'Egyptian cat'\n"
        "  inceptionism dream a.jpg b.jpg -o dreams/\n"
        "  inceptionism dream --from out.png -o again.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files, or skimage:NAME for a picture that ships with scikit-image (e.g. skimage:chelsea)")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="output file (.png, .jpg, .webp); a folder when several inputs are given")
    add_model_options(p)
    add_step_options(p)
    p.add_argument("--noise", default=None, metavar="WxH", help="start from noise of this size instead of an image")
    p.add_argument("--from", dest="from_", default=None, metavar="FILE",
                   help="repeat the recipe stored in an image this tool made (options given here override it)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.set_defaults(func=cmd_dream)


def build_dream_config(args: argparse.Namespace, recipe: dict[str, Any] | None = None) -> Any:
    """The DreamConfig that the arguments (over an optional stored recipe) describe."""
    from inceptionism.dream import DreamConfig

    values = dict((recipe or {}).get("config", {}))
    values = {k: v for k, v in values.items() if k in _CONFIG_OPTIONS}
    for name in _CONFIG_OPTIONS:
        given = getattr(args, name, None)
        if given is not None and given is not _UNSET:
            values[name] = given
    return DreamConfig(**values)


def _recipe_value(args: argparse.Namespace, recipe: dict[str, Any], name: str, key: str | None = None) -> Any:
    given = getattr(args, name)
    return given if given is not None else recipe.get(key or name)


def make_objective(network: Any, layers: Sequence[str] | None, guide_path: str | None = None,
                   class_value: str | int | None = None) -> tuple[Any, list[Any]]:
    """The objective the options describe, and the layer addresses it uses.

    Layers (default: the model's own) are amplified, or matched to the guide's
    features when a guide is given; a class logit is added when a class is given.
    """
    import functools
    import operator

    from inceptionism.io.images import load_image
    from inceptionism.objectives import ClassLogit, Guide, class_index, from_addresses, parse_address

    chosen = [parse_address(s) for s in (layers or network.spec.default_layers)]
    terms = []
    if guide_path:
        guide = load_image(guide_path).rgb
        terms.extend(a.weight * Guide(a.layer, guide) for a in chosen)
    elif layers or class_value is None:
        terms.append(from_addresses(chosen))
    if class_value is not None:
        terms.append(ClassLogit(class_index(class_value, network.categories), network.spec.classifier))
    return functools.reduce(operator.add, terms), chosen


def cmd_dream(args: argparse.Namespace) -> int:
    from inceptionism.dream import dream, noise_image
    from inceptionism.io.images import check_output, load_image, read_metadata, save_image
    from inceptionism.models import DEFAULT_MODEL
    from inceptionism.objectives import class_index, parse_address

    recipe: dict[str, Any] = {}
    if args.from_:
        recipe = read_metadata(args.from_)
        if recipe.get("command") != "dream":
            raise ConfigError(f"{args.from_}: was not made by `inceptionism dream`")
    config = build_dream_config(args, recipe)
    model_name = _recipe_value(args, recipe, "model") or DEFAULT_MODEL
    weights = _recipe_value(args, recipe, "weights")
    if weights == "pretrained":
        weights = None
    layers = args.layer if args.layer is not None else recipe.get("layers")
    guide_path = _recipe_value(args, recipe, "guide")
    class_value = _recipe_value(args, recipe, "class_", "class")
    noise = args.noise if args.noise is not None else (None if args.inputs else recipe.get("noise"))
    inputs = list(args.inputs) or ([] if noise else ([recipe["input"]] if recipe.get("input") else []))
    if noise and args.inputs:
        raise ConfigError("give either input images or --noise, not both")
    if not inputs and not noise:
        raise ConfigError("no input: give an image (e.g. skimage:chelsea), --noise WxH or --from FILE")
    if layers:
        for spec in layers:
            parse_address(spec)  # syntax errors before any work

    # Where each result goes, checked before any work is done.
    out = Path(args.output)
    if len(inputs) > 1 or (out.is_dir() and inputs):
        if out.exists() and not out.is_dir():
            raise OutputError(f"{args.output}: several inputs need an output folder, not a file")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{args.output}: cannot create the output folder: {exc.strerror or exc}") from exc
        targets = [out / (Path(i.replace("skimage:", "")).stem + ".png") for i in inputs]
    else:
        targets = [out]
    for src, target in zip(inputs or [None], targets):
        check_output(target, (src,) if src else ())
    images = [load_image(i) for i in inputs] if inputs else [None]
    noise_size = parse_size(noise) if noise else None
    if recipe and not args.inputs and inputs and recipe.get("input_sha256") not in (None, _file_sha256(inputs[0])):
        log.warning("%s has changed since %s was made; the result will differ", inputs[0], args.from_)

    network = load_network(args, model_name, weights)
    device = next(network.parameters()).device

    objective, chosen = make_objective(network, layers, guide_path, class_value)

    for image, target in zip(images, targets):
        source = image.source if image else None
        start = image.rgb if image else noise_image(*noise_size, seed=config.seed)
        bar = LazyBar(target.name, args.quiet)

        def report(step: Any, bar: LazyBar = bar, name: str = target.name) -> None:
            postfix = {"objective": f"{step.objective.item():.3g}"} if step.step == step.steps else None
            bar.step(step.octaves * step.steps, description=f"{name} octave {step.octave + 1}/{step.octaves}",
                     postfix=postfix)

        try:
            result = dream(network, start, objective, config, callback=report)
        finally:
            bar.close()
        meta = {
            "command": "dream",
            "version": __version__,
            "model": model_name,
            "weights": network.weights,
            "layers": [str(a) for a in chosen] if (layers or guide_path or class_value is None) else [],
            "guide": os.path.abspath(guide_path) if guide_path and not guide_path.startswith("skimage:") else guide_path,
            "class": class_index(class_value, network.categories) if class_value is not None else None,
            "input": (os.path.abspath(source) if source and not source.startswith("skimage:") else source),
            "input_sha256": _file_sha256(source) if source else None,
            "noise": noise,
            # the tile actually used, so that --from reproduces the image on any machine
            "config": {**config.to_dict(), "tile": result.tile},
            "device": str(device),
        }
        save_image(result.image, target, alpha=image.alpha if image else None, metadata=meta, quality=args.quality)
        if not args.quiet:
            print(f"wrote {target}", file=sys.stderr)
    return 0


# -- models, layers, info ----------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from inceptionism.models import get_model_spec, list_models

    rows = []
    for name in list_models():
        spec = get_model_spec(name)
        rows.append((name, spec.weights_status(), ",".join(spec.default_layers), spec.description))
    widths = [max(len(r[i]) for r in rows + [("model", "weights", "default layer", "")]) for i in range(3)]
    print(f"{'model':<{widths[0]}}  {'weights':<{widths[1]}}  {'default layer':<{widths[2]}}  description")
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from inceptionism.models import DEFAULT_MODEL, RANDOM, get_model

    # Shapes do not depend on the weights: untrained ones need no download.
    network = get_model(args.model or DEFAULT_MODEL, weights=args.weights or RANDOM)
    paths = network.layer_paths() if args.all else list(network.spec.layers)
    shapes = network.layer_shapes(paths, size=224)
    width = max(len(p) for p in paths)
    for path in paths:
        aliases = ",".join(network.aliases_of(path)) or "-"
        shape = "x".join(str(s) for s in shapes[path])
        print(f"{path:<{width}}  {aliases:<24}  {shape}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from inceptionism.io.images import read_metadata

    if args.file.endswith(".safetensors"):
        from inceptionism.cli_style import print_model_info

        print_model_info(args.file)
        return 0
    recipe = read_metadata(args.file)
    if args.json:
        print(json.dumps(recipe, indent=2, sort_keys=True))
        return 0
    config = recipe.pop("config", {})
    for key, value in recipe.items():
        print(f"{key}: {value}")
    for key, value in config.items():
        print(f"config.{key}: {value}")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ConfigError("the web UI needs Gradio: pip install 'inceptionism[web]'") from None
    from inceptionism.style.model_file import read_metadata
    from inceptionism.web import WebLimits, serve

    if args.style_model:
        read_metadata(args.style_model)  # a bad model file fails here, in one line
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    limits = WebLimits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels)
    print(f"inceptionism web UI on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    serve(args.host, args.port, style_model=args.style_model, limits=limits)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="DeepDream and neural style transfer, offline out of the box.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    from inceptionism.cli_animate import add_animate_parser, add_sweep_parser, add_video_parser

    _add_dream_parser(sub)
    add_animate_parser(sub)
    add_video_parser(sub)
    add_sweep_parser(sub)
    from inceptionism.cli_style import add_export_parser, add_style_parser, add_stylize_parser, add_train_parser

    add_style_parser(sub)
    add_train_parser(sub)
    add_stylize_parser(sub)
    add_export_parser(sub)
    p = sub.add_parser("models", help="list the models and whether their weights are here")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("layers", help="list a model's layers with aliases and output shapes at 224x224")
    p.add_argument("--model", default=None, help="model name (default efficientnet_lite0)")
    p.add_argument("--weights", default=None, metavar="PATH", help="a checkpoint, for its class count")
    p.add_argument("--all", action="store_true", help="every module, not only the main layers")
    p.set_defaults(func=cmd_layers)
    p = sub.add_parser("web", help="the browser UI (binds to 127.0.0.1 unless told otherwise)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--style-model", default=None, metavar="MODEL", help="a train-style model for instant stylisation")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload in MB (default 20)")
    p.add_argument("--max-pixels", type=int, default=4096 * 4096, help="largest image in pixels (default 4096*4096)")
    p.set_defaults(func=cmd_web)
    p = sub.add_parser("info", help="print how an image was made, or what a style model holds")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(func=cmd_info)
    return parser


@contextlib.contextmanager
def _logging_to_stderr() -> Iterator[None]:
    """Send the library's warnings to stderr as one line each, for this call only.

    The logger's previous state is put back afterwards, so calling ``main()`` from
    Python (tests, notebooks) leaves no handler behind on a stream that may close.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    logger = logging.getLogger("inceptionism")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    with _logging_to_stderr():
        try:
            return func(args)
        except InceptionismError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; finished outputs are kept", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0
        except MemoryError:
            print(f"{PROG}: error: out of memory (try a smaller image)", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
