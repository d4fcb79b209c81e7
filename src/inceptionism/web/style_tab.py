"""The Style tab: optimisation with one or two styles (previews, Cancel, download), any painting instantly
(Magenta's arbitrary network), and the network that ships (or ``--style-model``) with a mix slider per style."""

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
from inceptionism.web.app import Cancelled, Running, Services, load_upload, network, preview, run_in_thread, upload


def style_tab(gr: Any, s: Services, style_model: str | None = None) -> None:
    def style_job(content: str | None, style_a: str | None, style_b: str | None, blend: float, style_weight: float,
                  size: float, steps: float, session: str) -> Iterator[tuple[Any, Any, str]]:
        from inceptionism.style import StyleConfig, stylize_optimize

        if not content or not style_a:
            raise gr.Error("upload a content image and at least one style image")
        try:
            c = load_upload(content, s.limits).rgb
            styles = [load_upload(style_a, s.limits).rgb]
            weights = [1.0]
            if style_b:
                styles.append(load_upload(style_b, s.limits).rgb)
                weights = [1.0 - float(blend), float(blend)]
            config = StyleConfig(size=int(size), steps=min(int(steps), s.limits.max_steps), style_weight=float(style_weight))
            net = network(DEFAULT_MODEL, None, s.device)
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        running = Running()
        s.cancel_flags[session] = running
        job, folder = s.files.new_job()

        def work(report: Any) -> Any:
            def callback(step: Any) -> None:
                if step.step % 10 == 0:
                    report((step, preview(step.image, folder, job, step.scale * step.steps + step.step)))
                elif running.cancel.is_set():
                    raise Cancelled

            return stylize_optimize(net, c, styles, config, style_weights=weights, callback=callback)

        for kind, value in run_in_thread(work, running):
            if kind == "preview":
                step, shown = value
                yield shown, None, f"scale {step.scale + 1}/{step.scales}, step {step.step}/{step.steps}"
            elif kind == "done":
                out = folder / "style.png"
                save_image(value.image, out, metadata={"command": "style", "version": __version__, "job": job,
                                                       "config": config.to_dict(), "style_weights": weights})
                yield str(out), str(out), f"done: {config.steps} steps per scale"
            elif kind == "cancelled":
                yield gr.skip(), None, "cancelled"
            else:
                raise gr.Error(value)

    gr.Markdown("Optimisation (Gatys et al.): any painting, a few seconds to minutes.")
    with gr.Row():
        with gr.Column():
            content = upload(gr, label="Content", elem_id="style-content")
            gr.Examples([[p] for p in s.examples], [content], label="Examples: click one", elem_id="style-examples")
            style_a = upload(gr, label="Style", elem_id="style-a")
            style_b = upload(gr, label="Second style (optional)", elem_id="style-b")
            blend = gr.Slider(0, 1, value=0.5, label="Share of the second style", elem_id="style-blend")
            style_weight = gr.Slider(0.1, 5, value=1.0, label="Style weight")
            size = gr.Slider(64, 1024, value=384, step=32, label="Size (long side)", elem_id="style-size")
            style_steps = gr.Slider(10, s.limits.max_steps, value=150, step=10, label="Steps per scale",
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
                                              s.session], [style_out, style_file, style_status],
                                  concurrency_limit=1, concurrency_id="work")
    style_stop.click(s.cancel_job, s.session, style_status, cancels=[style_event], queue=False)
    s.results.append((style_event, style_file))
    _any_painting(gr, s)
    instant = style_model or _shipped()
    if instant:
        _instant_style(gr, s, instant)


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


def _instant_style(gr: Any, s: Services, model_path: str) -> None:
    from inceptionism.precision import autocast_dtype
    from inceptionism.style.model_file import load_model, stylize_image

    net, meta = load_model(model_path, s.device)
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
            image = load_upload(path, s.limits)
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        mix = torch.tensor([weights], dtype=torch.float32) / sum(weights)
        styled = stylize_image(net, image.rgb, mix, autocast=autocast_dtype("auto", s.device))
        job, folder = s.files.new_job()
        out = folder / "stylized.png"
        save_image(styled, out, alpha=image.alpha, metadata={
            "command": "stylize", "version": __version__, "model": Path(model_path).name, "styles": names,
            "mix": mix[0].tolist(), "job": job})
        return str(out), str(out)

    s.results.append((go.click(run, [photo, *sliders], [result, download], concurrency_limit=1, concurrency_id="work"),
                      download))


def _any_painting(gr: Any, s: Services) -> None:
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
            gr.Examples([[p] for p in s.examples], [photo], label="Content examples", elem_id="any-examples")
            strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength", elem_id="any-strength")
            go = gr.Button("Stylise with this painting", variant="primary", elem_id="any-run")
        with gr.Column():
            result = gr.Image(label="Result", type="numpy", interactive=False, format="png", elem_id="any-output")
            download = gr.File(label="Download (PNG with its recipe)", elem_id="any-download")

    def run(content_path: str | None, painting_path: str | None, amount: float) -> tuple[str, str]:
        if not content_path or not painting_path:
            raise gr.Error("upload a content image and a painting")
        try:
            image, style = load_upload(content_path, s.limits), load_upload(painting_path, s.limits)
            magenta.check_paintings([style.rgb], ["the painting"])
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        net = magenta.load_arbitrary(s.device)
        embedding = magenta.embed_styles(net, [style.rgb])[0].tolist()
        precision = resolve_precision("auto", s.device)
        runner = StylizeJob(model=ARBITRARY, mix=tuple(embedding), device=s.device, precision=precision,
                            stroke_scale="auto", strength=float(amount)).setup()
        styled = runner.stylize(image.rgb)
        job, folder = s.files.new_job()
        out = folder / "stylized.png"
        save_image(styled, out, alpha=image.alpha, metadata={
            "command": "stylize", "version": __version__, "network": "magenta arbitrary",
            "style_sha256": [hashlib.sha256(Path(painting_path).read_bytes()).hexdigest()],
            "strength": float(amount), "stroke_scale": "auto", "precision": precision, "job": job})
        return str(out), str(out)

    s.results.append((go.click(run, [photo, painting, strength], [result, download], concurrency_limit=1,
                               concurrency_id="work"), download))
