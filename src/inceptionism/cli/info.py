"""``inceptionism models``, ``layers`` and ``info``: what is here and how things were made."""

from __future__ import annotations

import argparse
from typing import Any


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("models", help="list the models and whether their weights are here")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("layers", help="list a model's layers with aliases and output shapes at 224x224")
    p.add_argument("--model", default=None, help="model name (default efficientnet_lite0)")
    p.add_argument("--weights", default=None, metavar="PATH", help="a checkpoint, for its class count")
    p.add_argument("--all", action="store_true", help="every module, not only the main layers")
    p.set_defaults(func=cmd_layers)
    p = sub.add_parser("info", help="print how an image was made, or what a model file holds")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--curves", action="store_true",
                   help="for a trained model: draw the loss and held-out curves from its training log "
                        "(MODEL's .log.csv) into a PNG (needs inceptionism[plot])")
    p.add_argument("-o", "--output", default=None, metavar="PNG",
                   help="with --curves: where the curves go (default MODEL-NAME.curves.png beside the model)")
    p.set_defaults(func=cmd_info)


def cmd_models(args: argparse.Namespace) -> int:
    from inceptionism.models import get_model_spec, list_models

    rows = []
    for name in list_models():
        spec = get_model_spec(name)
        rows.append((name, spec.weights_status(), ",".join(spec.default_layers), spec.description))
    args.report.describe(models=[{"name": r[0], "weights": r[1], "default_layers": r[2].split(","),
                                  "description": r[3]} for r in rows])
    if args.json:
        return 0
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
    args.report.describe(model=network.name, size=224, layers=[
        {"layer": path, "aliases": list(network.aliases_of(path)), "shape": list(shapes[path])} for path in paths])
    if args.json:
        return 0
    width = max(len(p) for p in paths)
    for path in paths:
        aliases = ",".join(network.aliases_of(path)) or "-"
        shape = "x".join(str(s) for s in shapes[path])
        print(f"{path:<{width}}  {aliases:<24}  {shape}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from inceptionism.io.images import read_metadata

    if args.curves or args.output:
        return _curves(args)
    if args.file.endswith(".safetensors"):
        from inceptionism.models.dream_file import describe, is_dream_model, read_dream_metadata
        from inceptionism.style.model_file import read_metadata as read_style_metadata

        if is_dream_model(args.file):
            args.report.describe(file=args.file, kind="dream model", model=read_dream_metadata(args.file))
            if not args.json:
                print("\n".join(describe(args.file)))
                _print_log(args.file)
        else:
            meta = read_style_metadata(args.file)
            args.report.describe(file=args.file, kind="style model", model={
                **meta, "styles": [{k: v for k, v in s.items() if k != "thumbnail"} for s in meta["styles"]]})
            if not args.json:
                _print_style_model(args.file)
                _print_log(args.file)
        return 0
    from inceptionism.io.video import TAGGED_MOVIE_SUFFIXES, read_movie_metadata

    movie = args.file.lower().endswith(TAGGED_MOVIE_SUFFIXES)
    recipe = read_movie_metadata(args.file) if movie else read_metadata(args.file)
    args.report.describe(file=args.file, kind="movie" if movie else "image", recipe=recipe)
    if args.json:
        return 0
    command = recipe_command(recipe)
    if command:
        print(f"command: {command}")
    config = recipe.pop("config", {})
    for key, value in recipe.items():
        print(f"{key}: {value}")
    for key, value in config.items():
        print(f"config.{key}: {value}")
    return 0


def _curves(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from inceptionism.errors import ConfigError
    from inceptionism.io.images import atomic_write
    from inceptionism.training.curves import draw_curves
    from inceptionism.training.watch import log_path, read_log

    if not args.curves:
        raise ConfigError("-o is where --curves go: add --curves")
    if not args.file.endswith(".safetensors"):
        raise ConfigError(f"{args.file}: --curves draws a trained model's log: give the model (.safetensors)")
    out = Path(args.output) if args.output else Path(args.file).with_name(
        Path(args.file).name.removesuffix(".safetensors") + ".curves.png")
    if out.suffix.lower() != ".png":
        raise ConfigError(f"{out}: the curves are a PNG: name the output .png")
    source = log_path(args.file)
    for given in (Path(args.file), source):
        if given.exists() and out.exists() and out.samefile(given):
            raise ConfigError(f"{out}: refusing to overwrite the input {given}")
    rows = read_log(source)
    image = draw_curves(rows, f"{Path(args.file).name}: {len(rows)} steps logged")
    atomic_write(out, lambda tmp: image.save(tmp, format="PNG"))
    args.report.output(os.fspath(out), input=os.fspath(source), steps=len(rows))
    if not getattr(args, "quiet", False):
        import sys

        print(f"wrote {out}", file=sys.stderr)
    return 0


def _print_log(path: str) -> None:
    """What the model's training log says, in a line (nothing when it has none)."""
    from inceptionism.errors import ConfigError
    from inceptionism.training.watch import log_path, previews_folder, read_log

    try:
        rows = read_log(log_path(path))
    except ConfigError:
        return
    if not rows:
        return
    last = rows[-1]
    held = {k: v for r in rows for k, v in r.items() if k.startswith("val_")}  # the latest of each
    figures = ", ".join(f"{k.removeprefix('val_').replace('_', ' ')} {v:.3g}" for k, v in held.items())
    previews = sorted(previews_folder(path).glob("step_*.png"))
    print(f"log: {log_path(path)}: {len(rows)} steps, last loss {last.get('loss', float('nan')):.3g}, "
          f"{last.get('seconds', 0):.0f} s of training" + (f"; held out: {figures}" if figures else "")
          + (f"; {len(previews)} previews in {previews_folder(path)}" if previews else "")
          + " (info MODEL --curves draws them)")


def _print_style_model(path: str) -> None:
    from inceptionism.style.model_file import read_metadata

    meta = read_metadata(path)
    arch, training = meta["architecture"], meta["training"]
    print(f"style model: {path} (inceptionism {meta['version']})")
    if arch.get("kind") == "magenta":
        print(f"architecture: {arch['styles']} styles, Magenta's arbitrary-stylisation transformer fine-tuned "
              "(train-style --init magenta)")
    else:
        print(f"architecture: {arch['styles']} styles, width {arch['width']}, {arch['residual_blocks']} residual blocks")
    for i, s in enumerate(meta["styles"]):
        print(f"style {i}: {s['name']}  sha256 {s['sha256'][:16]}...  thumbnail {len(s['thumbnail'])} bytes (base64 PNG)")
    print(f"trained: {training.get('step')} of {training.get('steps')} steps, loss network {training.get('loss_model')}")
    for key in ("image_size", "batch_size", "lr", "content_weight", "style_weight", "tv_weight", "data"):
        if key in training:
            print(f"training.{key}: {training[key]}")


def recipe_command(recipe: dict[str, Any], output: str = "OUT.png") -> str | None:
    """The ``inceptionism dream`` command that makes this picture again, from its recipe (None for others).

    Settings the machine chose (tile, precision) and defaults are left out; a mask is named by its file name."""
    import shlex
    from pathlib import Path

    from inceptionism.configs import DreamConfig
    from inceptionism.models import DEFAULT_MODEL

    if recipe.get("command") != "dream":
        return None
    args = ["inceptionism", "dream"]
    args += ["--noise", str(recipe["noise"])] if recipe.get("noise") else [str(recipe.get("input") or "INPUT")]
    args += ["-o", output]
    weights, model = recipe.get("weights"), recipe.get("model")
    if weights and weights != "pretrained":
        args += ["--weights", Path(str(weights)).name]
    elif model and model != DEFAULT_MODEL:
        args += ["--model", str(model)]
    cls = recipe.get("class")
    if cls is not None:
        args += ["--class", _class_name(cls) if not weights or weights == "pretrained" else str(cls)]
    for key in ("topic", "word", "guide"):
        if recipe.get(key) is not None:
            args += [f"--{key}", str(recipe[key])]
    masks = {int(i): Path(str(p)).name for i, p in recipe.get("masks") or []}
    if -1 in masks:
        args += ["--mask", masks[-1]]
    for i, layer in enumerate(recipe.get("layers") or []):
        args += ["--layer", str(layer)] + (["--mask", masks[i]] if i in masks else [])
    if masks and recipe.get("invert_mask"):
        args += ["--invert-mask"]
    defaults, config = DreamConfig().to_dict(), recipe.get("config") or {}
    for key, value in config.items():
        if key in ("tile", "precision") or key not in defaults or value == defaults[key]:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args += [flag] if value else []
        else:
            args += [flag, str(value)]
    if recipe.get("max_side"):
        args += ["--max-side", str(recipe["max_side"])]
    return shlex.join(args)


def _class_name(value: Any) -> str:
    """An ImageNet class by its name (the recipe stores its index)."""
    from pathlib import Path

    import inceptionism.models as models

    if isinstance(value, int) and not isinstance(value, bool):
        names = (Path(models.__file__).with_name("imagenet_classes.txt")).read_text(encoding="utf-8").splitlines()
        if 0 <= value < len(names):
            return names[value]
    return str(value)
