"""``inceptionism dream``: parsing and printing only; the work is in :mod:`inceptionism.dream`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from inceptionism.cli.batch import Item, finish_items, input_targets, model_file_output, run_batch
from inceptionism.cli.options import (
    add_cluster_options, add_device_options, add_model_options, add_precision_option, add_step_options, add_watch_options,
    build_dream_config, config_from, config_options, mask_pairs,
)
from inceptionism.cli.recipes import checked_recipe, use_recorded_threads
from inceptionism.paths import file_sha256, source_label
from inceptionism.progress import LazyBar, TrainBar
from inceptionism.cli.common import command
from inceptionism.errors import ConfigError, InceptionismError, Interrupted
from inceptionism.parsing import whole_number

log = logging.getLogger("inceptionism")


def add_parsers(sub: Any) -> None:
    _add_dream_parser(sub)
    _add_train_parser(sub)
    _add_topics_parser(sub)


def _add_dream_parser(sub: Any) -> None:
    p = command(
        sub, "dream",
        help="dream on one or more images",
        description="Gradient ascent on an image so that a layer of a CNN sees more of what it already sees.",
        examples=(
            'inceptionism dream skimage:chelsea -o cat-dream.png',
            'inceptionism dream photo.jpg -o out.png --layer blocks.3 --layer blocks.5:17=0.5',
            'inceptionism dream photo.jpg -o out.png --guide flowers.jpg',
            "inceptionism dream --noise 512x384 -o noise.png --class 'Egyptian cat'",
            'inceptionism dream a.jpg b.jpg -o dreams/',
            'inceptionism dream photos/ -o dreams/ --ray            # every image of a folder, on Ray workers',
            'inceptionism dream huge.png -o out.png --devices all   # one huge image over every GPU',
            'inceptionism dream --from out.png -o again.png',
            'inceptionism dream photo.jpg -o food.png --weights mine.safetensors --word food',
        ),
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files or folders of them, or skimage:NAME for a picture that ships with scikit-image "
                        "(e.g. skimage:chelsea)")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="output file (.png, .jpg, .webp); a folder when several inputs are given")
    add_model_options(p)
    add_step_options(p)
    p.add_argument("--noise", default=None, metavar="WxH", help="start from noise of this size instead of an image")
    p.add_argument("--max-side", type=int, default=None, metavar="PX",
                   help="shrink an input whose long side is over PX pixels to PX first (a 12 MP photo dreams in "
                        "minutes; at 1024 px in seconds); default: dream it as it is")
    p.add_argument("--from", dest="from_", default=None, metavar="FILE",
                   help="repeat the recipe stored in an image this tool made (options given here override it)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--resume", action="store_true",
                   help="with several inputs: skip the outputs that are already there and made by this same recipe")
    p.add_argument("--devices", default=None, metavar="LIST|all",
                   help="one huge image over several devices: a copy of the network on each (e.g. cuda:0,cuda:1, or "
                        "all GPUs) shares every step's tiles; the result equals one device's")
    add_cluster_options(p)
    p.set_defaults(func=cmd_dream)


def _recipe_value(args: argparse.Namespace, recipe: dict[str, Any], name: str, key: str | None = None) -> Any:
    given = getattr(args, name)
    return given if given is not None else recipe.get(key or name)


#: what a dream recipe's fields may hold (besides None): the kinds JSON gives them
_RECIPE_KINDS: dict[str, tuple[type, ...]] = {
    "weights": (str,), "model": (str,), "guide": (str,), "input": (str,), "noise": (str,), "word": (str,),
    "class": (str, int), "topic": (str, int), "input_sha256": (str,), "layers": (list,), "config": (dict,),
    "masks": (list,), "max_side": (int,)}


def _masks_valid(key: str, value: Any) -> bool:
    return key != "masks" or all(isinstance(m, list) and len(m) == 2 and type(m[0]) is int and m[0] >= -1
                                 and isinstance(m[1], str) for m in value)


def _checked_recipe(recipe: dict[str, Any], path: str) -> dict[str, Any]:
    """A stored dream recipe whose fields are of the kinds a dream recipe holds, or one clear error."""
    from inceptionism.configs import DreamConfig

    return checked_recipe(recipe, path, "dream", _RECIPE_KINDS, DreamConfig, lists_of_text=("layers",),
                          valid=_masks_valid)


def _dream_job(args: argparse.Namespace, recipe: dict[str, Any]) -> tuple[Any, list[str], str | None]:
    """The job the options (over a ``--from`` recipe) describe, its inputs and its ``--noise``; checked."""
    from inceptionism.devices import resolve_devices
    from inceptionism.jobs import DreamJob, dream_recipe
    from inceptionism.models import DEFAULT_MODEL
    from inceptionism.objectives import parse_address

    config = build_dream_config(args, recipe)
    weights = _recipe_value(args, recipe, "weights")
    if weights == "pretrained":
        weights = None
    # a train-dream model names its own backbone: --model may be left out
    model_name = _recipe_value(args, recipe, "model") or (None if weights else DEFAULT_MODEL)
    layers = args.layer if args.layer is not None else recipe.get("layers")
    guide_path = _recipe_value(args, recipe, "guide")
    topic, word = _recipe_value(args, recipe, "topic"), _recipe_value(args, recipe, "word")
    noise = args.noise if args.noise is not None else (None if args.inputs else recipe.get("noise"))
    inputs = list(args.inputs) or ([] if noise else ([recipe["input"]] if recipe.get("input") else []))
    if noise and args.inputs:
        raise ConfigError("give either input images or --noise, not both")
    if not inputs and not noise:
        raise ConfigError("no input: give an image (e.g. skimage:chelsea), --noise WxH or --from FILE")
    for spec in layers or ():
        parse_address(spec)  # syntax errors before any work
    masks, invert_mask = mask_pairs(args), args.invert_mask
    if args.mask is None and recipe.get("masks"):
        masks, invert_mask = tuple((int(i), str(p)) for i, p in recipe["masks"]), recipe.get("invert_mask") is True
    max_side = args.max_side if args.max_side is not None else recipe.get("max_side", 0)
    if not isinstance(max_side, int) or isinstance(max_side, bool) or max_side < 0 or 0 < max_side < 16:
        raise ConfigError(f"--max-side must be at least 16 pixels, got {max_side!r}")
    devices = tuple(str(d) for d in resolve_devices(args.devices)) if args.devices else ()
    if devices and args.ray:
        raise ConfigError("--devices shares one image among this machine's devices; --ray spreads images over "
                          "workers: choose one")
    job = DreamJob(model=model_name, weights=weights, layers=tuple(layers) if layers else None, guide=guide_path,
                   class_value=_recipe_value(args, recipe, "class_", "class"), topic=topic, word=word, config=config,
                   device=args.device, devices=devices, quality=args.quality, masks=masks, invert_mask=invert_mask,
                   max_side=max_side, recipe=dream_recipe(weights, guide_path, topic, word, noise))
    return job, inputs, noise


def _dream_one(args: argparse.Namespace, runner: Any, src: str, target: Path, noise: str | None) -> int:
    """One picture (or one from noise), with its own progress bar and line."""
    from inceptionism.dream import noise_image
    from inceptionism.io.images import encode_image, output_format, read_image_bytes, write_bytes
    from inceptionism.parsing import parse_size

    bar = LazyBar(target.name, args.quiet)

    def report(step: Any) -> None:
        postfix = {"objective": f"{step.objective.item():.3g}"} if step.step == step.steps else None
        bar.step(step.octaves * step.steps, description=f"{target.name} octave {step.octave + 1}/{step.octaves}",
                 postfix=postfix)

    try:
        if noise:
            result = runner.dream(noise_image(*parse_size(noise), seed=runner.job.config.seed), report)
            data = encode_image(result.image, output_format(target), quality=args.quality,
                                metadata=runner.meta(None, None, result.tile, result.precision))
        else:
            data = runner.run(src, (source_label(src), read_image_bytes(src), output_format(target)), report)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted before {target} was finished: nothing was written") from None
    finally:
        bar.close()
    write_bytes(target, data)
    args.report.output(target, input=src or None, **({"noise": noise} if noise else {}))
    if not args.quiet:
        print(f"wrote {target}", file=sys.stderr)
    return 0


def cmd_dream(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from inceptionism.io.images import check_output, output_format, read_image_bytes, read_metadata
    from inceptionism.parsing import parse_size

    recipe: dict[str, Any] = {}
    if args.from_:
        recipe = _checked_recipe(read_metadata(args.from_), args.from_)
        use_recorded_threads(recipe, args.device)
    job, inputs, noise = _dream_job(args, recipe)
    # Where each result goes, checked before any work is done.
    pairs = [("", Path(args.output))] if noise else input_targets(inputs, args.output)
    for src, target in pairs:
        check_output(target, (src,) if src else ())
    if noise:
        parse_size(noise)
    if recipe and not args.inputs and inputs and recipe.get("input_sha256") not in (None, file_sha256(inputs[0])):
        log.warning("%s has changed since %s was made; the result will differ", inputs[0], args.from_)
    # the network and objective, checked here before any work (on the CPU when workers do the work)
    runner = replace(job, device="cpu").setup() if args.ray else job.setup()
    if noise or (len(pairs) == 1 and not args.ray):
        return _dream_one(args, runner, *pairs[0], noise)

    # several images: one after another here, or spread over Ray workers; a bad one never stops the rest
    def load(src: str, target: Path) -> Any:
        return lambda: (source_label(src), read_image_bytes(src), output_format(target))

    def made_by(src: str) -> dict[str, Any] | None:
        try:
            return runner.meta(source_label(src), read_image_bytes(src))
        except InceptionismError:
            return None

    items = [Item(src, load(src, target), target, lambda src=src: made_by(src)) for src, target in pairs]
    report = run_batch(args, job, items, what=Path(args.output).name or args.output,
                       runner=None if args.ray else runner)
    return finish_items(report, f"dream into {args.output}", args.quiet)


# -- train-dream and topics ---------------------------------------------------
def _add_train_parser(sub: Any) -> None:
    from inceptionism.configs import LABELS, DreamTrainConfig

    p = command(
        sub, "train-dream",
        help="train a dream model on your own photos (class folders, or captions turned into topics)",
        description="Fine-tunes a backbone (default: the embedded EfficientNet-Lite0) on a collection: one "
                    "subfolder per class, or images with captions (sidecar .txt files, or a CSV/JSONL with image "
                    "and caption columns) whose LDA topics become the labels. Then dream with --weights MODEL.",
        examples=(
            'inceptionism train-dream photos/ -o mine.safetensors              # photos/CLASS/*.jpg',
            'inceptionism train-dream posts.csv -o barcelona.safetensors --topics 40',
            'inceptionism dream photo.jpg -o out.png --weights barcelona.safetensors --word food',
            'inceptionism topics barcelona.safetensors',
        ),
    )
    p.add_argument("data", metavar="DATA", help="a folder (class subfolders, or images with .txt captions), "
                                                "or a captions file (.csv, .jsonl)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file (.safetensors)")
    config_options(p, DreamTrainConfig, ("labels", "topics"), labels={"choices": LABELS,
                                                                      "default_text": "auto: captions if there are any"})
    p.add_argument("--model", default=None, help="backbone (default efficientnet_lite0; torchvision ones when cached)")
    p.add_argument("--train-blocks", default=None, metavar="N|all",
                   help="fine-tune the backbone's last N blocks, or all of it (default: the backbone's own, "
                        "from its default dream layer on)")
    config_options(p, DreamTrainConfig, ("epochs", "steps", "batch_size", "lr", "image_size", "val",
                                         "checkpoint_every", "workers", "seed"))
    p.add_argument("--resume", action="store_true", help="continue the run saved in MODEL")
    add_watch_options(p, "its most common classes or topics, each rendered from nothing")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train in N processes (DistributedDataParallel), as `torchrun --nproc-per-node N` does; "
                        "--batch-size is the global batch")
    add_precision_option(p)
    add_device_options(p)
    p.set_defaults(func=cmd_train_dream)


def _train_blocks(text: str | None) -> int | str | None:
    if text is None or text == "all":
        return text
    return whole_number(text, "--train-blocks (a number of blocks, or 'all')")


def build_train_dream_config(args: argparse.Namespace) -> Any:
    """The DreamTrainConfig the arguments describe."""
    from inceptionism.configs import DreamTrainConfig

    return config_from(argparse.Namespace(**{**vars(args), "train_blocks": _train_blocks(args.train_blocks)}),
                       DreamTrainConfig)


def cmd_train_dream(args: argparse.Namespace) -> int:
    from inceptionism.devices import resolve_device
    from inceptionism.dream.train import read_collection, train_dream
    from inceptionism.models import DEFAULT_MODEL, get_model_spec
    from inceptionism.training import distributed

    data, target = Path(args.data), Path(args.output)
    if data.exists() and target.exists() and target.samefile(data):
        raise ConfigError(f"{args.output}: refusing to overwrite the input {args.data}")
    out = model_file_output(args.output, resume=args.resume)
    if args.log_dir:  # before anything loads: a missing TensorBoard is one line at once
        from inceptionism.training.watch import check_tensorboard

        check_tensorboard()
    config = build_train_dream_config(args)
    backbone = args.model or DEFAULT_MODEL
    spec = get_model_spec(backbone)
    dist = distributed.current()
    if args.nproc > 1 and not dist.active:
        read_collection(args.data, config)  # a bad collection is one line here, not one per process
        distributed.share(config.batch_size, distributed.Dist(world_size=args.nproc))
        code = distributed.launch(args.nproc, [a for a in distributed.without_option(args.argv, "--nproc")
                                               if a != "--json"])  # one report: this process's
        args.report.output(out, input=args.data, status="written" if code == 0 else "failed", processes=args.nproc)
        return code
    if spec.weights_status() == "needs download" and dist.main:
        log.warning("%s's ImageNet weights are not in the torch cache: they download now", backbone)
    device = distributed.start(dist, resolve_device(args.device))
    bar = TrainBar(out.name, args.quiet or not dist.main)
    try:
        result = train_dream(args.data, out, config, backbone=backbone, device=device, resume=args.resume,
                             progress=not args.quiet and dist.main, callback=bar.report, dist=dist,
                             preview_every=args.preview_every, log_dir=args.log_dir)
    finally:
        bar.close()
        distributed.stop(dist)
    args.report.output(out, input=args.data, steps=result.step, images=result.images, held_out=result.held_out,
                       metric=result.metric, value=result.value, chance=result.chance, skipped=result.skipped,
                       uncaptioned=result.uncaptioned)
    if not args.quiet and dist.main:
        figure = "" if result.value is None else \
            f"; held-out {result.metric.replace('_', ' ')} {result.value:.2f} (chance {result.chance:.2f})"
        skipped = f"; {result.skipped} unreadable images skipped" if result.skipped else ""
        if result.uncaptioned:
            skipped += f"; {result.uncaptioned} pictures without a caption skipped"
        print(f"wrote {out}: {result.step} steps on {result.images - result.held_out} images, "
              f"{result.held_out} held out{figure}{skipped}", file=sys.stderr)
    return 0


def _add_topics_parser(sub: Any) -> None:
    p = sub.add_parser("topics", help="list the topics of a model trained on captions, with their top words")
    p.add_argument("model", metavar="MODEL", help="a .safetensors from train-dream")
    p.add_argument("--words", type=int, default=10, help="words per topic (default 10)")
    p.set_defaults(func=cmd_topics)


def cmd_topics(args: argparse.Namespace) -> int:
    from inceptionism.models.dream_file import TOPICS, load_dream_model

    _, collection, _ = load_dream_model(args.model)
    if collection.kind != TOPICS:
        raise ConfigError(f"{args.model}: was trained on class folders, not captions: its classes are "
                          + ", ".join(collection.names))
    n = max(1, args.words)
    topics = [torch_topk_words(collection.topic_word[i], collection.vocabulary, n) for i in range(collection.count)]
    args.report.describe(model=args.model, topics=[{"topic": i, "words": words} for i, words in enumerate(topics)])
    if not args.json:
        for i, top in enumerate(topics):
            print(f"topic {i:>3}: {' '.join(top)}")
    return 0


def torch_topk_words(weights: Any, vocabulary: tuple[str, ...], n: int) -> list[str]:
    """The ``n`` words with the largest weights, largest first."""
    order = weights.argsort(descending=True)[:n].tolist()
    return [vocabulary[i] for i in order]
