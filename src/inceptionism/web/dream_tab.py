"""The Dream tab: an upload (or noise, or an example), the model and its layers, a channel, a guide, a mask
(uploaded, or painted over the input), Laplacian normalisation, octaves, steps, step size and seed; previews
while it runs, Cancel, the PNG with its recipe, and the equivalent command line."""

from __future__ import annotations

import functools
from types import SimpleNamespace
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from inceptionism import __version__
from inceptionism.dream import DreamConfig, DreamStep, dream, noise_image, octave_sizes
from inceptionism.ops import fit_mask
from inceptionism.errors import InceptionismError
from inceptionism.io.images import mask_tensor, save_image, shrink
from inceptionism.models import DEFAULT_MODEL, get_model_spec, list_models
from inceptionism.objectives import LayerAddress, Objective, build_objective
from inceptionism.parsing import parse_size, pixels_text
from inceptionism.web.app import (
    EXAMPLE_PREFIX, EXAMPLES, PREVIEW_EVERY, Cancelled, Services, WebLimits, action, download_box, load_upload,
    model_label, network, preview, start_picture,
    stream_job, upload,
)

#: how a user model (``--dream-model``) is listed among the models
USER_PREFIX = "yours: "


@dataclass(frozen=True)
class ModelChoice:
    """A registry model, or a user's dream model file (``inceptionism train-dream``)."""

    label: str
    name: str | None  # registry name (None: the file names its backbone)
    weights: str | None  # None: the registry's default weights

    @property
    def backbone(self) -> str:
        if self.name is not None:
            return self.name
        from inceptionism.models.dream_file import read_dream_metadata

        return read_dream_metadata(self.weights)["backbone"]


def model_choices(dream_models: tuple[str, ...] = ()) -> dict[str, ModelChoice]:
    """The Model dropdown: the registry's models, then each user model as ``yours: FILE``."""
    choices = {name: ModelChoice(name, name, None) for name in list_models()}
    for path in dream_models:
        label = USER_PREFIX + Path(path).name
        choices[label] = ModelChoice(label, None, os.fspath(path))
    return choices


def listen_for_trained(gr: Any, s: Services, choices: dict[str, ModelChoice], dropdown: Any) -> None:
    """A dream model trained on this server (the Train tab) joins ``choices`` and ``dropdown`` at once."""

    def add(path: str) -> None:
        label = USER_PREFIX + Path(path).name
        choices[label] = ModelChoice(label, None, os.fspath(path))

    def update() -> Any:
        return gr.Dropdown(choices=[(label if c.weights else model_label(label), label) for label, c in choices.items()])

    for path in s.trained.paths["dream"]:
        add(path)
    s.trained.listen("dream", dropdown, add, update)


def target_choices(network: Any) -> list[str]:
    """What a user model can dream toward: its class names, or its topics (with their top words)."""
    collection = getattr(network, "collection", None)
    return list(collection.names) if collection is not None else []


def layer_choices(model: str) -> list[str]:
    """The model's own layers, its aliases first (friendlier names); ``model`` is a registry name."""
    spec = get_model_spec(model)
    return list(dict.fromkeys([*spec.aliases, *spec.layers]))


def source_name(path: str | None) -> str | None:
    """How the command line names a picture the page was given: an example by its ``skimage:`` name,
    an upload by its own file name (the server keeps it under that name in a folder of its own)."""
    if not path:
        return None
    name = Path(str(path)).name
    sample = Path(name).stem[len(EXAMPLE_PREFIX):]
    return f"skimage:{sample}" if name.startswith(EXAMPLE_PREFIX) and sample in EXAMPLES else name


def command_line(image: str | None, noise: bool, noise_size: str, model: str, layers: list[str], channel: float | None,
                 guide: str | None, octaves: float, steps: float, step_size: float, seed: float,
                 target: str | None = None, word: str | None = None, mask: str | None = None, invert_mask: bool = False,
                 lap_norm: float = 0, max_side: float = 0, painted: Any = None, *,
                 choices: dict[str, ModelChoice] | None = None) -> str:
    """The ``inceptionism dream`` command that the current settings describe, runnable as shown.

    Uploads are named by their own file names (run it where those files are); a mask painted in the page
    has no file, so a comment says where it would go."""
    args = ["inceptionism", "dream"]
    args += ["--noise", noise_size] if noise else [source_name(image) or "INPUT.png"]
    args += ["-o", "dream.png"]
    choice = (choices or {}).get(model)
    if choice is not None and choice.weights:
        args += ["--weights", Path(choice.weights).name]
    elif model != DEFAULT_MODEL:
        args += ["--model", model]
    if target:
        topic = _topic_number(target)
        args += ["--topic", str(topic)] if topic is not None else ["--class", target]
    if word:
        args += ["--word", word]
    for i, layer in enumerate(layers or []):
        spec = layer if (channel is None or channel < 0 or i > 0) else f"{layer}:{int(channel)}"
        args += ["--layer", spec]
    if guide:
        args += ["--guide", source_name(guide)]
    drawn = mask is None and not noise and painted_mask(painted) is not None
    if mask:
        args += ["--mask", source_name(mask)] + (["--invert-mask"] if invert_mask else [])
    if lap_norm and int(lap_norm) > 0:
        args += ["--lap-norm", str(int(lap_norm))]
    if max_side and int(max_side) > 0 and not noise:
        args += ["--max-side", str(int(max_side))]
    d = DreamConfig()
    for flag, value, default in (("--octaves", int(octaves), d.octaves), ("--steps", int(steps), d.steps),
                                 ("--step-size", float(step_size), d.step_size), ("--seed", int(seed), d.seed)):
        if value != default:
            args += [flag, str(value)]
    line = shlex.join(args)
    if drawn:
        line += ("  # the mask painted here has no file: save one (white where to dream) and add --mask MASK.png"
                 + (" --invert-mask" if invert_mask else ""))
    return line


def estimate(width: int, height: int, octaves: float, steps: float, seconds_per_mp_step: float | None,
             max_side: float = 0) -> str:
    """What the page says before a run: the size it will dream at and, once this server has timed a run, how
    long it should take here; a big picture gets the offer to shrink it."""
    side = int(max_side or 0)
    if side > 0 and max(width, height) > side:
        scale = side / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    work = megapixel_steps(width, height, int(octaves), int(steps), DreamConfig().octave_scale)
    text = f"{width}x{height} ({width * height / 1e6:.1f} MP)"
    if seconds_per_mp_step is None:
        return text + ": the first run on this server measures its speed"
    seconds = work * seconds_per_mp_step
    text += f": about {_duration(seconds)} with these settings on this machine"
    if seconds > 60 and max(width, height) > 1024:
        small = work * (1024 / max(width, height)) ** 2 * seconds_per_mp_step
        text += f"; set 'Shrink the long side to' 1024 for about {_duration(small)}"
    return text


def megapixel_steps(width: int, height: int, octaves: int, steps: int, scale: float, min_size: int = 1) -> float:
    """A dream's work: megapixels times steps, summed over the octaves it runs (:func:`octave_sizes`)."""
    return sum(h * w for h, w in octave_sizes(height, width, octaves, scale, min_size)) / 1e6 * steps


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def painted_mask(value: Any) -> torch.Tensor | None:
    """What was painted over the picture in the mask editor (``1,1,H,W``: 1 where painted), or None."""
    if not isinstance(value, dict):
        return None
    alphas = [np.asarray(layer)[..., 3] for layer in value.get("layers") or []
              if layer is not None and np.asarray(layer).ndim == 3 and np.asarray(layer).shape[2] == 4]
    if not alphas or max(int(a.max()) for a in alphas) == 0:
        return None
    painted = np.max(np.stack(alphas), axis=0).astype(np.float32) / 255.0
    return torch.from_numpy(painted)[None, None]


def _has_topics(network: Any) -> bool:
    collection = getattr(network, "collection", None)
    return collection is not None and collection.kind == "topics"


def _topic_number(target: str) -> int | None:
    """The number of a topic label (``topic 3: food pizza ...``), None for a class name."""
    if target.startswith("topic ") and ":" in target:
        head = target[len("topic "):target.index(":")]
        if head.isdigit():
            return int(head)
    return None


def _objective(network: Any, layers: list[str], channel: float | None, guide: str | None, limits: WebLimits,
               target: str | None = None, word: str | None = None) -> Objective:
    """The dream's objective: the layers (a channel of the first, if given), or the guide's features there;
    and a user model's class, topic or word."""
    chosen = layers or list(network.spec.default_layers)
    ch = None if channel is None or channel < 0 else int(channel)
    addresses = [LayerAddress(layer, ch if i == 0 else None) for i, layer in enumerate(chosen)]
    g = load_upload(guide, limits, "guide image ").rgb if guide else None
    topic = _topic_number(target) if target else None
    class_value = target if target and topic is None else None
    objective, _ = build_objective(network, addresses if (layers or not (target or word)) else None, guide=g,
                                   class_value=class_value, topic=topic, word=word or None)
    return objective


def _dream_job(gr: Any, s: Services, network_for: Any, speed: dict[str, float]) -> Any:
    """The Dream button's job: the picture (or noise), the objective, the mask, then the dream with previews."""
    import time

    def dream_job(image: str | None, noise: bool, noise_size: str, model: str, layers: list[str],
                  channel: float | None, guide: str | None, octaves: float, steps: float, step_size: float,
                  seed: float, target: str | None, word: str | None, mask_path: str | None, invert_mask: bool,
                  lap_norm: float, max_side: float, painted: Any, session: str) -> Iterator[tuple[Any, Any, str]]:
        if int(steps) > s.limits.max_steps:
            raise InceptionismError(f"at most {s.limits.max_steps} steps per octave here")
        config = DreamConfig(steps=int(steps), step_size=float(step_size), octaves=int(octaves), seed=int(seed),
                             lap_norm=int(lap_norm or 0))
        if noise:
            w, h = parse_size(noise_size, "noise size")
            if w * h > s.limits.max_pixels:
                raise InceptionismError(f"noise of {w}x{h} is over the limit of {pixels_text(s.limits.max_pixels)}")
            start, source = noise_image(w, h, seed=config.seed), None
        else:
            if not image:
                raise InceptionismError("upload an image, click an example, or tick 'start from noise'")
            source = shrink(load_upload(image, s.limits), int(max_side or 0))
            start = source.rgb
        network = network_for(model)
        objective = _objective(network, layers, channel, guide, s.limits, target, word)
        mask = mask_tensor(load_upload(mask_path, s.limits, "mask "), invert=bool(invert_mask)) if mask_path else None
        drawn = painted_mask(painted) if mask is None and not noise else None
        if drawn is not None:
            mask = 1 - drawn if invert_mask else drawn
            if not (mask > 0).any():
                raise InceptionismError("the painted mask covers everything and is inverted: nothing would change")
        if mask is not None:
            fit_mask(mask, tuple(start.shape[-2:]), what="the mask")
        running, job, folder = s.start_job(session)
        total = config.octaves * config.steps
        began = time.perf_counter()

        def work(report: Any) -> Any:
            def callback(step: DreamStep) -> None:
                done = step.octave * step.steps + step.step
                if done % PREVIEW_EVERY == 0 or done == total:
                    report((done, preview(step.image, folder, job, done)))
                elif running.cancel.is_set():
                    raise Cancelled

            return dream(network, start, objective, config, callback=callback, mask=mask)

        def finished(result: Any) -> tuple[str, str, str]:
            h, w = start.shape[-2:]
            work_done = megapixel_steps(w, h, config.octaves, config.steps, config.octave_scale, network.min_size)
            if work_done > 0:
                speed[model] = (time.perf_counter() - began) / work_done
            out = folder / "dream.png"
            meta = {"command": "dream", "job": job, "version": __version__, "model": network.name,
                    "weights": network.weights, "layers": list(layers or network.spec.default_layers),
                    "channel": channel, "target": target or None, "word": word or None,
                    "guide": guide, "noise": noise_size if noise else None, "config": config.to_dict(),
                    "mask": "uploaded" if mask_path else ("painted" if mask is not None else None),
                    "invert_mask": bool(invert_mask) if mask is not None else None,
                    "max_side": int(max_side or 0) or None}
            save_image(result.image, out, alpha=source.alpha if source else None, metadata=meta)
            return str(out), str(out), f"done: {total} steps"

        yield from stream_job(gr, work, running, done=finished,
                              preview=lambda value: (value[1], gr.skip(), f"step {value[0]} of {total}"))

    return dream_job


def _dream_controls(gr: Any, s: Services, choices: dict[str, Any], network_for: Any) -> SimpleNamespace:
    """The tab's controls (input, model, target, settings, guide and mask) and its result column."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            image, noise, noise_size, max_side = start_picture(
                gr, s, "dream", label="Input image", height=320, noise_size="512x384",
                beside=lambda: gr.Number(label="Shrink the long side to (px; 0: as it is)", value=0, precision=0,
                                         minimum=0, elem_id="dream-max-side"))
            first = next((c for c in choices.values() if c.weights), choices[DEFAULT_MODEL])
            model = gr.Dropdown([(label if c.weights else model_label(label), label) for label, c in choices.items()],
                                value=first.label, label="Model", elem_id="dream-model")
            layers = gr.Dropdown(layer_choices(first.backbone),
                                 value=list(get_model_spec(first.backbone).default_layers),
                                 multiselect=True, label="Layers", elem_id="dream-layers")
            first_targets = target_choices(network_for(first.label)) if first.weights else []
            target = gr.Dropdown([""] + first_targets, value="", label="Class or topic (your model)",
                                 visible=bool(first_targets), elem_id="dream-target")
            word = gr.Textbox(label="Word (your captions model: amplify the topics it loads on)", value="",
                              visible=bool(first.weights) and _has_topics(network_for(first.label)),
                              elem_id="dream-word")
            with gr.Row():
                octaves = gr.Slider(1, 8, value=DreamConfig().octaves, step=1, label="Octaves", elem_id="dream-octaves")
                steps = gr.Slider(1, s.limits.max_steps, value=DreamConfig().steps, step=1, label="Steps per octave",
                                  elem_id="dream-steps")
            with gr.Row():
                step_size = gr.Slider(0.001, 0.05, value=DreamConfig().step_size, step=0.001, label="Step size")
                seed = gr.Number(label="Seed", value=0, precision=0)
                channel = gr.Number(label="Channel of the first layer (-1: all)", value=-1, precision=0)
            with gr.Accordion("Guide and mask", open=False):
                guide = upload(gr, s.limits, label="Guide image (optional)", elem_id="dream-guide")
                with gr.Row():
                    mask = upload(gr, s.limits, label="Mask (optional): white dreams, grey fades, black stays",
                                  elem_id="dream-mask")
                    with gr.Column():
                        invert_mask = gr.Checkbox(label="invert the mask", value=False, elem_id="dream-invert")
                        lap_norm = gr.Slider(0, 8, value=0, step=1, elem_id="dream-lap",
                                             label="Laplacian normalisation levels (0: off; 4: smoother, larger)")
                painted = gr.ImageEditor(type="numpy", sources=(), transforms=(), layers=False,
                                         brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=24),
                                         label="...or paint where to dream, over the input (no mask uploaded)",
                                         elem_id="dream-mask-draw")
        with gr.Column(scale=4, elem_classes=["result-column"]):
            with gr.Row():
                run = gr.Button("Dream", variant="primary", elem_id="dream-run")
                stop = gr.Button("Cancel", elem_id="dream-cancel")
            status = gr.Textbox(label="Progress", interactive=False, elem_id="dream-status")
            sizing = gr.Markdown("", elem_id="dream-estimate")
            output = gr.Image(label="Dream", type="numpy", interactive=False, elem_id="dream-output",
                              format="png", height=420)
            download = download_box(gr, "Download (PNG with its recipe)", "dream-download")
            cli = gr.Textbox(label="Equivalent command (copy it and run it where your pictures are)",
                             interactive=False, buttons=["copy"], elem_id="dream-cli")

    return SimpleNamespace(**{name: value for name, value in locals().items()
                              if name in ('image', 'noise', 'noise_size', 'max_side', 'model', 'layers', 'target', 'word', 'octaves', 'steps', 'step_size', 'seed', 'channel', 'guide', 'mask', 'invert_mask', 'lap_norm', 'painted', 'run', 'stop', 'status', 'sizing', 'output', 'download', 'cli')})


def _canvas(s: Services) -> Any:
    def canvas(path: str | None) -> Any:
        """The input becomes the canvas to paint a mask on (a file that is no picture does not)."""
        try:
            load_upload(path, s.limits) if path else None
        except InceptionismError:
            return None
        return {"background": path, "layers": [], "composite": path} if path else None

    return canvas


def _sizing(s: Services, speed: dict[str, float]) -> Any:
    def sizing_text(path: str | None, noise_on: bool, noise_wh: str, label: str, n_octaves: float, n_steps: float,
                    side: float) -> str:
        from PIL import Image

        try:
            if noise_on:
                w, h = parse_size(noise_wh, "noise size")
            elif path:
                with Image.open(path) as im:  # the header only: its size
                    w, h = im.size
            else:
                return ""
        except (InceptionismError, OSError, ValueError, Image.DecompressionBombError):
            return ""  # a file that is no picture: the upload's own check says so
        return estimate(w, h, n_octaves, n_steps, speed.get(label), 0 if noise_on else side)

    return sizing_text


def dream_tab(gr: Any, s: Services, dream_models: tuple[str, ...] = ()) -> None:
    choices = model_choices(dream_models)
    #: seconds per megapixel-step of each model on this server, from its last run (for the estimates)
    speed: dict[str, float] = {}

    def network_for(label: str) -> Any:
        choice = choices.get(label)
        if choice is None:
            raise InceptionismError(f"unknown model {label!r}")
        return network(choice.name, choice.weights, s.device)

    c = _dream_controls(gr, s, choices, network_for)
    canvas, sizing_text, dream_job = _canvas(s), _sizing(s, speed), _dream_job(gr, s, network_for, speed)

    def switch_model(label: str) -> tuple[Any, Any, Any]:
        choice = choices[label]
        spec = get_model_spec(choice.backbone)
        net = network_for(label) if choice.weights else None
        targets = target_choices(net) if net is not None else []
        return (gr.Dropdown(choices=layer_choices(spec.name), value=list(spec.default_layers)),
                gr.Dropdown(choices=[""] + targets, value="", visible=bool(targets)),
                gr.Textbox(value="", visible=net is not None and _has_topics(net)))

    c.model.change(switch_model, c.model, [c.layers, c.target, c.word])
    listen_for_trained(gr, s, choices, c.model)
    inputs = [c.image, c.noise, c.noise_size, c.model, c.layers, c.channel, c.guide, c.octaves, c.steps, c.step_size,
              c.seed, c.target, c.word, c.mask, c.invert_mask, c.lap_norm, c.max_side]

    c.image.change(canvas, c.image, c.painted, queue=False)
    sized = [c.image, c.noise, c.noise_size, c.model, c.octaves, c.steps, c.max_side]
    for component in (c.image, c.noise, c.model, c.octaves, c.steps, c.max_side):
        component.change(sizing_text, sized, c.sizing, queue=False, show_progress="hidden")
    event = action(gr, s, c.run, dream_job, [*inputs, c.painted], [c.output, c.download, c.status], status=2,
                   busy="Dreaming...")
    event.then(sizing_text, sized, c.sizing, queue=False, show_progress="hidden")
    s.cancel_button(c.stop, c.status, [event])
    s.results.append((event, c.download))
    # the equivalent command follows the settings as they change (it was stale until a button was pressed)
    for component in (*inputs, c.painted):
        component.change(functools.partial(command_line, choices=choices), [*inputs, c.painted], c.cli, queue=False,
                         show_progress="hidden")
    # a new dream's download box is empty until it is done (it offered the previous picture meanwhile)
    c.run.click(lambda: None, None, c.download, queue=False, show_progress="hidden")
