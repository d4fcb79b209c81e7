"""The Style tab: one content picture, and three tools under sub-tabs beside one result column: any painting
instantly (Magenta's arbitrary network), the network that ships (or ``--style-model``) with a mix slider per
style, and optimisation with one or two styles (previews, Cancel)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from inceptionism import __version__
from inceptionism.errors import InceptionismError
from inceptionism.io.images import save_image
from inceptionism.models import DEFAULT_MODEL
from inceptionism.web.app import (
    Cancelled, Services, action, examples, download_box, load_upload, network, preview, stream_job, upload,
)


def instant_model(s: Services, style_model: str | None) -> tuple[str | None, dict[str, Any] | None, list[str]]:
    """The network of built-in styles (``--style-model``, else the one that ships), its metadata, and its
    paintings as example files (None, None, [] when there is none)."""
    instant = style_model or _shipped()
    meta = _instant_meta(s, instant) if instant else None
    return instant, meta, _painting_examples(s, meta)


def style_tab(gr: Any, s: Services, style_model: str | None = None) -> None:
    """One content picture for three tools, each under its own sub-tab, and one result column beside them."""
    instant, meta, paintings = instant_model(s, style_model)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            content = upload(gr, s.limits, label="Content: your photo", elem_id="style-content", height=280)
            examples(gr, content, s.examples, "Examples: click one", "style-examples")
            with gr.Tabs():
                with gr.Tab("Any painting", elem_id="style-tab-any") as any_tab:
                    any_inputs = _any_painting_controls(gr, s, paintings)
                if meta is not None:
                    with gr.Tab("Built-in styles", elem_id="style-tab-instant") as instant_tab:
                        sliders = _instant_controls(gr, meta, instant)
                with gr.Tab("Your networks", elem_id="style-tab-trained") as trained_tab:
                    trained_inputs = _trained_controls(gr, s)
                with gr.Tab("Optimisation", elem_id="style-tab-optimise") as optimise_tab:
                    optimise_inputs = _optimise_controls(gr, s, paintings)
        with gr.Column(scale=4, elem_classes=["result-column"]):
            # the chosen sub-tab's button, beside its progress and its result (not under the controls)
            with gr.Row():
                any_run = gr.Button("Stylise with this painting", variant="primary", elem_id="any-run")
                instant_run = gr.Button("Stylise instantly", variant="primary", elem_id="instant-run",
                                        visible=False)
                trained_run = gr.Button("Stylise with your network", variant="primary", elem_id="trained-run",
                                        visible=False)
                style_run = gr.Button("Stylise by optimisation", variant="primary", elem_id="style-run",
                                      visible=False)
                stop = gr.Button("Cancel", elem_id="style-cancel")
            status = gr.Textbox(label="Progress", interactive=False, elem_id="style-status")
            result = gr.Image(label="Result", type="numpy", interactive=False, format="png", elem_id="style-output",
                              height=420)
            download = download_box(gr, "Download (PNG with its recipe)", "style-download")
    buttons = [any_run, instant_run, trained_run, style_run]
    tabs = [any_tab, instant_tab if meta is not None else None, trained_tab, optimise_tab]
    for n, tab in enumerate(tabs):
        if tab is not None:
            tab.select(lambda n=n: [gr.Button(visible=i == n) for i in range(len(buttons))], None, buttons,
                       queue=False, show_progress="hidden")
    outputs = [result, download, status]
    events = [action(gr, s, any_run, _any_painting_job(gr, s), [content, *any_inputs], outputs, status=2,
                     busy="Painting...")]
    if meta is not None:
        events.append(action(gr, s, instant_run, _instant_job(gr, s, meta, instant), [content, *sliders], outputs,
                             status=2, busy="Painting..."))
    events.append(action(gr, s, trained_run, _trained_job(gr, s), [content, *trained_inputs], outputs, status=2,
                         busy="Painting..."))
    events.append(action(gr, s, style_run, _optimise_job(gr, s), [content, *optimise_inputs], outputs, status=2,
                         busy="Optimising..."))
    s.cancel_button(stop, status, events)
    for event in events:
        s.results.append((event, download))


def _trained_controls(gr: Any, s: Services) -> list[Any]:
    """The style networks trained on this server (the Train tab), each of its styles by name."""
    models: dict[str, str] = {}  # shown name -> file

    def add(path: str) -> None:
        models[Path(path).name] = path

    def update() -> Any:
        names = list(models)
        return gr.Dropdown(choices=names, value=names[-1] if names else None)

    for path in s.trained.paths["style"]:
        add(path)
    gr.Markdown("A network you trained in the Train tab paints here as soon as it exists (even one you stopped: "
                "its last checkpoint). Choose the network, then one of its styles.")
    model = gr.Dropdown(list(models), value=next(reversed(models), None), label="Your network",
                        elem_id="trained-model")
    style = gr.Dropdown([], value=None, label="Style", elem_id="trained-style")

    def styles_of(name: str | None) -> Any:
        if not name or name not in models:
            return gr.Dropdown(choices=[], value=None)
        names = [st["name"] for st in trained_network(models[name], s.device)[1]["styles"]]
        return gr.Dropdown(choices=names, value=names[0])

    model.change(styles_of, model, style, queue=False)
    s.trained.listen("style", model, add, update)
    return [model, style]


def trained_network(path: str, device: str) -> tuple[Any, dict[str, Any]]:
    """The network in ``path`` (loaded again when the file has changed) and its metadata."""
    from inceptionism.style.instant import Kind, load_network
    from inceptionism.style.model_file import read_metadata

    return load_network(Kind.MODEL, path, device), read_metadata(path)


def _trained_job(gr: Any, s: Services) -> Any:
    from inceptionism.style.instant import choose

    def trained_job(content: str | None, name: str | None, style: str | None, session: str) -> tuple[str, str, str]:
        models = _trained_models(s)
        if not content:
            raise InceptionismError("upload a content image, or click an example")
        if not name or name not in models:
            raise InceptionismError("no network chosen: train one in the Train tab first")
        path = models[name]
        meta = trained_network(path, s.device)[1]
        names = [st["name"] for st in meta["styles"]]
        if style not in names:
            raise InceptionismError(f"choose one of {name}'s styles: {', '.join(names)}")
        image = load_upload(content, s.limits)
        mix = torch.nn.functional.one_hot(torch.tensor([names.index(style)]), len(names)).float()
        styled = choose(model=path, style=names.index(style), device=s.device).setup().stylize(image.rgb)
        job, folder = s.files.new_job()
        out = folder / "stylized.png"
        save_image(styled, out, alpha=image.alpha, metadata={
            "command": "stylize", "version": __version__, "model": name, "styles": names, "mix": mix[0].tolist(),
            "job": job})
        return str(out), str(out), f"done: {style}, by your network {name} (step {meta['training'].get('step')})"

    return trained_job


def _trained_models(s: Services) -> dict[str, str]:
    return {Path(p).name: p for p in s.trained.paths["style"]}


def _optimise_controls(gr: Any, s: Services, paintings: list[str]) -> list[Any]:
    gr.Markdown("Any painting, by optimising the picture itself: slower (seconds to minutes), two styles blended.")
    with gr.Row():
        style_a = upload(gr, s.limits, label="Style", elem_id="style-a", height=200)
        style_b = upload(gr, s.limits, label="Second style (optional)", elem_id="style-b", height=200)
    if paintings:
        examples(gr, style_a, paintings, "Styles: click one", "style-a-examples")
    blend = gr.Slider(0, 1, value=0.5, label="Share of the second style", elem_id="style-blend")
    style_weight = gr.Slider(0.1, 5, value=1.0, label="Style weight")
    with gr.Row():
        size = gr.Slider(64, 1024, value=384, step=32, label="Size (long side)", elem_id="style-size")
        steps = gr.Slider(10, s.limits.max_steps, value=150, step=10, label="Steps per scale", elem_id="style-steps")
    return [style_a, style_b, blend, style_weight, size, steps]


def _optimise_job(gr: Any, s: Services) -> Any:
    def style_job(content: str | None, style_a: str | None, style_b: str | None, blend: float, style_weight: float,
                  size: float, steps: float, session: str) -> Iterator[tuple[Any, Any, str]]:
        from inceptionism.style import StyleConfig, stylize_optimize

        if not content or not style_a:
            raise InceptionismError("upload a content image (or click an example) and at least one style image")
        c = load_upload(content, s.limits).rgb
        styles = [load_upload(style_a, s.limits).rgb]
        weights = [1.0]
        if style_b:
            styles.append(load_upload(style_b, s.limits).rgb)
            weights = [1.0 - float(blend), float(blend)]
        config = StyleConfig(size=int(size), steps=min(int(steps), s.limits.max_steps), style_weight=float(style_weight))
        net = network(DEFAULT_MODEL, None, s.device)
        running, job, folder = s.start_job(session)

        def work(report: Any) -> Any:
            def callback(step: Any) -> None:
                if step.step % 10 == 0:
                    report((step, preview(step.image, folder, job, step.scale * step.steps + step.step)))
                elif running.cancel.is_set():
                    raise Cancelled

            return stylize_optimize(net, c, styles, config, style_weights=weights, callback=callback)

        def finished(result: Any) -> tuple[str, str, str]:
            out = folder / "style.png"
            save_image(result.image, out, metadata={"command": "style", "version": __version__, "job": job,
                                                    "config": config.to_dict(), "style_weights": weights})
            return str(out), str(out), f"done: {config.steps} steps per scale"

        yield from stream_job(gr, work, running, done=finished, preview=lambda value: (
            value[1], gr.skip(), f"scale {value[0].scale + 1}/{value[0].scales}, step {value[0].step}/{value[0].steps}"))

    return style_job


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


def _instant_meta(s: Services, model_path: str) -> dict[str, Any]:
    from inceptionism.style.model_file import read_metadata

    return read_metadata(model_path)


def _painting_examples(s: Services, meta: dict[str, Any] | None) -> list[str]:
    """The paintings that ship (:mod:`inceptionism.examples`) at their full size, as files the page may serve, for
    the painting uploads' Examples (the built-in styles' 64 px thumbnails painted soft, strokeless pictures)."""
    import shutil

    from inceptionism.examples import PAINTINGS, painting

    folder = s.files.root / "paintings"
    folder.mkdir(exist_ok=True)
    paths = []
    for name in PAINTINGS:
        path = folder / Path(painting(name)).name
        if not path.exists():
            shutil.copyfile(painting(name), path)
        paths.append(str(path))
    return paths


def _instant_controls(gr: Any, meta: dict[str, Any], model_path: str) -> list[Any]:
    names = [st["name"] for st in meta["styles"]]
    gr.Markdown(f"One network, {len(names)} styles (`{Path(model_path).name}`), in a blink. Click a painting to "
                "use it alone, or move the sliders to mix the styles inside the network.")
    sliders = []
    for i, style in enumerate(meta["styles"]):
        with gr.Row(equal_height=True):
            thumb = gr.Image(_thumbnail(style), label=style["name"], interactive=False, height=72, width=72,
                             buttons=[], container=False, elem_id=f"instant-thumb-{i}")
            sliders.append(gr.Slider(0, 1, value=1.0 if i == 0 else 0.0, label=style["name"],
                                     elem_id=f"instant-mix-{i}"))
        thumb.select(lambda i=i: [gr.Slider(value=1.0 if j == i else 0.0) for j in range(len(names))], None, sliders,
                     queue=False)
    return sliders


def _instant_job(gr: Any, s: Services, meta: dict[str, Any], model_path: str) -> Any:
    from inceptionism.style.instant import choose

    names = [st["name"] for st in meta["styles"]]

    def instant_job(path: str | None, *args: Any) -> tuple[str, str, str]:
        weights = args[:-1]
        if not path:
            raise InceptionismError("upload a content image, or click an example")
        if sum(weights) <= 0:
            raise InceptionismError("give at least one style a weight above 0")
        image = load_upload(path, s.limits)
        mix = torch.tensor([weights], dtype=torch.float32) / sum(weights)
        styled = choose(model=model_path, mix=[float(w) for w in weights], device=s.device).setup().stylize(image.rgb)
        job, folder = s.files.new_job()
        out = folder / "stylized.png"
        save_image(styled, out, alpha=image.alpha, metadata={
            "command": "stylize", "version": __version__, "model": Path(model_path).name, "styles": names,
            "mix": mix[0].tolist(), "job": job})
        return str(out), str(out), "done: " + ", ".join(f"{n} {w:.2f}" for n, w in zip(names, mix[0].tolist()) if w)

    return instant_job


def _any_painting_controls(gr: Any, s: Services, paintings: list[str]) -> list[Any]:
    gr.Markdown("Upload a painting (or any picture): Magenta's arbitrary-stylisation network paints the photo in "
                "its style at full size. Strength 0 keeps the photo's own style.")
    painting = upload(gr, s.limits, label="Painting", elem_id="any-painting", height=200)
    if paintings:
        examples(gr, painting, paintings, "Paintings: click one", "any-examples")
    strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength", elem_id="any-strength")
    return [painting, strength]


def _any_painting_job(gr: Any, s: Services) -> Any:
    """Instant stylisation with any uploaded painting: Magenta's arbitrary network (`stylize --style`)."""
    from inceptionism.configs import StylizeConfig
    from inceptionism.style.instant import choose

    def any_painting_job(content_path: str | None, painting_path: str | None, amount: float,
                         session: str) -> tuple[str, str, str]:
        if not content_path or not painting_path:
            raise InceptionismError("upload a content image (or click an example) and a painting")
        image, style = load_upload(content_path, s.limits), load_upload(painting_path, s.limits)
        painter = choose(painting=style, config=StylizeConfig(strength=float(amount)), device=s.device)
        precision = painter.config.precision
        styled = painter.setup().stylize(image.rgb)
        job, folder = s.files.new_job()
        out = folder / "stylized.png"
        save_image(styled, out, alpha=image.alpha, metadata={
            "command": "stylize", "version": __version__, "network": "magenta arbitrary",
            "style_sha256": [hashlib.sha256(Path(painting_path).read_bytes()).hexdigest()],
            "strength": float(amount), "stroke_scale": "auto", "precision": precision, "job": job})
        return str(out), str(out), f"done: painted at strength {float(amount):g}"

    return any_painting_job
