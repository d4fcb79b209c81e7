"""The Visualize tab: what a network sees in one of its classes, topics, words or channels, rendered from
nothing and shown as it forms; Cancel; a PNG to download; the atlas of a model's classes or topics."""

from __future__ import annotations

from typing import Any, Iterator

from inceptionism import __version__
from inceptionism.errors import InceptionismError
from inceptionism.web.app import Running, Services, action, download_box, model_label, network, preview, stream_job
from inceptionism.web.dream_tab import layer_choices, listen_for_trained, model_choices

#: the largest picture and the most steps one job may ask for here (a shared machine runs one job at a time)
MAX_SIDE, MAX_STEPS, MAX_TILES = 512, 512, 64
#: steps between two live previews
PREVIEW_EVERY = 8
KINDS = ("class or topic", "word", "channel")


def target_names(net: Any) -> list[str]:
    """What the model can be asked to show: its topics (with their top words), or its class names."""
    collection = getattr(net, "collection", None)
    if collection is not None and collection.kind == "topics":
        return [f"topic {i}: " + " ".join(collection.top_words[i][:4]) for i in range(collection.count)]
    return list(net.categories or [])


def _target(kind: str, name: str | None, word: str | None, layer: str | None, channel: float | None) -> Any:
    from inceptionism.jobs import Target

    if kind == "word":
        if not word:
            raise InceptionismError("type a word of the model's captions")
        return Target(word=word.strip(), label=word.strip())
    if kind == "channel":
        if not layer:
            raise InceptionismError("choose a layer")
        address = layer if channel is None or channel < 0 else f"{layer}:{int(channel)}"
        return Target(layers=(address,), label=address)
    if not name:
        raise InceptionismError("choose a class or topic")
    if name.startswith("topic ") and ":" in name:
        return Target(topic=name[len("topic "):name.index(":")], label=name)
    return Target(class_value=name, label=name)


def _stream(gr: Any, work: Any, running: Running, progress: str, done: str) -> Iterator[tuple[Any, Any, str]]:
    """The page's (picture, download, status) as ``work`` reports ``(n, preview)``: ``progress`` formats ``n``."""
    return stream_job(gr, work, running, preview=lambda value: (value[1], gr.skip(), progress.format(value[0])),
                      done=lambda path: (str(path), str(path), done))


def _atlas_fits(names: list[str]) -> bool:
    """Whether a model's atlas fits on one sheet here (a model of yours; ImageNet's 1,000 classes do not)."""
    return 1 <= len(names) <= MAX_TILES


def _config_of(size: float, steps: float, seed: float, transforms: str) -> Any:
    """The VisualizeConfig of the tab's controls, within this server's limits."""
    from inceptionism.configs import VisualizeConfig

    size, steps = int(size), int(steps)
    if not 32 <= size <= MAX_SIDE:
        raise InceptionismError(f"the size must be 32 to {MAX_SIDE} px here")
    if not 1 <= steps <= MAX_STEPS:
        raise InceptionismError(f"1 to {MAX_STEPS} steps here")
    return VisualizeConfig(width=size, height=size, steps=steps, seed=int(seed), transforms=transforms)



def _visualize_job(gr: Any, s: Services, choices: dict[str, Any]) -> Any:
    """The Visualize button's job: one picture, previews as it forms."""
    from inceptionism.io.images import save_image
    from inceptionism.io.sheets import side_by_side
    from inceptionism.objectives import build_objective
    from inceptionism.visualize.render import render

    def visualize_job(model: str, kind: str, name: str | None, word: str | None, layer: str | None,
                      channel: float | None, size: float, steps: float, seed: float, transforms: str,
                      session: str) -> Iterator[tuple[Any, Any, str]]:
        config = _config_of(size, steps, seed, transforms)
        choice = choices[model]
        net = network(choice.name, choice.weights, s.device)
        target = _target(kind, name, word, layer, channel)
        objective, _ = build_objective(net, list(target.layers) or None, class_value=target.class_value,
                                       topic=target.topic, word=target.word)
        objective.prepare(net)
        running, job, folder = s.start_job(session)

        def work(report: Any) -> Any:
            def callback(step: Any) -> None:
                if step.step % PREVIEW_EVERY == 0 or step.step == step.steps:
                    report((step.step, preview(step.image(), folder, job, step.step)))
                elif running.cancel.is_set():
                    report(None)  # raises Cancelled

            result = render(net, objective, config, callback=callback)
            path = folder / "visualize.png"
            save_image(side_by_side(result.images), path, metadata={
                "command": "visualize", "version": __version__, "job": job, "model": net.name,
                "weights": choice.weights or "pretrained", **target.fields(), "label": target.label,
                "config": config.to_dict()})
            return path

        yield from _stream(gr, work, running, f"step {{}} of {config.steps}", f"done: {target.label}")

    return visualize_job


def _atlas_job(gr: Any, s: Services, choices: dict[str, Any]) -> Any:
    """The Atlas button's job: every class or topic of a model of yours, the sheet growing tile by tile."""
    from inceptionism.io.images import save_image
    from inceptionism.io.sheets import contact_sheet, sheet_tensor
    from inceptionism.objectives import build_objective
    from inceptionism.visualize.render import render

    def atlas_job(model: str, size: float, steps: float, seed: float, transforms: str,
                  session: str) -> Iterator[tuple[Any, Any, str]]:
        from PIL import Image

        config = _config_of(size, steps, seed, transforms)
        choice = choices[model]
        net = network(choice.name, choice.weights, s.device)
        names = target_names(net)
        if not 1 <= len(names) <= MAX_TILES:
            raise InceptionismError(f"{model} has {len(names)} classes: an atlas here is for a model of yours "
                                    f"(up to {MAX_TILES} classes or topics); use `inceptionism visualize "
                                    f"--atlas classes --classes LIST` for ImageNet's")
        targets = [_target("class or topic", n, None, None, None) for n in names]
        running, job, folder = s.start_job(session)

        def work(report: Any) -> Any:
            tiles: list[Image.Image] = []
            for i, target in enumerate(targets):
                objective, _ = build_objective(net, None, class_value=target.class_value, topic=target.topic)

                def callback(step: Any) -> None:
                    if running.cancel.is_set():
                        report(None)

                image = render(net, objective, config, callback=callback).images
                tile = folder / f"tile-{i:03d}.png"
                save_image(image, tile, metadata={"job": job, "tile": i})
                with Image.open(tile) as im:
                    tiles.append(im.convert("RGB"))
                sheet = contact_sheet(tiles, [t.label for t in targets[:len(tiles)]], title=f"{model}: {steps:g} steps")
                path = folder / f"atlas-{len(tiles):03d}.png"
                save_image(sheet_tensor(sheet), path, metadata={"command": "visualize", "version": __version__, "job": job,
                                                     "atlas": "classes or topics", "model": net.name,
                                                     "weights": choice.weights or "pretrained",
                                                     "tiles": [t.label for t in targets], "config": config.to_dict()})
                report((len(tiles), str(path)))
            return path

        yield from _stream(gr, work, running, f"tile {{}} of {len(targets)}", f"done: {len(targets)} tiles")

    return atlas_job


def visualize_tab(gr: Any, s: Services, dream_models: tuple[str, ...] = ()) -> None:
    from inceptionism.configs import VISUALIZE_TRANSFORMS, VisualizeConfig

    choices = model_choices(dream_models)
    first = next(iter(choices.values()))
    if dream_models:  # a user model first: seeing what it learned is why it was given
        first = choices[list(choices)[-len(dream_models)]]

    def names_for(label: str) -> list[str]:
        choice = choices[label]
        try:
            return target_names(network(choice.name, choice.weights, s.device))
        except InceptionismError:
            return []

    visualize_job, atlas_job = _visualize_job(gr, s, choices), _atlas_job(gr, s, choices)
    gr.Markdown("What the network sees in a class, a topic, a word or a channel, painted from nothing "
                "(Lucid's recipe: a 1/f Fourier picture, decorrelated colour, a little random jitter, scale and "
                "rotation at every step). About 30 s for a 224 px picture on two CPU cores.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            model = gr.Dropdown([(label if c.weights else model_label(label), label) for label, c in choices.items()],
                                value=first.label, label="Model", elem_id="visualize-model")
            kind = gr.Radio(list(KINDS), value=KINDS[0], label="Show", elem_id="visualize-kind")
            first_names = names_for(first.label)
            name = gr.Dropdown(first_names, value=first_names[0] if first_names else None,
                               label="Class or topic (the model's own names)", elem_id="visualize-target")
            word = gr.Textbox(label="Word (a model trained on captions)", visible=False, elem_id="visualize-word")
            with gr.Row(visible=False) as channel_row:
                layer = gr.Dropdown(layer_choices(first.backbone), value=None, label="Layer",
                                    elem_id="visualize-layer")
                channel = gr.Number(value=0, precision=0, label="Channel", elem_id="visualize-channel")
            with gr.Row():
                size = gr.Slider(32, MAX_SIDE, value=224, step=16, label="Size (px)", elem_id="visualize-size")
                steps = gr.Slider(1, MAX_STEPS, value=256, step=1, label="Steps", elem_id="visualize-steps")
            with gr.Row():
                seed = gr.Number(value=0, precision=0, label="Seed", elem_id="visualize-seed")
                transforms = gr.Radio(list(VISUALIZE_TRANSFORMS), value=VisualizeConfig().transforms, label="Transforms",
                                      elem_id="visualize-transforms")
        with gr.Column(scale=4, elem_classes=["result-column"]):
            with gr.Row():
                run = gr.Button("Visualize", variant="primary", elem_id="visualize-run")
                atlas = gr.Button("Atlas of all classes or topics", elem_id="visualize-atlas",
                                  interactive=_atlas_fits(first_names))
                stop = gr.Button("Cancel", elem_id="visualize-cancel")
            status = gr.Textbox(label="Progress", interactive=False, elem_id="visualize-status")
            shown = gr.Image(label="The picture as it forms", type="filepath", interactive=False,
                             elem_id="visualize-output", height=420)
            download = download_box(gr, "Download (PNG with its recipe)", "visualize-download")

    def on_model(label: str) -> tuple[Any, Any, Any]:
        names = names_for(label)
        return (gr.Dropdown(choices=names, value=names[0] if names else None),
                gr.Dropdown(choices=layer_choices(choices[label].backbone), value=None),
                gr.Button(interactive=_atlas_fits(names)))

    def on_kind(value: str) -> tuple[Any, Any, Any]:
        return (gr.Dropdown(visible=value == KINDS[0]), gr.Textbox(visible=value == "word"),
                gr.Row(visible=value == "channel"))

    model.change(on_model, model, [name, layer, atlas], queue=False)
    listen_for_trained(gr, s, choices, model)
    kind.change(on_kind, kind, [name, word, channel_row], queue=False)
    event = action(gr, s, run, visualize_job, [model, kind, name, word, layer, channel, size, steps, seed, transforms],
                   [shown, download, status], status=2, busy="Rendering...")
    atlas_event = action(gr, s, atlas, atlas_job, [model, size, steps, seed, transforms], [shown, download, status],
                         status=2, busy="Drawing the atlas...")
    s.cancel_button(stop, status, [event, atlas_event])
    s.results.append((event, download))
    s.results.append((atlas_event, download))
