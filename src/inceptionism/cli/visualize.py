"""``inceptionism visualize``: parsing and printing only; the work is in :mod:`inceptionism.visualize`."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any

from inceptionism.cli.batch import Item, finish_items, run_batch
from inceptionism.cli.options import (
    add_cluster_options, add_device_options, add_network_options, add_precision_option, add_target_options, config_from,
    config_options,
)
from inceptionism.cli.recipes import checked_recipe, use_recorded_threads
from inceptionism.progress import LazyBar
from inceptionism.cli.common import command
from inceptionism.errors import ConfigError, Interrupted

log = logging.getLogger("inceptionism")

def add_parsers(sub: Any) -> None:
    from inceptionism.configs import VISUALIZE_PARAMS, VISUALIZE_TRANSFORMS, VisualizeConfig

    d = VisualizeConfig()
    p = command(
        sub, "visualize",
        help="render what a network sees in a class, topic, word, channel or neuron, from nothing",
        description="Feature visualisation (Olah et al. 2017, as in Lucid): a picture optimised from nothing so "
                    "that the objective is as high as it can be, in a 1/f-scaled Fourier space with decorrelated "
                    "colour and random transformations at every step. --atlas renders one picture per class, "
                    "topic or channel on a labelled sheet.",
        examples=(
            'inceptionism visualize --class flamingo -o flamingo.png',
            "inceptionism visualize --class 'tennis ball' --batch 4 --diversity 100 -o balls.png",
            'inceptionism visualize --layer blocks.4:17 -o channel17.png',
            'inceptionism visualize --neuron blocks.5:40 -o neuron.png',
            'inceptionism visualize --weights mine.safetensors --word food -o food.png',
            'inceptionism visualize --atlas classes --classes 1,130,417,954 -o imagenet.png',
            'inceptionism visualize --weights mine.safetensors --atlas topics -o topics.png',
            'inceptionism visualize --atlas blocks.4 --channels 0-15 -o blocks4.png --resume',
            'inceptionism visualize --from flamingo.png -o again.png --seed 1',
        ),
    )
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="the picture (.png, .jpg, .webp); with --atlas the sheet, its tiles beside it in OUTPUT.tiles/")
    g = p.add_argument_group("what to render (one or more, summed; default with none: the model's own layers)")
    add_network_options(g)
    add_target_options(g, layer_help="; a negative weight shows the opposite")
    g.add_argument("--neuron", action="append", default=None, metavar="LAYER:CHANNEL[=W]",
                   help="one channel at the centre position only (one object in the middle), repeatable")
    a = p.add_argument_group("atlas: many pictures on one labelled sheet")
    a.add_argument("--atlas", default=None, metavar="classes|topics|LAYER",
                   help="one picture per class (a train-dream model's, or --classes of an ImageNet model), per "
                        "topic of a captions model, or per channel of LAYER")
    a.add_argument("--classes", default=None, metavar="LIST",
                   help="with --atlas classes on an ImageNet model: numbers or names, comma-separated "
                        "(default: 12 classes a person knows at a glance)")
    a.add_argument("--channels", default=None, metavar="RANGES",
                   help="with --atlas LAYER: channels, e.g. 0-63 or 3,7,12 (default 0-15)")
    a.add_argument("--columns", type=int, default=None, metavar="N", help="tiles per row (default: a square)")
    a.add_argument("--resume", action="store_true",
                   help="keep the tiles already in OUTPUT.tiles/ that this same recipe made; render the rest")
    o = p.add_argument_group("how")
    o.add_argument("--size", default=None, metavar="N|WxH", help=f"picture size (default {d.width})")
    config_options(o, VisualizeConfig, ("steps", "lr", "param", "decorrelate", "transforms", "batch", "diversity",
                                        "seed"),
                   param={"choices": VISUALIZE_PARAMS}, transforms={"choices": VISUALIZE_TRANSFORMS},
                   decorrelate={"flags": ("--no-decorrelate",), "action": "store_const", "const": False,
                                "default_text": "decorrelated",
                                "help": "optimise RGB directly instead of ImageNet's decorrelated colour"},
                   batch={"metavar": "N", "help": "pictures at once, side by side in the output"},
                   diversity={"metavar": "W"})
    add_precision_option(o)
    o.add_argument("--from", dest="from_", default=None, metavar="FILE",
                   help="repeat the recipe stored in a picture this command made (options given here override it)")
    add_device_options(p)
    add_cluster_options(p)
    p.set_defaults(func=cmd_visualize)


def _size(text: str) -> tuple[int, int]:
    from inceptionism.parsing import parse_size

    if re.fullmatch(r"\s*\d+\s*", text):
        side = int(text)
        if side < 1:
            raise ConfigError(f"--size takes N or WIDTHxHEIGHT, got {text!r}")
        return side, side
    return parse_size(text, "--size")


#: what a visualize recipe's fields may hold (besides None)
_RECIPE_KINDS: dict[str, tuple[type, ...]] = {
    "weights": (str,), "model": (str,), "word": (str,), "class": (str, int), "topic": (str, int),
    "layers": (list,), "neurons": (list,), "config": (dict,)}


def _checked_recipe(recipe: dict[str, Any], path: str) -> dict[str, Any]:
    from inceptionism.configs import VisualizeConfig

    return checked_recipe(recipe, path, "visualize", _RECIPE_KINDS, VisualizeConfig,
                          lists_of_text=("layers", "neurons"))


def build_config(args: argparse.Namespace, recipe: dict[str, Any] | None = None) -> Any:
    """The VisualizeConfig that the arguments (over an optional stored recipe) describe."""
    from inceptionism.configs import VisualizeConfig, stored_values

    values = stored_values(VisualizeConfig, (recipe or {}).get("config", {}), "the recipe")
    if args.size is not None:
        values["width"], values["height"] = _size(args.size)
    return config_from(args, VisualizeConfig, values)


def _pick(args: argparse.Namespace, recipe: dict[str, Any], name: str, key: str) -> Any:
    given = getattr(args, name)
    return given if given is not None else recipe.get(key)


def _tiles_folder(output: Path) -> Path:
    return output.with_name(output.stem + ".tiles")


def cmd_visualize(args: argparse.Namespace) -> int:
    from inceptionism.io.images import check_output, output_format, read_metadata, write_bytes
    from inceptionism.jobs import Target, VisualizeJob, visualize_recipe
    from inceptionism.models import DEFAULT_MODEL
    from inceptionism.objectives import parse_address

    recipe: dict[str, Any] = {}
    if args.from_:
        recipe = _checked_recipe(read_metadata(args.from_), args.from_)
        use_recorded_threads(recipe, args.device)
    config = build_config(args, recipe)
    weights = _pick(args, recipe, "weights", "weights")
    if weights == "pretrained":
        weights = None
    model = _pick(args, recipe, "model", "model") or (None if weights else DEFAULT_MODEL)
    target = Target(layers=tuple(args.layer if args.layer is not None else recipe.get("layers") or ()),
                    neurons=tuple(args.neuron if args.neuron is not None else recipe.get("neurons") or ()),
                    class_value=_pick(args, recipe, "class_", "class"), topic=_pick(args, recipe, "topic", "topic"),
                    word=_pick(args, recipe, "word", "word"))
    for spec in target.layers + target.neurons:
        parse_address(spec)  # syntax errors before any work
    chosen = bool(target.layers or target.neurons) or any(
        v is not None for v in (target.class_value, target.topic, target.word))
    if args.atlas and chosen:
        raise ConfigError("--atlas chooses what each tile shows: leave out --layer, --neuron, --class, --topic "
                          "and --word")
    if not args.atlas:
        for name in ("classes", "channels", "columns"):
            if getattr(args, name) is not None:
                raise ConfigError(f"--{name} goes with --atlas")
        if args.resume:
            raise ConfigError("--resume goes with --atlas (one picture has no tiles to keep)")
        if args.ray:
            raise ConfigError("--ray spreads an atlas's tiles over workers: give --atlas")
    if args.columns is not None and args.columns < 1:
        raise ConfigError(f"--columns must be 1 or more, got {args.columns}")
    output = check_output(args.output)
    fmt = output_format(output)
    if args.atlas and args.output == "-":
        raise ConfigError("an atlas keeps its tiles beside the sheet: give a file name, not -o -")

    job = VisualizeJob(model=model, weights=weights, config=config, device=args.device,
                       recipe=visualize_recipe(weights))
    from dataclasses import replace

    runner = replace(job, device="cpu").setup() if args.ray else job.setup()
    if args.atlas:
        return _atlas(args, job, runner, output, fmt)

    runner.objective(target)  # unknown classes, words, channels: one line before any work
    bar = LazyBar(output.name, args.quiet)

    def report(step: Any) -> None:
        postfix = {"objective": f"{step.objective.item():.3g}"} if step.step == step.steps else None
        bar.step(step.steps, description=output.name, postfix=postfix)

    try:
        data = runner.run("", (target, fmt), report)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted before {output} was finished: nothing was written") from None
    finally:
        bar.close()
    write_bytes(output, data)
    args.report.output(output)
    if not args.quiet:
        print(f"wrote {output}", file=sys.stderr)
    return 0


def atlas_targets(network: Any, atlas: str, *, classes: str | None = None, channels: str | None = None) -> list[Any]:
    """The tiles of ``--atlas classes|topics|LAYER`` for ``network``, each a labelled Target."""
    from inceptionism.jobs import Target
    from inceptionism.models.dream_file import TOPICS
    from inceptionism.objectives import class_index
    from inceptionism.visualize.atlas import IMAGENET_DEFAULT, parse_channels

    collection = getattr(network, "collection", None)
    if atlas == "classes":
        if channels is not None:
            raise ConfigError("--channels goes with --atlas LAYER")
        if collection is not None and collection.kind == TOPICS:
            raise ConfigError("this model was trained on captions: its atlas is --atlas topics")
        names = network.categories
        if classes is not None:
            picked = [class_index(c.strip(), names) for c in classes.split(",") if c.strip()]
        elif collection is not None or (names is not None and len(names) <= 64):
            picked = list(range(len(names) if names is not None else 0))
        elif names is not None and len(names) == 1000:
            picked = list(IMAGENET_DEFAULT)
        else:
            raise ConfigError(f"{network.name} has many classes: choose some with --classes 1,130,417")
        if not picked:
            raise ConfigError("--classes names no class")
        n = len(names) if names is not None else 0
        for index in picked:
            if not 0 <= index < n:
                raise ConfigError(f"class {index} is out of range: {network.name} has {n} classes (0 to {n - 1})")
        return [Target(class_value=str(i), label=names[i] if names else str(i)) for i in dict.fromkeys(picked)]
    if classes is not None:
        raise ConfigError("--classes goes with --atlas classes")
    if atlas == "topics":
        if channels is not None:
            raise ConfigError("--channels goes with --atlas LAYER")
        if collection is None or collection.kind != TOPICS:
            raise ConfigError("--atlas topics needs a model trained on captions (`inceptionism train-dream`, "
                              "then --weights MODEL.safetensors)")
        return [Target(topic=str(i), label=f"{i}: " + " ".join(collection.top_words[i][:3]))
                for i in range(collection.count)]
    from inceptionism.objectives import parse_address

    address = parse_address(atlas)
    if address.channel is not None or address.weight != 1.0:
        raise ConfigError(f"--atlas takes a layer without a channel or weight (its channels are --channels), "
                          f"got {atlas!r}")
    shape = network.layer_shapes([address.layer], size=max(64, network.min_size))[address.layer]
    if len(shape) != 3:
        raise ConfigError(f"--atlas {atlas}: a channel atlas needs a convolutional layer; it has output shape {shape}")
    picked_channels = parse_channels(channels or f"0-{min(shape[0], 16) - 1}", shape[0])
    return [Target(layers=(f"{address.layer}:{c}",), label=f"{address.layer}:{c}") for c in picked_channels]


def _atlas(args: argparse.Namespace, job: Any, runner: Any, output: Path, fmt: str) -> int:
    from PIL import Image

    from inceptionism.io.images import encode_image, write_bytes
    from inceptionism.io.sheets import contact_sheet, sheet_tensor
    from inceptionism.visualize.atlas import tile_name

    targets = atlas_targets(runner.network, args.atlas, classes=args.classes, channels=args.channels)
    for target in targets:
        runner.objective(target)  # every tile's objective checked before any work
    folder = _tiles_folder(output)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is in the way: the atlas keeps its tiles in that folder")
    existing = sorted(folder.glob("*.png")) if folder.is_dir() else []
    names = {str(i): tile_name(i, t.label) for i, t in enumerate(targets)}
    if existing and not args.resume:
        raise ConfigError(f"{folder} holds tiles of an earlier atlas: add --resume to keep the ones this recipe "
                          f"made, or remove the folder")
    folder.mkdir(exist_ok=True)
    def load(target: Any) -> Any:
        return lambda: (target, "PNG")

    items = [Item(str(i), load(t), folder / names[str(i)], lambda t=t: runner.meta(t)) for i, t in enumerate(targets)]
    report = run_batch(args, job, items, what=output.name, unit="tile", runner=None if args.ray else runner,
                       record=False)
    skipped = report.skipped
    if report.failed:
        return finish_items(report, f"atlas {output}", args.quiet)
    tiles, labels = [], []
    for i, target in enumerate(targets):
        with Image.open(folder / names[str(i)]) as im:
            tiles.append(im.convert("RGB"))
        labels.append(target.label)
    title = f"{runner.network.name}" + (f" ({Path(job.weights).name})" if job.weights else "") + \
        f": {args.atlas}, {job.config.steps} steps, seed {job.config.seed}"
    image = sheet_tensor(contact_sheet(tiles, labels, columns=args.columns, title=title))
    meta = {**dict(job.recipe), "atlas": args.atlas, "classes": args.classes, "channels": args.channels,
            "model": runner.network.name, "tiles": [t.label for t in targets], "config": job.config.to_dict()}
    data = encode_image(image, fmt, metadata=meta)
    write_bytes(output, data)
    args.report.output(output, tiles=len(targets), skipped=skipped)
    if not args.quiet:
        print(f"wrote {output} ({len(targets)} tiles, in {folder}" +
              (f"; {skipped} kept from before" if skipped else "") + ")", file=sys.stderr)
    return 0
