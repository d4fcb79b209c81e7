"""``inceptionism stylize`` and ``styles``: parsing and printing only; the pipeline is
:mod:`inceptionism.style.instant`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from inceptionism.cli.batch import Item, finish_items, input_targets, run_batch
from inceptionism.cli.movies import assemble_movie, frame_bar, kept_on_stop
from inceptionism.cli.options import (
    RegionAction, StyleChoice, add_cluster_options, add_device_options, add_precision_option, config_from,
    config_options, paired_regions,
)
from inceptionism.cli.recipes import recipe_matches
from inceptionism.configs import STRENGTH_BY
from inceptionism.cli.common import command
from inceptionism.errors import ConfigError, OutputError
from inceptionism.parsing import parse_numbers
from inceptionism.paths import file_sha256
from inceptionism.progress import LazyBar


def add_parsers(sub: Any) -> None:
    _add_stylize_parser(sub)
    _add_styles_parser(sub)


# -- stylize -------------------------------------------------------------------
def _add_stylize_parser(sub: Any) -> None:
    from inceptionism.configs import StylizeConfig

    p = command(
        sub, "stylize",
        help="stylise images instantly: with any painting, a built-in style, or a train-style model",
        description="Stylises each content image at its full size (tile by tile when large). With --style, any "
                    "painting, through Magenta's arbitrary-stylisation network (nothing to train, nothing to "
                    "download); with --style-index, a built-in style (`inceptionism styles` lists them) or one of "
                    "--model's.",
        examples=(
            'inceptionism stylize photo.jpg --style painting.jpg -o out.png',
            'inceptionism stylize photo.jpg --style a.jpg --style b.jpg --style-weights 0.7,0.3 --strength 0.8 -o out.png',
            'inceptionism stylize photo.jpg --style-index 0 -o out.png',
            'inceptionism stylize photo.jpg --model two.safetensors --style-index 1 -o out.png',
            'inceptionism stylize photos/ --style painting.jpg -o out/ --ray',
        ),
    )
    p.add_argument("content", nargs="+", metavar="CONTENT", help="images or folders of them (or skimage:NAME)")
    p.add_argument("--style", action=StyleChoice, default=None, metavar="IMAGE",
                   help="any painting as the style (repeatable: their embeddings are mixed)")
    p.add_argument("--region", action=RegionAction, default=None, metavar="MASK",
                   help="after a --style or --style-index: where (white) that style goes; each is stylised on its "
                        "own and blended in with a soft edge, and what no region covers stays the photo")
    p.add_argument("--style-weights", default=None, metavar="W1,W2,...",
                   help="with several --style: how much of each (default equal)")
    config_options(p, StylizeConfig, ("strength", "strength_by", "style_size", "stroke_scale"),
                   strength={"metavar": "S"}, strength_by={"choices": STRENGTH_BY}, style_size={"metavar": "PX"},
                   stroke_scale={"type": str, "metavar": "S|auto", "default_text": "auto with --style; 1 otherwise"})
    p.add_argument("--model", default=None, metavar="MODEL",
                   help="a .safetensors from train-style (default: the built-in styles)")
    p.add_argument("--style-index", type=int, action=StyleChoice, default=None, metavar="I",
                   help="one style, counted from 0: the built-in ones (`inceptionism styles`) or --model's "
                        "(repeatable with --region)")
    p.add_argument("--mix", default=None, metavar="W1,W2,...",
                   help="blend --model's styles inside the network (or the shipped network's 3)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file, or a folder for several inputs")
    config_options(p, StylizeConfig, ("preserve_colors", "tile"), tile={"metavar": "PX"})
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


def build_stylize_config(args: argparse.Namespace) -> Any:
    """The StylizeConfig the arguments describe."""
    from inceptionism.configs import StylizeConfig

    return config_from(argparse.Namespace(**{**vars(args), "stroke_scale": _stroke_scale(args.stroke_scale)}),
                       StylizeConfig)


def _stylize_job(args: argparse.Namespace) -> Any:
    """The job the options choose, through :func:`inceptionism.style.instant.choose` (which checks the choice);
    here only what the command line alone can tell: which options were given, and regions paired with styles."""
    from inceptionism.style.instant import choose

    arbitrary_only = [o for o, v in (("--style-weights", args.style_weights), ("--style-size", args.style_size))
                      if v is not None]
    if args.style is None and arbitrary_only:
        raise ConfigError(f"{', '.join(arbitrary_only)} go with --style PAINTING")
    if args.strength_by is not None and args.style is not None:
        raise ConfigError("--strength-by is for networks (--style-index, --mix); with --style the strength moves the "
                          "painting's embedding toward the photo's")
    config = build_stylize_config(args)
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

    def load(content: str, target: Path) -> Any:
        return lambda: (content, read_image_bytes(content), output_format(target))

    items = [Item(content, load(content, target), target, lambda content=content: {**dict(job.recipe), "content": content})
             for content, target in pairs]
    if len(items) == 1 and not args.ray and not (args.resume and recipe_matches(items[0].target, items[0].recipe())):
        runner = runner or job.setup()  # one picture: no batch summary, the command's own line
        write_bytes(items[0].target, runner.run(items[0].key, items[0].load()))
        args.report.output(items[0].target, input=items[0].key)
        if not args.quiet:
            print(f"wrote {items[0].target}", file=sys.stderr)
        return 0
    report = run_batch(args, job, items, what=Path(args.output).name or args.output,
                       runner=None if args.ray else runner)
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


# -- styles --------------------------------------------------------------------
def _add_styles_parser(sub: Any) -> None:
    p = command(
        sub, "styles",
        help="list the built-in styles (or --model's), or render them all on one photo",
        description="The styles `stylize --style-index` knows without --model: the network that ships "
                    "with inceptionism and the 26 of TensorFlow's Android demo (Magenta's). With "
                    "--sheet, each one rendered on a photo, labelled, for choosing.",
        examples=(
            'inceptionism styles --sheet photo.jpg -o sheet.png',
        ),
    )
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
    from inceptionism.devices import resolve_device
    from inceptionism.ops import resize
    from inceptionism.io.images import atomic_write, check_output, load_image, to_pil
    from inceptionism.io.sheets import contact_sheet
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
    sheet = contact_sheet([picture for _, picture in pictures], [text for text, _ in pictures],
                          columns=min(6, len(pictures)))
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(out.suffix.lower(), "PNG")
    atomic_write(out, lambda tmp: sheet.save(tmp, fmt))
    args.report.output(out, input=args.sheet, styles=len(styles))
    if not args.quiet:
        print(f"wrote {out} ({len(styles)} styles)", file=sys.stderr)
    return 0
