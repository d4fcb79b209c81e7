"""``inceptionism style``, ``train-style``, ``stylize`` and ``export``: parsing and printing only."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from inceptionism import __version__
from inceptionism.cli.common import (
    UNSET, LazyBar, add_cluster_options, add_device_options, add_precision_option, add_watch_options, assemble_movie, file_sha256,
    finish_items, frame_bar, input_targets, kept_on_stop, load_network, model_file_output, paired_regions, recipe_matches, run_items, RegionAction, StyleChoice,
)
from inceptionism.errors import ConfigError, Interrupted, OutputError
from inceptionism.configs import STRENGTH_BY
from inceptionism.parsing import parse_numbers


def _style_defaults() -> dict[str, Any]:
    from inceptionism.configs import StyleConfig

    return {f.name: f.default for f in fields(StyleConfig)}


def add_parsers(sub: Any) -> None:
    _add_style_parser(sub)
    _add_train_parser(sub)
    _add_stylize_parser(sub)
    _add_styles_parser(sub)
    _add_export_parser(sub)


# -- styles --------------------------------------------------------------------
def _add_styles_parser(sub: Any) -> None:
    p = sub.add_parser("styles", help="list the built-in styles (or --model's), or render them all on one photo",
                       description="The styles `stylize --style-index` knows without --model: the network that ships "
                                   "with inceptionism and the 26 of TensorFlow's Android demo (Magenta's). With "
                                   "--sheet, each one rendered on a photo, labelled, for choosing.",
                       epilog="Example:\n  inceptionism styles --sheet photo.jpg -o sheet.png",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, metavar="MODEL", help="a .safetensors from train-style")
    p.add_argument("--sheet", default=None, metavar="PHOTO", help="render every style on this photo")
    p.add_argument("-o", "--output", default=None, metavar="OUT", help="the sheet's image file (with --sheet)")
    p.add_argument("--thumb", type=int, default=256, metavar="PX", help="the long side of each picture (default 256)")
    add_precision_option(p)
    add_device_options(p)
    p.set_defaults(func=cmd_styles)


def _builtin_styles(model: str | None) -> list[tuple[str, str, Any, str | None, list[float]]]:
    """(index label, name, kind, model file, mix) of every style ``--style-index`` reaches."""
    from inceptionism.style.instant import builtin_styles

    return [(str(i), name, kind, path, mix) for i, (name, kind, path, mix) in enumerate(builtin_styles(model))]


def cmd_styles(args: argparse.Namespace) -> int:
    from inceptionism.style.model_file import read_metadata
    from inceptionism.style.shipped import shipped_model_path

    styles = _builtin_styles(args.model)
    if args.sheet is not None:
        return _style_sheet(args, styles)
    if args.output is not None:
        raise ConfigError("-o goes with --sheet PHOTO")
    model = Path(args.model) if args.model else shipped_model_path()
    meta = read_metadata(model)
    args.report.describe(styles=[{"index": int(label), "name": name, "network": path or kind.value}
                                 for label, name, kind, path, _ in styles])
    if args.json:
        return 0
    source = "ships with inceptionism" if not args.model else str(model)
    print(f"{len(meta['styles'])} styles of one network ({source}; trained {meta['training'].get('step')} steps; "
          "blend them with --mix)")
    for label, name, *_ in styles[:len(meta["styles"])]:
        print(f"  --style-index {label:<3} {name}")
    if not args.model:
        print(f"{len(styles) - len(meta['styles'])} styles of TensorFlow's Android demo network (Magenta; Dumoulin et "
              "al. 2017; Apache-2.0)")
        for label, name, *_ in styles[len(meta["styles"]):]:
            print(f"  --style-index {label:<3} {name}")
        print("any painting: inceptionism stylize photo.jpg --style painting.jpg -o out.png "
              "(Magenta's arbitrary-stylisation network, Ghiasi et al. 2017)")
    return 0


def _style_sheet(args: argparse.Namespace, styles: list[tuple[str, str, Any, str | None, list[float]]]) -> int:
    """Every style on one photo, in a labelled grid."""
    from PIL import Image, ImageDraw

    from inceptionism.devices import resolve_device
    from inceptionism.ops import resize
    from inceptionism.io.images import atomic_write, check_output, load_image, to_pil
    from inceptionism.precision import autocast_dtype, resolve_precision
    from inceptionism.style.instant import load_network
    from inceptionism.style.model_file import stylize_image

    if args.output is None:
        raise ConfigError("--sheet needs -o SHEET.png")
    out = check_output(args.output, (args.sheet,))
    if not 32 <= args.thumb <= 2048:
        raise ConfigError(f"--thumb must be between 32 and 2048 px, got {args.thumb}")
    photo = load_image(args.sheet).rgb
    h, w = photo.shape[-2:]
    scale = args.thumb / max(h, w)
    photo = resize(photo, (max(32, round(h * scale)), max(32, round(w * scale))))
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision or "auto", device)
    pictures = [("photo", to_pil(photo))]
    networks: dict[Any, Any] = {}
    autocast = autocast_dtype(precision, device)
    bar = LazyBar(out.name, args.quiet)
    for label, name, kind, model, mix in styles:
        if (kind, model) not in networks:
            networks[kind, model] = load_network(kind, model, device)
        painted = stylize_image(networks[kind, model], photo, photo.new_tensor([mix]), autocast=autocast)
        pictures.append((f"{label}: {name}", to_pil(painted)))
        bar.step(len(styles))
    bar.close()
    columns = min(6, len(pictures))
    rows = -(-len(pictures) // columns)
    tw, th = pictures[0][1].size
    pad, caption = 6, 16
    sheet = Image.new("RGB", (columns * (tw + pad) + pad, rows * (th + caption + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (text, picture) in enumerate(pictures):
        r, c = divmod(n, columns)
        x, y = pad + c * (tw + pad), pad + r * (th + caption + pad)
        draw.text((x + 2, y + 2), text[:40], fill="black")
        sheet.paste(picture, (x, y + caption))
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(out.suffix.lower(), "PNG")
    atomic_write(out, lambda tmp: sheet.save(tmp, fmt))
    args.report.output(out, input=args.sheet, styles=len(styles))
    if not args.quiet:
        print(f"wrote {out} ({len(styles)} styles)", file=sys.stderr)
    return 0


def _add_style_parser(sub: Any) -> None:
    d = _style_defaults()
    p = sub.add_parser(
        "style",
        help="neural style transfer by optimisation (Gatys et al.)",
        description="Optimises an image with the content's layout in the style of one or more paintings.",
        epilog="Examples:\n"
        "  inceptionism style tubingen.jpg --style starry_night.jpg -o out.png\n"
        "  inceptionism style photo.jpg --style a.jpg --style b.jpg --style-weights 0.7,0.3 -o out.png\n"
        "  inceptionism style photo.jpg --style a.jpg --model vgg19 --optimizer lbfgs --size 768 -o out.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    p.add_argument("--size", type=int, default=None, help=f"long side of the output (default {d['size']})")
    p.add_argument("--steps", type=int, default=None, help=f"optimisation steps per scale (default {d['steps']})")
    p.add_argument("--scales", type=int, default=None,
                   help=f"scales, doubling up to --size (default {d['scales']}: automatic, smallest >= 128 px)")
    p.add_argument("--content-weight", type=float, default=None, help=f"(default {d['content_weight']})")
    p.add_argument("--style-weight", type=float, default=None, help=f"(default {d['style_weight']})")
    p.add_argument("--tv-weight", type=float, default=None, help=f"smoothness (default {d['tv_weight']})")
    p.add_argument("--optimizer", choices=("adam", "lbfgs"), default=None, help=f"(default {d['optimizer']})")
    p.add_argument("--lr", type=float, default=None, help=f"Adam learning rate (default {d['lr']})")
    p.add_argument("--init", choices=("content", "noise"), default=None, help=f"start image (default {d['init']})")
    p.add_argument("--style-scale", type=float, default=None,
                   help=f"style image size relative to the output (default {d['style_scale']})")
    p.add_argument("--preserve-colors", nargs="?", const="luminance", default=UNSET, choices=("luminance", "match"),
                   help="keep the content's colours: luminance-only transfer (the default when given alone), "
                        "or match the style's colours to the content first")
    p.add_argument("--seed", type=int, default=None, help=f"(default {d['seed']})")
    p.add_argument("--save-every", type=int, default=0, metavar="N", help="also write the image every N steps")
    p.add_argument("--resume", action="store_true",
                   help="finish a run that was stopped (Ctrl-C or SIGTERM write the image so far to OUT)")
    add_precision_option(p)
    add_device_options(p)
    p.set_defaults(func=cmd_style)


def build_style_config(args: argparse.Namespace) -> Any:
    from inceptionism.configs import StyleConfig

    values: dict[str, Any] = {}
    for name in ("size", "steps", "scales", "content_weight", "style_weight", "tv_weight", "optimizer", "lr",
                 "init", "style_scale", "seed"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.preserve_colors is not UNSET:
        values["preserve_colors"] = args.preserve_colors
    if args.content_layers:
        values["content_layers"] = tuple(a.strip() for a in args.content_layers.split(","))
    if args.style_layers:
        values["style_layers"] = tuple(a.strip() for a in args.style_layers.split(","))
    if args.precision is not None:
        values["precision"] = args.precision
    return StyleConfig(**values)


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
    from inceptionism.configs import TrainConfig

    d = {f.name: f.default for f in fields(TrainConfig)}
    p = sub.add_parser(
        "train-style",
        help="train a feed-forward network on one or many styles at once",
        description="Trains one feed-forward network on N styles (Dumoulin et al.'s conditional instance norm): by "
                    "default fine-tuned from Magenta's arbitrary-stylisation network (--init magenta), or Johnson "
                    "et al.'s network from random weights (--init scratch). Checkpoints as it goes; --resume "
                    "continues the step count and optimiser.",
        epilog="Example:\n  inceptionism train-style --style starry.jpg --style wave.jpg --data photos/ -o two.safetensors",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--style", action="append", required=True, metavar="IMAGE", help="style image, repeatable")
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training images (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="the model file (.safetensors)")
    for name, kind, text in (("image-size", int, "training crop size"), ("batch-size", int, "images per step"),
                             ("steps", int, "training steps in all"), ("lr", float, "Adam learning rate"),
                             ("content-weight", float, ""), ("style-weight", float, ""), ("tv-weight", float, ""),
                             ("checkpoint-every", int, "write the model every N steps (0: only at the end)"),
                             ("seed", int, ""), ("workers", int, "data loader processes"),
                             ("width", int, "channels of the first layer"),
                             ("schedule", str, "learning rate: constant, or cosine (warm-up, then down to a tenth)"),
                             ("style-scale", float, "long side of the style images relative to --image-size, "
                                                    "aspect kept")):
        key = name.replace("-", "_")
        p.add_argument(f"--{name}", type=kind, default=None, help=f"{text} (default {d[key]})".strip())
    p.add_argument("--clip-grad", type=float, default=None, metavar="NORM",
                   help=f"scale the gradients down to this norm when above it; 0: never (default {d['clip_grad']})")
    p.add_argument("--content-layers", default=None, metavar="L1,L2",
                   help="layers of the loss network for the content (default: the loss network's own)")
    p.add_argument("--style-layers", default=None, metavar="L1,L2,...",
                   help="layers of the loss network for the style (default: the loss network's own; "
                        "`inceptionism layers --model MODEL` lists them)")
    p.add_argument("--init", choices=("scratch", "magenta"), default=None,
                   help="start from random weights (scratch), or from Magenta's arbitrary-stylisation network, each "
                        f"style's embedding from its painting, all fine-tuned under this loss (default {d['init']})")
    p.add_argument("--skip", action=argparse.BooleanOptionalAction, default=None,
                   help=f"add the network's output to its input, starting as the identity (default {d['skip']})")
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


def cmd_train(args: argparse.Namespace) -> int:
    from inceptionism.devices import resolve_device
    from inceptionism.io.images import load_image
    from inceptionism.style.model_file import describe_style
    from inceptionism.style.train import TrainConfig, train
    from inceptionism.training import distributed, find_images

    dist = distributed.current()
    out = model_file_output(args.output, resume=args.resume)
    if args.log_dir:  # before anything loads: a missing TensorBoard is one line at once
        from inceptionism.training.watch import check_tensorboard

        check_tensorboard()
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    for name in ("content_layers", "style_layers"):
        if name in values:
            values[name] = tuple(a.strip() for a in values[name].split(",") if a.strip())
    if values.get("clip_grad") == 0:
        values["clip_grad"] = None
    config = TrainConfig(**values)
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


# -- stylize -------------------------------------------------------------------
def _add_stylize_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stylize",
        help="stylise images instantly: with any painting, a built-in style, or a train-style model",
        description="Stylises each content image at its full size (tile by tile when large). With --style, any "
                    "painting, through Magenta's arbitrary-stylisation network (nothing to train, nothing to "
                    "download); with --style-index, a built-in style (`inceptionism styles` lists them) or one of "
                    "--model's.",
        epilog="Examples:\n"
        "  inceptionism stylize photo.jpg --style painting.jpg -o out.png\n"
        "  inceptionism stylize photo.jpg --style a.jpg --style b.jpg --style-weights 0.7,0.3 --strength 0.8 -o out.png\n"
        "  inceptionism stylize photo.jpg --style-index 0 -o out.png\n"
        "  inceptionism stylize photo.jpg --model two.safetensors --style-index 1 -o out.png\n"
        "  inceptionism stylize photos/ --style painting.jpg -o out/ --ray",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("content", nargs="+", metavar="CONTENT", help="images or folders of them (or skimage:NAME)")
    p.add_argument("--style", action=StyleChoice, default=None, metavar="IMAGE",
                   help="any painting as the style (repeatable: their embeddings are mixed)")
    p.add_argument("--region", action=RegionAction, default=None, metavar="MASK",
                   help="after a --style or --style-index: where (white) that style goes; each is stylised on its "
                        "own and blended in with a soft edge, and what no region covers stays the photo")
    p.add_argument("--style-weights", default=None, metavar="W1,W2,...",
                   help="with several --style: how much of each (default equal)")
    p.add_argument("--strength", type=float, default=None, metavar="S",
                   help="0 (the photo) to 1 (the full style; default). With --style, from the photo's own "
                        "embedding to the painting's (Ghiasi et al.); otherwise see --strength-by")
    p.add_argument("--strength-by", choices=STRENGTH_BY, default=None,
                   help="how a network's --strength works: norms (its conditional norms moved toward the identity; "
                        "the default) or fade (the stylised picture faded into the photo)")
    p.add_argument("--style-size", type=int, default=None, metavar="PX",
                   help="with --style: the shorter side the painting is seen at (default 256, as Magenta trained; "
                        "larger: finer features of the painting)")
    p.add_argument("--stroke-scale", default=None, metavar="S|auto",
                   help="strokes S times the size the network paints at the photo's full size (a coarse pass at "
                        "1/S of the size, then a full-size pass over it); auto: the long side over 512 px "
                        "(default with --style; 1 otherwise)")
    p.add_argument("--model", default=None, metavar="MODEL",
                   help="a .safetensors from train-style (default: the built-in styles)")
    p.add_argument("--style-index", type=int, action=StyleChoice, default=None, metavar="I",
                   help="one style, counted from 0: the built-in ones (`inceptionism styles`) or --model's "
                        "(repeatable with --region)")
    p.add_argument("--mix", default=None, metavar="W1,W2,...",
                   help="blend --model's styles inside the network (or the shipped network's 3)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file, or a folder for several inputs")
    p.add_argument("--preserve-colors", action="store_true", help="keep the content's colours (luminance only)")
    p.add_argument("--tile", type=int, default=1024, metavar="PX", help="tile side for large images (default 1024)")
    p.add_argument("--resume", action="store_true",
                   help="with several inputs: skip the outputs already there and made by this same recipe; "
                        "for a video: continue from the frames already written")
    p.add_argument("--flow", action="store_true",
                   help="for a video: carry the previous stylised frame along the optical flow and blend it in where "
                        "the flow explains the scene, so that strokes move with it instead of flickering")
    add_precision_option(p)
    add_device_options(p)
    add_cluster_options(p)
    p.set_defaults(func=cmd_stylize)


def _stylize_job(args: argparse.Namespace) -> Any:
    """The job the options choose, through :func:`inceptionism.style.instant.choose` (which checks the choice);
    here only what the command line alone can tell: which options were given, and regions paired with styles."""
    from inceptionism.configs import StylizeConfig
    from inceptionism.style.instant import choose

    arbitrary_only = [o for o, v in (("--style-weights", args.style_weights), ("--style-size", args.style_size))
                      if v is not None]
    if args.style is None and arbitrary_only:
        raise ConfigError(f"{', '.join(arbitrary_only)} go with --style PAINTING")
    if args.strength_by is not None and args.style is not None:
        raise ConfigError("--strength-by is for networks (--style-index, --mix); with --style the strength moves the "
                          "painting's embedding toward the photo's")
    given = {"strength": args.strength, "strength_by": args.strength_by, "style_size": args.style_size,
             "stroke_scale": _stroke_scale(args.stroke_scale), "tile": args.tile,
             "preserve_colors": args.preserve_colors, "precision": args.precision}
    config = StylizeConfig(**{k: v for k, v in given.items() if v is not None})
    regions = None
    if args.region:
        dest = "style" if args.style is not None else "style_index"
        regions = paired_regions(args, dest, len(getattr(args, dest) or []))
    style = args.style_index
    if style is not None and len(style) == 1 and not regions:
        style = style[0]
    return choose(painting=list(args.style) if args.style is not None else None, style=style, model=args.model,
                  mix=parse_numbers(args.mix, float, "--mix") if args.mix is not None else None,
                  style_weights=parse_numbers(args.style_weights, float, "--style-weights") if args.style_weights
                  else None, regions=regions, config=config, device=args.device)


def _stroke_scale(text: str | None) -> float | str | None:
    if text is None or text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--stroke-scale takes a number of 1 or more, or 'auto', got {text!r}") from None


#: what `stylize` reads as a video (frame by frame, frame rate and sound kept)
VIDEO_INPUTS = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")


def cmd_stylize(args: argparse.Namespace) -> int:
    from inceptionism.io.images import check_output, output_format, read_image_bytes, write_bytes

    videos = [c for c in args.content if Path(c).suffix.lower() in VIDEO_INPUTS]
    if videos and len(args.content) > 1:
        raise ConfigError(f"{videos[0]}: stylise one video at a time (images and folders go in another run)")
    if args.flow and not videos:
        raise ConfigError("--flow is for a video input")
    pairs = [] if videos else input_targets(args.content, args.output)
    for c, t in pairs:
        check_output(t, (c, *(args.style or ())))
    job = _stylize_job(args)
    runner = None
    if job.regions and pairs:
        # each region fits each picture: checked on the first before any work
        from inceptionism.io.images import load_image

        runner = job.setup()
        runner.check_regions(tuple(load_image(pairs[0][0]).rgb.shape[-2:]))
    if videos:
        return _stylize_video(args, job, videos[0])

    def expected(content: str) -> dict[str, Any]:
        return {**dict(job.recipe), "content": content}

    todo = [(c, t) for c, t in pairs if not (args.resume and recipe_matches(t, expected(c)))]
    where = dict(todo)

    def load(content: str) -> Any:
        return lambda: (content, read_image_bytes(content), output_format(where[content]))

    if len(pairs) == 1 and todo and not args.ray:
        content, target = todo[0]
        write_bytes(target, (runner or job.setup()).run(content, load(content)()))
        args.report.output(target, input=content)
        if not args.quiet:
            print(f"wrote {target}", file=sys.stderr)
        return 0
    for content, target in pairs:
        if content not in where:
            args.report.output(target, input=content, status="skipped")

    def write(key: str, data: bytes) -> None:
        write_bytes(where[key], data)
        args.report.output(where[key], input=key)

    report = run_items(args, job, [(c, load(c)) for c, _ in todo], write, what=Path(args.output).name or args.output,
                       runner=None if args.ray else runner)
    report.total += len(pairs) - len(todo)
    report.skipped = len(pairs) - len(todo)
    return finish_items(report, f"stylize into {args.output}", args.quiet)


def _stylize_video(args: argparse.Namespace, job: Any, video: str) -> int:
    """A video, frame by frame, into a resumable folder of frames, then the movie with the source's sound."""
    from inceptionism.animate.frames import FrameStore, plan_output, resumable_folder
    from inceptionism.animate.loop import stylize_video_loop
    from inceptionism.io.video import probe_video, read_video

    if args.ray:
        raise ConfigError("--ray spreads many images; a video is stylised here, frame after frame")
    info = probe_video(video)
    movie, folder = plan_output(args.output)
    if movie is not None and movie.exists() and movie.resolve() == Path(video).resolve():
        raise OutputError(f"{args.output}: refusing to overwrite the input video")
    recipe = {**dict(job.recipe), "input": os.path.abspath(video), "input_sha256": file_sha256(video),
              "flow": args.flow}
    if args.resume:
        folder = resumable_folder(movie, folder, recipe)
    store = FrameStore(folder, recipe, resume=args.resume)
    runner = job.setup()
    bar = frame_bar(info.frames, min(len(store.frame_numbers()), info.frames), (movie or folder).name, args.quiet)
    with kept_on_stop(store, bar):
        count = stylize_video_loop(runner.stylize, read_video(video), store=store, flow=args.flow,
                                   callback=lambda n: bar.update(1))
    assemble_movie(store, count, movie, info.fps, audio_from=video if info.has_audio else None, quiet=args.quiet)
    args.report.output(movie or folder, input=video, frames=count, fps=info.fps)
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
