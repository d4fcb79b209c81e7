"""``inceptionism animate``, ``video`` and ``sweep``: parsing and printing only."""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import sys
from pathlib import Path
from typing import Any

from inceptionism import __version__
from inceptionism.cli.batch import Item, finish_items, run_batch
from inceptionism.cli.movies import assemble_movie, frame_bar, kept_on_stop
from inceptionism.cli.options import (
    add_cluster_options, add_model_options, add_step_options, build_dream_config, dream_objective, load_masks, load_network, mask_pairs, split_masks,
)
from inceptionism.paths import file_sha256, source_label
from inceptionism.cli.common import command
from inceptionism.errors import ConfigError, OutputError


def _targets(args: argparse.Namespace) -> dict[str, str]:
    """--topic and --word for a recipe, only when given (so that runs begun before they existed still resume)."""
    return {k: v for k, v in (("topic", args.topic), ("word", args.word)) if v is not None}


def add_parsers(sub: Any) -> None:
    _add_animate_parser(sub)
    _add_video_parser(sub)
    _add_sweep_parser(sub)


# -- animate -----------------------------------------------------------------
def _add_animate_parser(sub: Any) -> None:
    p = command(
        sub, "animate",
        help="the endless-zoom dream: each frame dreams on the previous one, zoomed",
        description="Google's endless zoom: every frame dreams on the previous output after a small zoom, "
                    "rotation and pan. Frames are written as they are made; --resume continues a stopped run.",
        examples=(
            'inceptionism animate skimage:chelsea -o zoom.gif --frames 60 --every 10 --zoom 1.05',
            'inceptionism animate --noise 256x256 -o zoom.mp4 --zoom 1.02:1.08 --rotate 0.5 --fps 24',
            'inceptionism animate photo.jpg -o frames/ --layer blocks.3 --layer blocks.5@30',
            'inceptionism animate photo.jpg -o zoom.gif --keyframes keys.json --resume',
        ),
    )
    p.add_argument("input", nargs="?", metavar="INPUT", help="image file or skimage:NAME (or use --noise)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="a .gif, .mp4 or .webm (frames go to a NAME_frames folder beside it: zoom.gif_frames), or a folder of PNG frames")
    p.add_argument("--noise", default=None, metavar="WxH", help="start from noise of this size")
    p.add_argument("--frames", type=int, default=60, help="frames to write (default 60)")
    p.add_argument("--every", type=int, default=10, help="dream steps between two written frames (default 10)")
    p.add_argument("--zoom", default="1.05", metavar="Z|A:B", help="zoom per frame, or a ramp A:B over the run (default 1.05)")
    p.add_argument("--rotate", default="0", metavar="DEG|A:B", help="degrees per frame, or a ramp (default 0)")
    p.add_argument("--pan", default="0,0", metavar="DX,DY", help="pixels per frame (default 0,0)")
    p.add_argument("--keyframes", default=None, metavar="FILE", help="JSON/YAML keyframes: {frame: {zoom, rotate, pan_x, pan_y, step_size, layers}}")
    p.add_argument("--fps", type=float, default=12.0, help="frames per second of the movie (default 12)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--reverse", action="store_true", help="play backwards")
    order.add_argument("--boomerang", action="store_true", help="play forwards, then backwards")
    p.add_argument("--resume", action="store_true", help="continue from the last complete frame in the frames folder")
    add_model_options(p, layer_help="; SPEC@FRAME switches to that layer at that frame")
    add_step_options(p, steps=False, octaves=1)
    p.set_defaults(func=cmd_animate)


def _zoom_schedule(args: argparse.Namespace, config: Any, default_layers: tuple[str, ...]) -> Any:
    """The zoom's schedule: ramps of zoom and rotation, a pan, layers that change at frames, keyframes."""
    from inceptionism.animate.schedule import Schedule, load_keyframes, parse_ramp, parse_scheduled_layer
    from inceptionism.objectives import parse_address

    zoom0, zoom1 = parse_ramp(args.zoom, "zoom")
    rot0, rot1 = parse_ramp(args.rotate, "rotate")
    try:
        pan_x, pan_y = (float(v) for v in args.pan.split(","))
    except ValueError:
        raise ConfigError(f"--pan takes DX,DY in pixels, got {args.pan!r}") from None
    by_frame: dict[int, list[str]] = {}
    for text in args.layer or []:
        spec, frame = parse_scheduled_layer(text)
        parse_address(spec)
        by_frame.setdefault(frame, []).append(spec)
    base_layers = tuple(by_frame.pop(0, None) or default_layers)
    schedule = Schedule(defaults={"zoom": zoom0, "rotate": rot0, "pan_x": pan_x, "pan_y": pan_y,
                                  "step_size": config.step_size, "layers": base_layers})
    last = args.frames - 1
    if zoom1 is not None:
        schedule.set(0, "zoom", zoom0)
        schedule.set(last, "zoom", zoom1)
    if rot1 is not None:
        schedule.set(0, "rotate", rot0)
        schedule.set(last, "rotate", rot1)
    for frame, specs in by_frame.items():
        schedule.set(frame, "layers", specs)
    if args.keyframes:
        load_keyframes(args.keyframes, schedule)
    return schedule


def cmd_animate(args: argparse.Namespace) -> int:
    from inceptionism.animate.frames import FrameStore, plan_output, resumable_folder
    from inceptionism.animate.loop import zoom_loop
    from inceptionism.ops import fit_mask
    from inceptionism.dream import noise_image
    from inceptionism.io.images import load_image
    from inceptionism.parsing import parse_size

    if args.frames < 1 or args.every < 1:
        raise ConfigError("--frames and --every must be at least 1")
    if args.fps <= 0:
        raise ConfigError("--fps must be positive")
    if bool(args.input) == bool(args.noise):
        raise ConfigError("give an input image or --noise WxH (one of them)")
    movie, folder = plan_output(args.output)
    config = build_dream_config(args)
    image = load_image(args.input) if args.input else None
    start = image.rgb if image else noise_image(*parse_size(args.noise), seed=config.seed)

    network = load_network(args)
    mask, _ = load_masks(args, per_layer=False)
    if mask is not None:
        fit_mask(mask, tuple(start.shape[-2:]), what=args.mask[0][1])
    schedule = _zoom_schedule(args, config, network.spec.default_layers)

    @functools.lru_cache(maxsize=None)
    def objective_for(layers: tuple[str, ...]) -> Any:
        objective, _ = dream_objective(network, list(layers), args.guide, args.class_, args.topic, args.word)
        objective.prepare(network)  # bad layers fail now, not at the frame that first uses them
        return objective

    for frame in sorted({0, *schedule.keyframes}):
        objective_for(schedule.at(frame).layers)

    recipe = {
        "command": "animate", "version": __version__, "model": network.name, "weights": network.weights,
        "input": source_label(args.input),
        "input_sha256": file_sha256(args.input) if args.input else None, "noise": args.noise,
        "guide": args.guide, "class": args.class_, "every": args.every, "schedule": schedule.to_dict(),
        "config": config.to_dict(),
        **({"mask": source_label(args.mask[0][1]), "mask_sha256": file_sha256(args.mask[0][1]),
            "invert_mask": args.invert_mask} if mask is not None else {}),
    }
    recipe.update(_targets(args))
    if args.resume:
        folder = resumable_folder(movie, folder, recipe)
    store = FrameStore(folder, recipe, resume=args.resume)
    done = store.last()
    bar = frame_bar(args.frames, min(done, args.frames), (movie or folder).name, args.quiet)
    with kept_on_stop(store, bar):
        zoom_loop(network, start, schedule, config, frames=args.frames, every=args.every, store=store,
                  objective_for=objective_for, callback=lambda n, total: bar.update(1), mask=mask)
    assemble_movie(store, args.frames, movie, args.fps, reverse=args.reverse, boomerang=args.boomerang, quiet=args.quiet)
    args.report.output(movie or folder, input=args.input or f"noise {args.noise}", frames=args.frames, fps=args.fps,
                       recipe=store.recipe)
    return 0


# -- video -------------------------------------------------------------------
def _add_video_parser(sub: Any) -> None:
    p = command(
        sub, "video",
        help="dream every frame of a video, keeping its frame rate and sound",
        description="Dreams each frame of a video. --blend starts each frame from a mix of the new frame and "
                    "the previous dream; --flow first moves that dream along the scene's optical flow.",
        examples=(
            'inceptionism video clip.mp4 -o dream.mp4 --blend 0.5 --flow',
            'inceptionism video clip.mp4 -o dream.mp4 --steps 5 --octaves 2 --resume',
        ),
    )
    p.add_argument("input", metavar="IN", help="a video file (anything ffmpeg reads)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help=".mp4, .webm or .gif, or a folder of PNG frames")
    p.add_argument("--blend", type=float, default=None, metavar="A",
                   help="weight of the previous dream in each new start, 0 to 1 (default 0; 0.5 with --flow)")
    p.add_argument("--flow", action="store_true", help="warp the previous dream along the optical flow (Farneback)")
    p.add_argument("--resume", action="store_true", help="continue from the last complete frame")
    add_model_options(p)
    add_step_options(p)
    add_cluster_options(p)
    p.set_defaults(func=cmd_video)


def cmd_video(args: argparse.Namespace) -> int:
    from inceptionism.animate.frames import FrameStore, plan_output, resumable_folder
    from inceptionism.animate.loop import video_loop
    from inceptionism.ops import fit_mask
    from inceptionism.io.video import probe_video, read_video
    from inceptionism.jobs import DreamJob, FrameJob

    info = probe_video(args.input)
    movie, folder = plan_output(args.output)
    if movie is not None and movie.exists() and movie.resolve() == Path(args.input).resolve():
        raise OutputError(f"{args.output}: refusing to overwrite the input video")
    blend = args.blend if args.blend is not None else (0.5 if args.flow else 0.0)
    if not 0.0 <= blend < 1.0:
        raise ConfigError(f"--blend must be at least 0 and below 1, got {blend}")
    if args.ray and (blend > 0 or args.flow):
        raise ConfigError("--ray spreads frames that stand alone; with --blend or --flow each frame starts from the "
                          "previous dream, so run those without --ray")
    config = build_dream_config(args)
    network = load_network(args)
    mask, layer_masks = load_masks(args)
    objective, chosen = dream_objective(network, args.layer, args.guide, args.class_, args.topic, args.word,
                                        masks=layer_masks)
    objective.prepare(network)
    job_masks = mask_pairs(args)
    for index, path in job_masks:
        fit_mask(mask if index == -1 else layer_masks[index], (info.size[1], info.size[0]), what=path)
    recipe = {
        "command": "video", "version": __version__, "model": network.name, "weights": network.weights,
        "input": os.path.abspath(args.input), "input_sha256": file_sha256(args.input),
        "layers": [str(a) for a in chosen], "guide": args.guide, "class": args.class_,
        "blend": blend, "flow": args.flow, "config": config.to_dict(),
        **({"masks": [[i, source_label(p), file_sha256(p)] for i, p in job_masks], "invert_mask": args.invert_mask}
           if job_masks else {}),
    }
    recipe.update(_targets(args))
    if args.resume:
        folder = resumable_folder(movie, folder, recipe)
    store = FrameStore(folder, recipe, resume=args.resume)
    audio = args.input if info.has_audio else None
    if args.ray:
        job = FrameJob(DreamJob(model=args.model, weights=args.weights, layers=tuple(args.layer) if args.layer else None,
                                guide=args.guide, class_value=args.class_, topic=args.topic, word=args.word,
                                config=config, device=args.device, masks=job_masks, invert_mask=args.invert_mask),
                       tuple(store.recipe.items()))
        done = set(store.frame_numbers())
        source = _Frames(read_video(args.input))
        items = [Item(str(n), (lambda n: lambda: (n, source.get(n)))(n), store.path(n))
                 for n in range(1, info.frames + 1) if n not in done]  # frames a run made are kept as they are
        report = run_batch(args, job, items, what=(movie or folder).name, unit="frame", record=False)
        if report.failed:
            return finish_items(report, f"video {args.output}", args.quiet)
        assemble_movie(store, info.frames, movie, info.fps, audio_from=audio, quiet=args.quiet)
        args.report.output(movie or folder, input=args.input, frames=info.frames, fps=info.fps, recipe=store.recipe)
        return 0
    bar = frame_bar(info.frames, min(len(store.frame_numbers()), info.frames), (movie or folder).name, args.quiet)
    with kept_on_stop(store, bar):
        count = video_loop(network, read_video(args.input), objective, config, store=store, blend=blend,
                           flow=args.flow, callback=lambda n: bar.update(1), mask=mask)
    assemble_movie(store, count, movie, info.fps, audio_from=audio, quiet=args.quiet)
    args.report.output(movie or folder, input=args.input, frames=count, fps=info.fps, recipe=store.recipe)
    return 0


class _Frames:
    """A video's frames taken in increasing order, each at most once (the decoder reads forward only)."""

    def __init__(self, frames: Any):
        self.frames, self.position = iter(frames), 0

    def get(self, number: int) -> Any:
        frame = None
        while self.position < number:
            try:
                frame = next(self.frames)
            except StopIteration:
                raise ConfigError(f"the video has no frame {number}") from None
            self.position += 1
        return frame


# -- sweep -------------------------------------------------------------------
def _add_sweep_parser(sub: Any) -> None:
    p = command(
        sub, "sweep",
        help="a labelled grid comparing layers, steps, step sizes or octaves",
        description="Dreams the input once per combination of the values given and lays the results out as "
                    "one labelled contact sheet: rows for the first parameter that varies, columns for the last.",
        examples=(
            'inceptionism sweep skimage:chelsea -o grid.png --layer blocks.3 --layer blocks.5 --steps 5,10,20',
        ),
    )
    p.add_argument("input", metavar="INPUT", help="image file or skimage:NAME")
    p.add_argument("-o", "--output", required=True, metavar="GRID", help="the contact sheet (.png, .jpg, .webp)")
    p.add_argument("--cell", type=int, default=256, metavar="PX", help="longest side of each cell (default 256)")
    # the same options as dream's, from the same group (steps, step size and octaves may be lists)
    add_step_options(p, lists=True)
    add_model_options(p)
    add_cluster_options(p)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import torch

    from inceptionism.dream import DreamConfig
    from inceptionism.io.sheets import grid_sheet
    from inceptionism.io.images import check_output, load_image_bytes, read_image_bytes, save_image
    from inceptionism.jobs import DreamJob, SweepJob
    from inceptionism.parsing import parse_numbers

    check_output(args.output, (args.input,))
    if args.cell < 16:
        raise ConfigError("--cell must be at least 16 px")
    data = read_image_bytes(args.input)
    load_image_bytes(data, args.input)  # a bad input fails here, in one line
    whole, _ = split_masks(args)
    if args.mask and (len(args.mask) > 1 or whole is None):
        raise ConfigError("sweep takes one --mask for the whole image: put it before any --layer")
    d = DreamConfig()
    axis_values = {"steps": args.steps or str(d.steps), "step_size": args.step_size or str(d.step_size),
                   "octaves": args.octaves or str(d.octaves)}
    base = build_dream_config(argparse.Namespace(**{**vars(args), "steps": None, "step_size": None, "octaves": None}))
    dream_job = DreamJob(model=args.model, weights=args.weights, layers=tuple(args.layer) if args.layer else None,
                         guide=args.guide, class_value=args.class_, topic=args.topic, word=args.word,
                         config=base, device=args.device,
                         masks=((-1, whole),) if whole else (),
                         invert_mask=args.invert_mask)
    job = SweepJob(dream_job, args.input, data)
    runner = replace(job, dream=replace(dream_job, device="cpu")).setup() if args.ray else job.setup()
    network = runner.runner.network
    runner.runner.check_masks(tuple(load_image_bytes(data, args.input).rgb.shape[-2:]))
    layer_values = args.layer or ["+".join(network.spec.default_layers)]
    axes = [("layer", layer_values), ("steps", parse_numbers(axis_values["steps"], int, "--steps")),
            ("step_size", parse_numbers(axis_values["step_size"], float, "--step-size")),
            ("octaves", parse_numbers(axis_values["octaves"], int, "--octaves"))]
    for steps, size, octaves in itertools.product(*[v for _, v in axes[1:]]):
        replace(base, steps=steps, step_size=size, octaves=octaves)  # bad values fail before any work
    varying = [(name, values) for name, values in axes if len(values) > 1]
    fixed = {name: values[0] for name, values in axes if len(values) == 1}
    rows_axes, col_axis = (varying[:-1], varying[-1]) if varying else ([], ("", [None]))
    row_keys = list(itertools.product(*[values for _, values in rows_axes])) or [()]
    cells: dict[str, Any] = {}
    items = []
    for r, row in enumerate(row_keys):
        for c, col in enumerate(col_axis[1]):
            params = {**fixed, **dict(zip([n for n, _ in rows_axes], row))}
            if col_axis[0]:
                params[col_axis[0]] = col
            items.append(Item(f"r{r}c{c}", (lambda p: lambda: p)(params)))
    report = run_batch(args, job, items, what=Path(args.output).name, unit="cell", keep=cells.__setitem__,
                       runner=None if args.ray else runner)
    if report.failed:
        return finish_items(report, f"sweep {args.output}", args.quiet)
    grid = [[torch.tensor(cells[f"r{r}c{c}"]).permute(2, 0, 1)[None].float() / 255.0
             for c in range(len(col_axis[1]))] for r in range(len(row_keys))]
    row_labels = [", ".join(f"{n}={v}" for (n, _), v in zip(rows_axes, row)) for row in row_keys]
    col_labels = [f"{col_axis[0]}={v}" if col_axis[0] else "" for v in col_axis[1]]
    sheet = grid_sheet(grid, row_labels, col_labels, cell=args.cell,
                          title=", ".join(f"{k}={v}" for k, v in fixed.items()))
    meta = {"command": "sweep", "version": __version__, "model": network.name, "weights": args.weights or "pretrained",
            "input": args.input, "axes": {n: v for n, v in axes}, "config": base.to_dict(), "guide": args.guide,
            "class": args.class_,
            "topic": args.topic, "word": args.word}
    save_image(sheet, args.output, metadata=meta)
    args.report.output(args.output, input=args.input, cells=len(cells))
    if not args.quiet:
        print(f"wrote {args.output} ({len(row_keys)}x{len(col_axis[1])} grid)", file=sys.stderr)
    return 0
