"""``inceptionism dream``: parsing and printing only; the work is in :mod:`inceptionism.dream`."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from inceptionism import __version__
from inceptionism.cli.common import (
    LazyBar, add_model_options, add_step_options, build_dream_config, dream_objective, file_sha256, load_network,
    output_targets, source_label,
)
from inceptionism.errors import ConfigError

log = logging.getLogger("inceptionism")


def add_parsers(sub: Any) -> None:
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


def _recipe_value(args: argparse.Namespace, recipe: dict[str, Any], name: str, key: str | None = None) -> Any:
    given = getattr(args, name)
    return given if given is not None else recipe.get(key or name)


def cmd_dream(args: argparse.Namespace) -> int:
    from inceptionism.dream import dream, noise_image
    from inceptionism.io.images import check_output, load_image, read_metadata, save_image
    from inceptionism.models import DEFAULT_MODEL
    from inceptionism.objectives import class_index, parse_address
    from inceptionism.parsing import parse_size

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
    targets = output_targets(inputs, args.output)
    for src, target in zip(inputs or [None], targets):
        check_output(target, (src,) if src else ())
    images = [load_image(i) for i in inputs] if inputs else [None]
    noise_size = parse_size(noise) if noise else None
    if recipe and not args.inputs and inputs and recipe.get("input_sha256") not in (None, file_sha256(inputs[0])):
        log.warning("%s has changed since %s was made; the result will differ", inputs[0], args.from_)

    network = load_network(args, model_name, weights)
    device = next(network.parameters()).device

    objective, chosen = dream_objective(network, layers, guide_path, class_value)

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
            "guide": source_label(guide_path),
            "class": class_index(class_value, network.categories) if class_value is not None else None,
            "input": source_label(source),
            "input_sha256": file_sha256(source) if source else None,
            "noise": noise,
            # the tile actually used, so that --from reproduces the image on any machine
            "config": {**config.to_dict(), "tile": result.tile},
            "device": str(device),
        }
        save_image(result.image, target, alpha=image.alpha if image else None, metadata=meta, quality=args.quality)
        if not args.quiet:
            print(f"wrote {target}", file=sys.stderr)
    return 0
