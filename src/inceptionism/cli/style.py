"""``inceptionism style``, ``train-style`` and ``export``: parsing and printing only (``stylize`` is in
:mod:`.stylize`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from inceptionism import __version__
from inceptionism.cli.batch import model_file_output
from inceptionism.cli.common import command, UNSET
from inceptionism.cli.options import (
    RegionAction, StyleChoice, add_device_options, add_precision_option, add_watch_options, config_from, config_options,
    load_network, paired_regions,
)
from inceptionism.cli.recipes import recipe_matches
from inceptionism.progress import LazyBar
from inceptionism.errors import ConfigError, Interrupted
from inceptionism.parsing import parse_numbers


def _layer_list(text: str | None) -> tuple[str, ...] | None:
    """``--content-layers`` and ``--style-layers``: comma-separated layer names (None: not given)."""
    if not text:
        return None
    return tuple(a.strip() for a in text.split(",") if a.strip())


def add_parsers(sub: Any) -> None:
    _add_style_parser(sub)
    _add_train_parser(sub)
    _add_export_parser(sub)


def _add_style_parser(sub: Any) -> None:
    from inceptionism.configs import COLOR_MODES, OPTIMIZERS, StyleConfig

    p = command(
        sub, "style",
        help="neural style transfer by optimisation (Gatys et al.)",
        description="Optimises an image with the content's layout in the style of one or more paintings.",
        examples=(
            'inceptionism style tubingen.jpg --style starry_night.jpg -o out.png',
            'inceptionism style photo.jpg --style a.jpg --style b.jpg --style-weights 0.7,0.3 -o out.png',
            'inceptionism style photo.jpg --style a.jpg --model vgg19 --optimizer lbfgs --size 768 -o out.png',
        ),
    )
    p.add_argument("content", metavar="CONTENT", help="content image (or skimage:NAME)")
    p.add_argument("--style", action=StyleChoice, required=True, metavar="IMAGE", help="style image, repeatable")
    p.add_argument("--region", action=RegionAction, default=None, metavar="MASK",
                   help="after a --style: the part of the picture (white) that style paints; give each --style "
                        "one, and what no region covers stays the content")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (.png, .jpg, .webp)")
    p.add_argument("--style-weights", default=None, metavar="W1,W2,...", help="blend of several styles (default equal)")
    p.add_argument("--model", default=None, help="loss network (default efficientnet_lite0; vgg19 and vgg16 are the classics)")
    p.add_argument("--weights", default=None, metavar="PATH", help="checkpoint for the loss network")
    p.add_argument("--content-layers", default=None, metavar="L1,L2", help="default: the loss network's own")
    p.add_argument("--style-layers", default=None, metavar="L1,L2,...", help="default: the loss network's own")
    config_options(p, StyleConfig, ("size", "steps", "scales", "content_weight", "style_weight", "tv_weight",
                                    "optimizer", "lr", "init", "style_scale", "preserve_colors", "seed"),
                   optimizer={"choices": OPTIMIZERS}, init={"choices": ("content", "noise")},
                   scales={"help": "number of scales, each twice the previous, ending at --size",
                           "default_text": "0: automatic, smallest >= 128 px"},
                   preserve_colors={"nargs": "?", "const": "luminance", "default": UNSET, "choices": COLOR_MODES,
                                    "help": "keep the content's colours: luminance-only transfer (the default when "
                                            "given alone), or match the style's colours to the content first",
                                    "default_text": "off"})
    p.add_argument("--save-every", type=int, default=0, metavar="N", help="also write the image every N steps")
    p.add_argument("--resume", action="store_true",
                   help="finish a run that was stopped (Ctrl-C or SIGTERM write the image so far to OUT)")
    add_precision_option(p)
    add_device_options(p)
    p.set_defaults(func=cmd_style)


def build_style_config(args: argparse.Namespace) -> Any:
    from inceptionism.configs import StyleConfig

    layers = {name: _layer_list(getattr(args, name)) for name in ("content_layers", "style_layers")}
    return config_from(args, StyleConfig, {k: v for k, v in layers.items() if v is not None})


def cmd_style(args: argparse.Namespace) -> int:
    import dataclasses

    from inceptionism.io.images import check_output, load_image, mask_tensor, read_metadata, save_image
    from inceptionism.precision import resolve_precision
    from inceptionism.style import stylize_optimize
    from inceptionism.ops import fit_mask

    out = check_output(args.output, (args.content, *args.style))
    config = build_style_config(args)
    weights = parse_numbers(args.style_weights, float, "--style-weights") if args.style_weights else None
    if weights is not None and len(weights) != len(args.style):
        raise ConfigError(f"--style-weights has {len(weights)} values for {len(args.style)} styles")
    if args.save_every < 0:
        raise ConfigError("--save-every must be 0 or more")
    content = load_image(args.content)
    styles = [load_image(s).rgb for s in args.style]
    region_paths = paired_regions(args, "style", len(args.style)) if args.region else []
    if region_paths and weights is not None:
        raise ConfigError("--style-weights blends styles everywhere; with --region each style has its own place")
    regions = [mask_tensor(load_image(r)) for r in region_paths]
    for path, mask in zip(region_paths, regions):
        fit_mask(mask, tuple(content.rgb.shape[-2:]), path, kind="region")
    network = load_network(args)
    # the recipe records what "auto" meant here, so that --resume and a repeat compute alike
    device = next(network.parameters()).device
    config = dataclasses.replace(config, precision=resolve_precision(config.precision, device, network.spec))
    meta = {"command": "style", "version": __version__, "model": network.name, "weights": network.weights,
            "content": args.content, "styles": list(args.style), "style_weights": weights,
            "config": config.to_dict(), **({"regions": region_paths} if region_paths else {})}
    resume = None
    if args.resume:
        if not out.is_file():
            raise ConfigError(f"{out}: nothing to resume (no such image)")
        stored = read_metadata(out)
        state = stored.get("interrupted")
        if not isinstance(state, dict):
            raise ConfigError(f"{out} is finished: nothing to resume")
        if not recipe_matches(out, meta, ignore=("version", "device", "interrupted")):
            raise ConfigError(f"cannot resume {out}: it was made with other images or settings")
        resume = (int(state["scale"]), int(state["step"]), load_image(out).rgb)
    bar = LazyBar(out.name, args.quiet)
    at: dict[str, Any] = {}

    def report(step: Any) -> None:
        at.update(scale=step.scale, scales=step.scales, step=step.step, steps=step.steps, image=step.image)
        done = step.scale * step.steps + step.step
        bar.step(step.scales * step.steps, done=done, description=f"{out.name} scale {step.scale + 1}/{step.scales}",
                 postfix={"loss": f"{step.loss.item():.3g}"} if step.step == step.steps else None)
        if args.save_every and done % args.save_every == 0:
            partial = out.with_name(f"{out.stem}_{done:05d}{out.suffix}")
            save_image(step.image, partial, metadata={**meta, "step": done})

    try:
        result = stylize_optimize(network, content.rgb, styles, config, style_weights=weights, callback=report,
                                  resume=resume, regions=regions or None)
    except KeyboardInterrupt:
        if not at:
            raise Interrupted("interrupted before the first step finished: nothing was written") from None
        save_image(at["image"].detach().clone(), out, metadata={
            **meta, "interrupted": {"scale": at["scale"], "step": at["step"]}})
        raise Interrupted(f"interrupted at scale {at['scale'] + 1}/{at['scales']}, step {at['step']}/{at['steps']}: "
                          f"the image so far is in {out}; add --resume to finish it") from None
    finally:
        bar.close()
    save_image(result.image, out, metadata=meta)
    args.report.output(out, input=args.content, final_loss=result.losses[-1] if result.losses else None)
    if not args.quiet:
        print(f"wrote {out}", file=sys.stderr)
    return 0


# -- train-style ---------------------------------------------------------------
def _add_train_parser(sub: Any) -> None:
    from inceptionism.configs import INITS, SCHEDULES, TrainConfig

    p = command(
        sub, "train-style",
        help="train a feed-forward network on one or many styles at once",
        description="Trains one feed-forward network on N styles (Dumoulin et al.'s conditional instance norm): by "
                    "default fine-tuned from Magenta's arbitrary-stylisation network (--init magenta), or Johnson "
                    "et al.'s network from random weights (--init scratch). Checkpoints as it goes; --resume "
                    "continues the step count and optimiser.",
        examples=(
            'inceptionism train-style --style starry.jpg --style wave.jpg --data photos/ -o two.safetensors',
        ),
    )
    p.add_argument("--style", action="append", required=True, metavar="IMAGE", help="style image, repeatable")
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training images (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file (.safetensors)")
    config_options(p, TrainConfig, ("image_size", "batch_size", "steps", "lr", "content_weight", "style_weight",
                                    "tv_weight", "checkpoint_every", "seed", "workers", "width", "schedule",
                                    "style_scale", "clip_grad"),
                   schedule={"choices": SCHEDULES},
                   style_scale={"help": "long side of the style images relative to --image-size, aspect kept",
                                "default_text": "off: squeezed to a square"},
                   clip_grad={"metavar": "NORM", "help": "scale the gradients down to this norm when above it; "
                                                         "0: never"})
    p.add_argument("--content-layers", default=None, metavar="L1,L2",
                   help="layers of the loss network for the content (default: the loss network's own)")
    p.add_argument("--style-layers", default=None, metavar="L1,L2,...",
                   help="layers of the loss network for the style (default: the loss network's own; "
                        "`inceptionism layers --model MODEL` lists them)")
    config_options(p, TrainConfig, ("init", "skip"), init={"choices": INITS},
                   skip={"action": argparse.BooleanOptionalAction, "default_text": "no"})
    p.add_argument("--resume", action="store_true", help="continue the run saved in MODEL")
    add_watch_options(p, "every training photo's crop beside its stylisation in each style")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train in N processes (DistributedDataParallel; gloo on the CPU, NCCL on GPUs), "
                        "as `torchrun --nproc-per-node N` does; --batch-size is the global batch")
    p.add_argument("--model", default=None, help="loss network (default efficientnet_lite0)")
    p.add_argument("--weights", default=None, metavar="PATH", help="checkpoint for the loss network")
    add_precision_option(p)
    add_device_options(p)
    p.set_defaults(func=cmd_train)


def build_train_config(args: argparse.Namespace) -> Any:
    """The TrainConfig the arguments describe (``--clip-grad 0``: never clip)."""
    from inceptionism.configs import TrainConfig

    layers = {name: _layer_list(getattr(args, name)) for name in ("content_layers", "style_layers")}
    values: dict[str, Any] = {k: v for k, v in layers.items() if v is not None}
    given = {k: v for k, v in vars(args).items() if k not in layers}
    if given.get("clip_grad") == 0:
        values["clip_grad"], given["clip_grad"] = None, None
    return config_from(argparse.Namespace(**given), TrainConfig, values)


def cmd_train(args: argparse.Namespace) -> int:
    from inceptionism.devices import resolve_device
    from inceptionism.io.images import load_image
    from inceptionism.style.model_file import describe_style
    from inceptionism.style.train import train
    from inceptionism.training import distributed, find_images

    dist = distributed.current()
    out = model_file_output(args.output, resume=args.resume)
    if args.log_dir:  # before anything loads: a missing TensorBoard is one line at once
        from inceptionism.training.watch import check_tensorboard

        check_tensorboard()
    config = build_train_config(args)
    images = [load_image(s) for s in args.style]
    infos = [describe_style(s, im.rgb) for s, im in zip(args.style, images)]
    if args.nproc > 1 and not dist.active:
        find_images(args.data)  # a bad folder is one line here, not one per process
        distributed.share(config.batch_size, distributed.Dist(world_size=args.nproc))
        code = distributed.launch(args.nproc, [a for a in distributed.without_option(args.argv, "--nproc")
                                               if a != "--json"])  # one report: this process's
        args.report.output(out, input=args.data, status="written" if code == 0 else "failed", processes=args.nproc)
        return code
    device = distributed.start(dist, resolve_device(args.device))
    network = load_network(args, device=device)
    bar = LazyBar(out.name, args.quiet or not dist.main)

    def report(step: Any) -> None:
        bar.step(config.steps, done=step.step, postfix={"loss": f"{step.loss:.3g}"} if step.step % 10 == 0 else None)

    try:
        train(network, [im.rgb for im in images], infos, args.data, out, config, resume=args.resume, callback=report,
              dist=dist, preview_every=args.preview_every, log_dir=args.log_dir)
    finally:
        bar.close()
        distributed.stop(dist)
    args.report.output(out, input=args.data, styles=list(args.style))
    if not args.quiet and dist.main:
        print(f"wrote {out}", file=sys.stderr)
    return 0


# -- export --------------------------------------------------------------------
def _add_export_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export a style model to ONNX (checked with onnxruntime) or to a "
                       "half-precision .safetensors (half the size; what ships)")
    p.add_argument("model", metavar="MODEL", help="a .safetensors from train-style")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx|OUT.safetensors")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from inceptionism.style.export import export_half, export_onnx

    if args.output.endswith(".safetensors"):
        check = export_half(args.model, args.output)
        args.report.output(args.output, input=args.model, max_abs_error=check.max_abs_error,
                           checked_sizes=[[w, h] for h, w in check.sizes])
        sizes = ", ".join(f"{w}x{h}" for h, w in check.sizes)
        print(f"wrote {args.output} in half precision ({os.path.getsize(args.output) / 2**20:.1f} MB); "
              f"its pixels are within {check.max_abs_error:.1e} of the float32 model's at {sizes}")
        return 0
    if not args.output.endswith(".onnx"):
        raise ConfigError(f"{args.output}: the output must end in .onnx or .safetensors")
    check = export_onnx(args.model, args.output)
    args.report.output(args.output, input=args.model, max_abs_error=check.max_abs_error,
                       checked_sizes=[[w, h] for h, w in check.sizes])
    sizes = ", ".join(f"{w}x{h}" for h, w in check.sizes)
    print(f"wrote {args.output}; onnxruntime matches PyTorch within {check.max_abs_error:.1e} at {sizes}")
    return 0
