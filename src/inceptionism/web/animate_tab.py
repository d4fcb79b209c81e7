"""The Animate tab: Google's endless zoom from an upload (or an example, or noise): frames, dream steps per
frame, zoom and rotation, a layer; each frame shown as it comes, Cancel, and a GIF or MP4 to download."""

from __future__ import annotations

from typing import Any, Iterator

from inceptionism import __version__
from inceptionism.errors import InceptionismError
from inceptionism.models import DEFAULT_MODEL, get_model_spec
from inceptionism.web.app import Running, Services, load_upload, network, preview, run_in_thread, upload

#: the most frames one animation may have here (a shared machine's queue runs one job at a time)
MAX_FRAMES = 120


def animate_tab(gr: Any, s: Services) -> None:
    from inceptionism.animate.frames import FrameStore
    from inceptionism.animate.loop import transform, zoom_loop
    from inceptionism.animate.schedule import Schedule
    from inceptionism.configs import DreamConfig
    from inceptionism.dream import noise_image
    from inceptionism.io.video import write_movie
    from inceptionism.objectives import build_objective
    from inceptionism.parsing import parse_size

    spec = get_model_spec(DEFAULT_MODEL)

    def animate_job(image: str | None, noise: bool, noise_size: str, layer: str, frames: float, every: float,
                    zoom: float, rotate: float, movie_format: str, session: str) -> Iterator[tuple[Any, Any, str]]:
        frames, every = int(frames), int(every)
        if not 1 <= frames <= MAX_FRAMES:
            raise gr.Error(f"1 to {MAX_FRAMES} frames here")
        try:
            config = DreamConfig(steps=every, octaves=1)
            if noise:
                w, h = parse_size(noise_size, "noise size")
                if w * h > s.limits.max_pixels:
                    raise InceptionismError(f"noise of {w}x{h} is over the limit of {s.limits.max_pixels} pixels")
                start = noise_image(w, h, seed=config.seed)
            else:
                if not image:
                    raise InceptionismError("upload an image, click an example, or tick 'start from noise'")
                start = load_upload(image, s.limits).rgb
            net = network(DEFAULT_MODEL, None, s.device)
            objective, _ = build_objective(net, [layer] if layer else None)
            objective.prepare(net)
            schedule = Schedule(defaults={"zoom": float(zoom), "rotate": float(rotate), "pan_x": 0.0, "pan_y": 0.0,
                                          "step_size": config.step_size, "layers": (layer or spec.default_layers[0],)})
            transform(start, zoom=float(zoom), rotate=float(rotate))  # a zoom of 0 fails here, in one line
        except InceptionismError as exc:
            raise gr.Error(str(exc)) from exc
        running = Running()
        s.cancel_flags[session] = running
        job, folder = s.files.new_job()
        recipe = {"command": "animate", "version": __version__, "job": job, "model": net.name, "layer": layer,
                  "frames": frames, "every": every, "zoom": float(zoom), "rotate": float(rotate),
                  "noise": noise_size if noise else None, "config": config.to_dict()}
        store = FrameStore(folder / "frames", recipe, resume=False)

        def work(report: Any) -> Any:
            def callback(n: int, total: int) -> None:
                report((n, preview(store.read(n), folder, job, n)))

            zoom_loop(net, start, schedule, config, frames=frames, every=every, store=store,
                      objective_for=lambda layers: objective, callback=callback)
            movie = folder / f"zoom.{'mp4' if movie_format == 'MP4' else 'gif'}"
            write_movie(store.arrays(frames), movie, 12, metadata={**recipe, "fps": 12})
            return movie

        for kind, value in run_in_thread(work, running):
            if kind == "preview":
                n, shown = value
                yield shown, None, f"frame {n} of {frames}"
            elif kind == "done":
                yield gr.skip(), str(value), f"done: {frames} frames"
            elif kind == "cancelled":
                yield gr.skip(), None, f"cancelled: {len(store.frame_numbers())} frames were made"
            else:
                raise gr.Error(value)

    gr.Markdown("The endless zoom: every frame dreams a few steps on the previous one, zoomed and turned a little.")
    with gr.Row():
        with gr.Column():
            image = upload(gr, label="Start image", elem_id="animate-input")
            gr.Examples([[p] for p in s.examples], [image], label="Examples: click one", elem_id="animate-examples")
            with gr.Row():
                noise = gr.Checkbox(label="start from noise", value=False, elem_id="animate-noise")
                noise_size = gr.Textbox(label="noise size (WxH)", value="320x240")
            layer = gr.Dropdown(list(dict.fromkeys([*spec.layers])), value=spec.default_layers[0], label="Layer",
                                elem_id="animate-layer")
            with gr.Row():
                frames = gr.Slider(1, MAX_FRAMES, value=24, step=1, label="Frames", elem_id="animate-frames")
                every = gr.Slider(1, 20, value=5, step=1, label="Dream steps per frame", elem_id="animate-every")
            with gr.Row():
                zoom = gr.Slider(1.0, 1.2, value=1.04, step=0.005, label="Zoom per frame", elem_id="animate-zoom")
                rotate = gr.Slider(-5, 5, value=0.0, step=0.1, label="Rotation per frame (degrees)",
                                   elem_id="animate-rotate")
            movie_format = gr.Radio(["GIF", "MP4"], value="GIF", label="Movie", elem_id="animate-format")
            with gr.Row():
                run = gr.Button("Animate", variant="primary", elem_id="animate-run")
                stop = gr.Button("Cancel", elem_id="animate-cancel")
        with gr.Column():
            shown = gr.Image(label="Latest frame", type="filepath", interactive=False, elem_id="animate-output")
            status = gr.Textbox(label="Progress", interactive=False, elem_id="animate-status")
            download = gr.File(label="Download the movie", elem_id="animate-download")
    event = run.click(animate_job, [image, noise, noise_size, layer, frames, every, zoom, rotate, movie_format,
                                    s.session], [shown, download, status], concurrency_limit=1, concurrency_id="work")
    stop.click(s.cancel_job, s.session, status, cancels=[event], queue=False)
    s.results.append((event, download))
