"""The browser UI (Gradio), built on the public Python API only.

``inceptionism web`` serves it. Dream tab: upload an image or start from noise,
pick the model and its layers from the model's own list, channel, guide, octaves,
steps, step size, seed; watch previews while it runs, cancel, download the PNG
with its recipe, and see the equivalent command line. Style tab: optimisation
with one or two styles, and instant stylisation with a ``train-style`` model.

Safety on a shared machine: uploads are capped in bytes (Gradio) and pixels (our
loader), one queue runs one job at a time, and the server binds to 127.0.0.1
unless told otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import shlex
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from inceptionism import __version__
from inceptionism.dream import DreamConfig, DreamStep, dream, noise_image
from inceptionism.dream.loop import fit_mask
from inceptionism.errors import InceptionismError
from inceptionism.io.images import load_image, mask_tensor, save_image
from inceptionism.models import DEFAULT_MODEL, get_model, get_model_spec, list_models
from inceptionism.objectives import LayerAddress, Objective, build_objective
from inceptionism.parsing import parse_size

PREVIEW_EVERY = 2  # steps between two live previews


@dataclass(frozen=True)
class WebLimits:
    max_upload_bytes: int = 20 * 2**20
    max_pixels: int = 4096 * 4096
    max_steps: int = 200
    queue_size: int = 16


class Cancelled(Exception):
    """Raised from a dream's callback when the user pressed Cancel."""


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


@functools.lru_cache(maxsize=2)
def _network(name: str | None, weights: str | None, device: str) -> Any:
    return get_model(name, weights=weights, device=device, progress=False)


def target_choices(network: Any) -> list[str]:
    """What a user model can dream toward: its class names, or its topics (with their top words)."""
    collection = getattr(network, "collection", None)
    return list(collection.names) if collection is not None else []


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class JobFiles:
    """The files a server hands out: one folder per job under one root, older ones pruned.

    Every image the page shows or offers is a file written here, atomically, and
    unique (its metadata names its job): Gradio then copies it into its cache
    under a name of its own content, with a rename. Handing Gradio arrays instead
    makes it rewrite a same-content cache file in place, which a download of an
    identical earlier result can catch half-written (seen under load: "Too
    little data for declared Content-Length").
    """

    def __init__(self, keep_s: float = 3600.0):
        self.root = Path(tempfile.mkdtemp(prefix="inceptionism-web-"))
        self.keep_s = keep_s

    def new_job(self) -> tuple[str, Path]:
        import shutil
        import time

        now = time.time()
        for old in self.root.iterdir():
            try:
                if now - old.stat().st_mtime > self.keep_s:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
        job = uuid.uuid4().hex
        folder = self.root / job
        folder.mkdir()
        return job, folder


def upload(gr: Any, **kwargs: Any) -> Any:
    """An image upload whose file reaches our loader undecoded.

    Gradio's Image component opens every upload with PIL before the handler runs,
    so a file that is not an image, or a decompression bomb, fails there with
    Gradio's own message; ours (:func:`load_upload`) applies the byte and pixel
    caps and says what is wrong in one line.
    """
    component = gr.Image(type="filepath", sources=["upload"], **kwargs)

    def preprocess(payload: Any) -> str | None:
        return None if payload is None or payload.path is None else str(payload.path)

    component.preprocess = preprocess
    return component


def load_upload(path: str, limits: "WebLimits", what: str = "") -> Any:
    """An uploaded image through our loader; its error message names the file, not the server's temporary path."""
    try:
        return load_image(path, max_pixels=limits.max_pixels)
    except InceptionismError as exc:
        text = str(exc).replace(path, Path(path).name)
        raise InceptionismError(f"{what}{text}") from None


PREVIEW_SIDE = 512  # previews are shown, not kept: no need to send more pixels than a page shows


def _preview(image: torch.Tensor, folder: Path, job: str, step: int) -> str:
    """A small PNG of ``image`` for the page (unique to its job and step)."""
    h, w = image.shape[-2:]
    scale = min(1.0, PREVIEW_SIDE / max(h, w))
    if scale < 1.0:
        image = torch.nn.functional.interpolate(image.float(), size=(max(1, round(h * scale)), max(1, round(w * scale))),
                                                mode="area")
    path = folder / f"preview-{step:06d}.png"
    save_image(image, path, metadata={"job": job, "step": step})
    return str(path)


def layer_choices(model: str) -> list[str]:
    """The model's own layers, its aliases first (friendlier names); ``model`` is a registry name."""
    spec = get_model_spec(model)
    return list(dict.fromkeys([*spec.aliases, *spec.layers]))


def command_line(image: str | None, noise: bool, noise_size: str, model: str, layers: list[str], channel: float | None,
                 guide: str | None, octaves: float, steps: float, step_size: float, seed: float,
                 target: str | None = None, word: str | None = None, mask: str | None = None, invert_mask: bool = False,
                 lap_norm: float = 0, *, choices: dict[str, ModelChoice] | None = None) -> str:
    """The ``inceptionism dream`` command that the current settings describe."""
    args = ["inceptionism", "dream"]
    args += ["--noise", noise_size] if noise else [image or "INPUT.png"]
    args += ["-o", "dream.png"]
    choice = (choices or {}).get(model)
    if choice is not None and choice.weights:
        args += ["--weights", choice.weights]
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
        args += ["--guide", guide]
    if mask:
        args += ["--mask", mask] + (["--invert-mask"] if invert_mask else [])
    if lap_norm and int(lap_norm) > 0:
        args += ["--lap-norm", str(int(lap_norm))]
    d = DreamConfig()
    for flag, value, default in (("--octaves", int(octaves), d.octaves), ("--steps", int(steps), d.steps),
                                 ("--step-size", float(step_size), d.step_size), ("--seed", int(seed), d.seed)):
        if value != default:
            args += [flag, str(value)]
    return shlex.join(args)


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


@dataclass(frozen=True)
class _Running:
    """A browser tab's running job: ``cancel`` asks it to stop, ``stopped`` says its work thread has ended."""

    cancel: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)


def _run_in_thread(work: Any, running: _Running) -> Iterator[tuple[str, Any]]:
    """Run ``work(report)`` in a thread; yield ("preview", x) while it reports, then ("done", result)."""
    cancel = running.cancel
    messages: queue.Queue[tuple[str, Any]] = queue.Queue()

    def report(item: Any) -> None:
        if cancel.is_set():
            raise Cancelled
        messages.put(("preview", item))

    def target() -> None:
        try:
            messages.put(("done", work(report)))
        except Cancelled:
            messages.put(("cancelled", None))
        except InceptionismError as exc:
            messages.put(("error", str(exc)))
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of killing the worker
            messages.put(("error", f"{type(exc).__name__}: {exc}"))
        finally:
            running.stopped.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = messages.get()
            yield kind, value
            if kind != "preview":
                return
    finally:
        cancel.set()  # the page went away or Cancel was pressed: stop the work at its next step
        thread.join(timeout=60)


def build_app(*, style_model: str | None = None, dream_models: tuple[str, ...] = (),
              limits: WebLimits = WebLimits()) -> Any:
    # A local tool does not report usage anywhere (and must not wait on a network it lacks).
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    device = _device()
    cancel_flags: dict[str, _Running] = {}
    choices = model_choices(tuple(dream_models))
    files = JobFiles()

    def network_for(label: str) -> Any:
        choice = choices.get(label)
        if choice is None:
            raise InceptionismError(f"unknown model {label!r}")
        return _network(choice.name, choice.weights, device)

    def dream_job(image: str | None, noise: bool, noise_size: str, model: str, layers: list[str],
                  channel: float | None, guide: str | None, octaves: float, steps: float, step_size: float,
                  seed: float, target: str | None, word: str | None, mask_path: str | None, invert_mask: bool,
                  lap_norm: float, painted: Any, session: str) -> Iterator[tuple[Any, Any, str]]:
        if int(steps) > limits.max_steps:
            raise gr.Error(f"at most {limits.max_steps} steps per octave here")
        try:
            config = DreamConfig(steps=int(steps), step_size=float(step_size), octaves=int(octaves), seed=int(seed),
                                 lap_norm=int(lap_norm or 0))
            if noise:
                w, h = parse_size(noise_size, "noise size")
                if w * h > limits.max_pixels:
                    raise gr.Error(f"noise of {w}x{h} is over the limit of {limits.max_pixels} pixels")
                start, source = noise_image(w, h, seed=config.seed), None
            else:
                if not image:
                    raise gr.Error("upload an image, or tick 'start from noise'")
                loaded = load_upload(image, limits)
                start, source = loaded.rgb, loaded
            network = network_for(model)
            objective = _objective(network, layers, channel, guide, limits, target, word)
            mask = mask_tensor(load_upload(mask_path, limits, "mask "), invert=bool(invert_mask)) if mask_path else None
            drawn = painted_mask(painted) if mask is None and not noise else None
            if drawn is not None:
                mask = 1 - drawn if invert_mask else drawn
                if not (mask > 0).any():
                    raise InceptionismError("the painted mask covers everything and is inverted: nothing would change")
            if mask is not None:
                fit_mask(mask, tuple(start.shape[-2:]), what="the mask")
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        running = _Running()
        cancel_flags[session] = running
        job, folder = files.new_job()
        total = config.octaves * config.steps

        def work(report: Any) -> Any:
            def callback(step: DreamStep) -> None:
                done = step.octave * step.steps + step.step
                if done % PREVIEW_EVERY == 0 or done == total:
                    report((done, _preview(step.image, folder, job, done)))
                elif running.cancel.is_set():
                    raise Cancelled

            return dream(network, start, objective, config, callback=callback, mask=mask)

        for kind, value in _run_in_thread(work, running):
            if kind == "preview":
                done, preview = value
                yield preview, None, f"step {done} of {total}"
            elif kind == "done":
                out = folder / "dream.png"
                meta = {"command": "dream", "job": job, "version": __version__, "model": network.name, "weights": network.weights,
                        "layers": list(layers or network.spec.default_layers), "channel": channel,
                        "target": target or None, "word": word or None,
                        "guide": guide, "noise": noise_size if noise else None, "config": config.to_dict(),
                        "mask": "uploaded" if mask_path else ("painted" if mask is not None else None),
                        "invert_mask": bool(invert_mask) if mask is not None else None}
                save_image(value.image, out, alpha=source.alpha if source else None, metadata=meta)
                yield str(out), str(out), f"done: {total} steps"
            elif kind == "cancelled":
                yield gr.skip(), None, "cancelled"
            else:
                raise gr.Error(value)

    def cancel_job(session: str) -> str:
        running = cancel_flags.pop(session, None)
        if running is None:  # nothing had started: Gradio takes a queued job out of the queue itself
            return "cancelled"
        running.cancel.set()
        # the work stops at its next step; say so once it has (Gradio may end the job's own stream first)
        return "cancelled" if running.stopped.wait(timeout=30) else "cancelling..."

    def style_job(content: str | None, style_a: str | None, style_b: str | None, blend: float, style_weight: float,
                  size: float, steps: float, session: str) -> Iterator[tuple[Any, Any, str]]:
        from inceptionism.style import StyleConfig, stylize_optimize

        if not content or not style_a:
            raise gr.Error("upload a content image and at least one style image")
        try:
            c = load_upload(content, limits).rgb
            styles = [load_upload(style_a, limits).rgb]
            weights = [1.0]
            if style_b:
                styles.append(load_upload(style_b, limits).rgb)
                weights = [1.0 - float(blend), float(blend)]
            config = StyleConfig(size=int(size), steps=min(int(steps), limits.max_steps), style_weight=float(style_weight))
            network = _network(DEFAULT_MODEL, None, device)
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        running = _Running()
        cancel_flags[session] = running
        job, folder = files.new_job()

        def work(report: Any) -> Any:
            def callback(step: Any) -> None:
                if step.step % 10 == 0:
                    report((step, _preview(step.image, folder, job, step.scale * step.steps + step.step)))
                elif running.cancel.is_set():
                    raise Cancelled

            return stylize_optimize(network, c, styles, config, style_weights=weights, callback=callback)

        for kind, value in _run_in_thread(work, running):
            if kind == "preview":
                step, preview = value
                yield preview, None, f"scale {step.scale + 1}/{step.scales}, step {step.step}/{step.steps}"
            elif kind == "done":
                out = folder / "style.png"
                save_image(value.image, out, metadata={"command": "style", "version": __version__, "job": job,
                                                       "config": config.to_dict(), "style_weights": weights})
                yield str(out), str(out), f"done: {config.steps} steps per scale"
            elif kind == "cancelled":
                yield gr.skip(), None, "cancelled"
            else:
                raise gr.Error(value)

    with gr.Blocks(title="inceptionism", analytics_enabled=False) as app:
        session = gr.State(lambda: uuid.uuid4().hex)  # one per browser tab: whose job Cancel stops
        gr.Markdown("# inceptionism\nDeepDream and neural style transfer, running on this machine.")
        with gr.Tab("Dream"):
            with gr.Row():
                with gr.Column():
                    image = upload(gr, label="Input image", elem_id="dream-input")
                    with gr.Row():
                        noise = gr.Checkbox(label="start from noise", value=False, elem_id="dream-noise")
                        noise_size = gr.Textbox(label="noise size (WxH)", value="512x384")
                    first = next((c for c in choices.values() if c.weights), choices[DEFAULT_MODEL])
                    model = gr.Dropdown(list(choices), value=first.label, label="Model", elem_id="dream-model")
                    layers = gr.Dropdown(layer_choices(first.backbone),
                                         value=list(get_model_spec(first.backbone).default_layers),
                                         multiselect=True, label="Layers", elem_id="dream-layers")
                    first_targets = target_choices(network_for(first.label)) if first.weights else []
                    target = gr.Dropdown([""] + first_targets, value="", label="Class or topic (your model)",
                                         visible=bool(first_targets), elem_id="dream-target")
                    word = gr.Textbox(label="Word (your captions model: amplify the topics it loads on)", value="",
                                      visible=bool(first.weights) and _has_topics(network_for(first.label)),
                                      elem_id="dream-word")
                    channel = gr.Number(label="Channel of the first layer (-1: all)", value=-1, precision=0)
                    guide = upload(gr, label="Guide image (optional)")
                    with gr.Row():
                        mask = upload(gr, label="Mask (optional): white dreams, grey fades, black stays",
                                      elem_id="dream-mask")
                        with gr.Column():
                            invert_mask = gr.Checkbox(label="invert the mask", value=False, elem_id="dream-invert")
                            lap_norm = gr.Slider(0, 8, value=0, step=1, elem_id="dream-lap",
                                                 label="Laplacian normalisation levels (0: off; 4: smoother, larger)")
                    painted = gr.ImageEditor(type="numpy", sources=(), transforms=(), layers=False,
                                             brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=24),
                                             label="...or paint where to dream, over the input (no mask uploaded)",
                                             elem_id="dream-mask-draw")
                    with gr.Row():
                        octaves = gr.Slider(1, 8, value=DreamConfig().octaves, step=1, label="Octaves", elem_id="dream-octaves")
                        steps = gr.Slider(1, limits.max_steps, value=DreamConfig().steps, step=1, label="Steps per octave",
                                          elem_id="dream-steps")
                    with gr.Row():
                        step_size = gr.Slider(0.001, 0.05, value=DreamConfig().step_size, step=0.001, label="Step size")
                        seed = gr.Number(label="Seed", value=0, precision=0)
                    with gr.Row():
                        run = gr.Button("Dream", variant="primary", elem_id="dream-run")
                        stop = gr.Button("Cancel", elem_id="dream-cancel")
                        show_cli = gr.Button("Command line", elem_id="dream-cli-button")
                with gr.Column():
                    output = gr.Image(label="Dream", type="numpy", interactive=False, elem_id="dream-output",
                                      format="png")
                    status = gr.Textbox(label="Progress", interactive=False, elem_id="dream-status")
                    download = gr.File(label="Download (PNG with its recipe)", elem_id="dream-download")
                    cli = gr.Textbox(label="Equivalent command", interactive=False, elem_id="dream-cli")
            def switch_model(label: str) -> tuple[Any, Any, Any]:
                choice = choices[label]
                spec = get_model_spec(choice.backbone)
                net = network_for(label) if choice.weights else None
                targets = target_choices(net) if net is not None else []
                return (gr.Dropdown(choices=layer_choices(spec.name), value=list(spec.default_layers)),
                        gr.Dropdown(choices=[""] + targets, value="", visible=bool(targets)),
                        gr.Textbox(value="", visible=net is not None and _has_topics(net)))

            model.change(switch_model, model, [layers, target, word])
            inputs = [image, noise, noise_size, model, layers, channel, guide, octaves, steps, step_size, seed,
                      target, word, mask, invert_mask, lap_norm]
            def canvas(path: str | None) -> Any:
                """The input becomes the canvas to paint a mask on (a file that is no picture does not)."""
                try:
                    load_upload(path, limits) if path else None
                except InceptionismError:
                    return None
                return {"background": path, "layers": [], "composite": path} if path else None

            image.change(canvas, image, painted, queue=False)
            event = run.click(dream_job, [*inputs, painted, session], [output, download, status], concurrency_limit=1,
                              concurrency_id="work")
            stop.click(cancel_job, session, status, cancels=[event], queue=False)
            show_cli.click(functools.partial(command_line, choices=choices), inputs, cli, queue=False)
        with gr.Tab("Style"):
            gr.Markdown("Optimisation (Gatys et al.): any painting, a few seconds to minutes.")
            with gr.Row():
                with gr.Column():
                    content = upload(gr, label="Content", elem_id="style-content")
                    style_a = upload(gr, label="Style", elem_id="style-a")
                    style_b = upload(gr, label="Second style (optional)", elem_id="style-b")
                    blend = gr.Slider(0, 1, value=0.5, label="Share of the second style", elem_id="style-blend")
                    style_weight = gr.Slider(0.1, 5, value=1.0, label="Style weight")
                    size = gr.Slider(64, 1024, value=384, step=32, label="Size (long side)", elem_id="style-size")
                    style_steps = gr.Slider(10, limits.max_steps, value=150, step=10, label="Steps per scale",
                                            elem_id="style-steps")
                    with gr.Row():
                        style_run = gr.Button("Stylise", variant="primary", elem_id="style-run")
                        style_stop = gr.Button("Cancel", elem_id="style-cancel")
                with gr.Column():
                    style_out = gr.Image(label="Result", type="numpy", interactive=False, format="png",
                                         elem_id="style-output")
                    style_status = gr.Textbox(label="Progress", interactive=False, elem_id="style-status")
                    style_file = gr.File(label="Download (PNG with its recipe)", elem_id="style-download")
            style_event = style_run.click(style_job, [content, style_a, style_b, blend, style_weight, size, style_steps,
                                                      session], [style_out, style_file, style_status],
                                          concurrency_limit=1, concurrency_id="work")
            style_stop.click(cancel_job, session, style_status, cancels=[style_event], queue=False)
            _any_painting(gr, device, limits, files)
            instant = style_model or _shipped()
            if instant:
                _instant_style(gr, instant, device, limits, files)
    app.queue(default_concurrency_limit=1, max_size=limits.queue_size)
    return app


def _shipped() -> str | None:
    from inceptionism.errors import ModelError
    from inceptionism.style.shipped import shipped_model_path

    try:
        return str(shipped_model_path())
    except ModelError:
        return None


def _thumbnail(style: dict[str, Any]) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(style["thumbnail"]))) as im:
        return np.asarray(im.convert("RGB"))


def _instant_style(gr: Any, model_path: str, device: str, limits: WebLimits, files: JobFiles) -> None:
    from inceptionism.precision import autocast_dtype
    from inceptionism.style.model_file import load_model, stylize_image

    net, meta = load_model(model_path, device)
    names = [s["name"] for s in meta["styles"]]
    gr.Markdown(f"### Instant stylisation: one network, {len(names)} styles (`{Path(model_path).name}`)\n"
                "Move the sliders to mix the styles inside the network.")
    with gr.Row():
        with gr.Column():
            photo = upload(gr, label="Content", elem_id="instant-content")
            sliders = []
            for i, style in enumerate(meta["styles"]):
                with gr.Row():
                    gr.Image(_thumbnail(style), label=style["name"], interactive=False, height=72, width=72,
                             buttons=[], container=False, elem_id=f"instant-thumb-{i}")
                    sliders.append(gr.Slider(0, 1, value=1.0 if i == 0 else 0.0, label=style["name"],
                                             elem_id=f"instant-mix-{i}"))
            go = gr.Button("Stylise instantly", variant="primary", elem_id="instant-run")
        with gr.Column():
            result = gr.Image(label="Result", type="numpy", interactive=False, format="png", elem_id="instant-output")
            download = gr.File(label="Download (PNG with its recipe)", elem_id="instant-download")

    def run(path: str | None, *weights: float) -> tuple[str, str]:
        if not path:
            raise gr.Error("upload a content image")
        if sum(weights) <= 0:
            raise gr.Error("give at least one style a weight above 0")
        try:
            image = load_upload(path, limits)
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        mix = torch.tensor([weights], dtype=torch.float32) / sum(weights)
        styled = stylize_image(net, image.rgb, mix, autocast=autocast_dtype("auto", device))
        job, folder = files.new_job()
        out = folder / "stylized.png"
        save_image(styled, out, alpha=image.alpha, metadata={
            "command": "stylize", "version": __version__, "model": Path(model_path).name, "styles": names,
            "mix": mix[0].tolist(), "job": job})
        return str(out), str(out)

    go.click(run, [photo, *sliders], [result, download], concurrency_limit=1, concurrency_id="work")


def _any_painting(gr: Any, device: str, limits: WebLimits, files: JobFiles) -> None:
    """Instant stylisation with any uploaded painting: Magenta's arbitrary network (`stylize --style`)."""
    from inceptionism.jobs import ARBITRARY, StylizeJob
    from inceptionism.precision import resolve_precision
    from inceptionism.style import magenta

    gr.Markdown("### Any painting, instantly\nUpload a painting (or any picture): Magenta's arbitrary-stylisation "
                "network paints the photo in its style at full size. Strength 0 keeps the photo's own style.")
    with gr.Row():
        with gr.Column():
            with gr.Row():
                photo = upload(gr, label="Content", elem_id="any-content")
                painting = upload(gr, label="Painting", elem_id="any-painting")
            strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength", elem_id="any-strength")
            go = gr.Button("Stylise with this painting", variant="primary", elem_id="any-run")
        with gr.Column():
            result = gr.Image(label="Result", type="numpy", interactive=False, format="png", elem_id="any-output")
            download = gr.File(label="Download (PNG with its recipe)", elem_id="any-download")

    def run(content_path: str | None, painting_path: str | None, amount: float) -> tuple[str, str]:
        if not content_path or not painting_path:
            raise gr.Error("upload a content image and a painting")
        try:
            image, style = load_upload(content_path, limits), load_upload(painting_path, limits)
            magenta.check_paintings([style.rgb], ["the painting"])
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        net = magenta.load_arbitrary(device)
        embedding = magenta.embed_styles(net, [style.rgb])[0].tolist()
        precision = resolve_precision("auto", device)
        runner = StylizeJob(model=ARBITRARY, mix=tuple(embedding), device=device, precision=precision,
                            stroke_scale="auto", strength=float(amount)).setup()
        styled = runner.stylize(image.rgb)
        job, folder = files.new_job()
        out = folder / "stylized.png"
        save_image(styled, out, alpha=image.alpha, metadata={
            "command": "stylize", "version": __version__, "network": "magenta arbitrary",
            "style_sha256": [hashlib.sha256(Path(painting_path).read_bytes()).hexdigest()],
            "strength": float(amount), "stroke_scale": "auto", "precision": precision, "job": job})
        return str(out), str(out)

    go.click(run, [photo, painting, strength], [result, download], concurrency_limit=1, concurrency_id="work")


def serve(host: str = "127.0.0.1", port: int = 7860, *, style_model: str | None = None,
          dream_models: tuple[str, ...] = (), limits: WebLimits = WebLimits(), block: bool = True,
          auth: list[tuple[str, str]] | None = None) -> Any:
    """Start the app; ``auth``: (user, password) pairs that must log in (Gradio's login page)."""
    app = build_app(style_model=style_model, dream_models=dream_models, limits=limits)
    app.launch(server_name=host, server_port=port, max_file_size=limits.max_upload_bytes, prevent_thread_lock=not block,
               show_error=True, quiet=True, auth=auth, auth_message="inceptionism: log in to dream here")
    return app
