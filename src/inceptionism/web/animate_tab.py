"""The Animate tab: Google's endless zoom from an upload (or an example, or noise): frames, dream steps per
frame, zoom and rotation, a layer; each frame shown as it comes, Cancel, and a GIF or MP4 to download."""

from __future__ import annotations

from typing import Any, Iterator

from inceptionism import __version__
from inceptionism.errors import InceptionismError
from inceptionism.models import DEFAULT_MODEL, get_model_spec
from inceptionism.web.app import (
    Cancelled, Services, action, download_box, load_upload, network, preview, start_picture, stream_job,
)

#: the most frames one animation may have here (a shared machine's queue runs one job at a time)
MAX_FRAMES = 120


def _animate_job(gr: Any, s: Services, spec: Any) -> Any:
    """The Animate button's job: the zoom, frame after frame with previews, then the movie (Cancel keeps one)."""
    from inceptionism.animate.frames import FrameStore
    from inceptionism.animate.loop import transform, zoom_loop
    from inceptionism.animate.schedule import Schedule
    from inceptionism.configs import DreamConfig
    from inceptionism.dream import noise_image
    from inceptionism.io.video import write_movie
    from inceptionism.objectives import build_objective
    from inceptionism.parsing import parse_size, pixels_text

    def animate_job(image: str | None, noise: bool, noise_size: str, layer: str, frames: float, every: float,
                    zoom: float, rotate: float, movie_format: str, session: str) -> Iterator[tuple[Any, ...]]:
        if frames is None or int(frames) != frames or not 1 <= int(frames) <= MAX_FRAMES:
            raise InceptionismError(f"{frames if frames is not None else 'no'} frames: 1 to {MAX_FRAMES} here (one "
                                    f"job at a time on this server); the command line has no such limit: "
                                    f"inceptionism animate START -o zoom.mp4 --frames N")
        frames, every = int(frames), int(every)
        config = DreamConfig(steps=every, octaves=1)
        if noise:
            w, h = parse_size(noise_size, "noise size")
            if w * h > s.limits.max_pixels:
                raise InceptionismError(f"noise of {w}x{h} is over the limit of {pixels_text(s.limits.max_pixels)}")
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
        running, job, folder = s.start_job(session)
        recipe = {"command": "animate", "version": __version__, "job": job, "model": net.name, "layer": layer,
                  "frames": frames, "every": every, "zoom": float(zoom), "rotate": float(rotate),
                  "noise": noise_size if noise else None, "config": config.to_dict()}
        store = FrameStore(folder / "frames", recipe, resume=False)
        suffix = "mp4" if movie_format == "MP4" else "gif"

        def movie_of(count: int) -> Any:
            movie = folder / (f"zoom.{suffix}" if count == frames else f"zoom-first-{count}-frames.{suffix}")
            write_movie(store.arrays(count), movie, 12, metadata={**recipe, "frames": count, "fps": 12})
            return movie

        def work(report: Any) -> Any:
            def callback(n: int, total: int) -> None:
                report((n, preview(store.read(n), folder, job, n)))

            try:
                zoom_loop(net, start, schedule, config, frames=frames, every=every, store=store,
                          objective_for=lambda layers: objective, callback=callback)
            except Cancelled:
                made = len(store.frame_numbers())
                if made:  # Cancel keeps what was made: the movie of the frames so far
                    running.notes["download"] = str(movie_of(made))
                running.notes["cancelled"] = (f"cancelled after {made} of {frames} frames"
                                              + (": the movie of those is offered below" if made else ""))
                raise
            return movie_of(frames)

        def finished(movie: Any) -> tuple[Any, ...]:
            playing = gr.Video(value=str(movie), visible=True) if suffix == "mp4" else gr.Video(visible=False)
            return (str(movie) if suffix == "gif" else gr.skip()), playing, str(movie), f"done: {frames} frames"

        yield from stream_job(gr, work, running, done=finished,
                              preview=lambda value: (value[1], gr.skip(), gr.skip(), f"frame {value[0]} of {frames}"),
                              cancelled=lambda: (gr.skip(), gr.skip(), gr.skip(),
                                                 running.notes.get("cancelled", "cancelled")))

    return animate_job


#: what the picture box shows, for a GIF and for an MP4 (which plays in the movie box below it)
_SHOWN = ("The latest frame, then the GIF playing", "The latest frame (the MP4 plays below when done)")


def animate_tab(gr: Any, s: Services) -> None:
    spec = get_model_spec(DEFAULT_MODEL)
    animate_job = _animate_job(gr, s, spec)

    gr.Markdown("The endless zoom: every frame dreams a few steps on the previous one, zoomed and turned a little.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            image, noise, noise_size, _ = start_picture(gr, s, "animate", label="Start image", height=300,
                                                        noise_size="320x240")
            layer = gr.Dropdown(list(dict.fromkeys([*spec.layers])), value=spec.default_layers[0], label="Layer",
                                elem_id="animate-layer")
            with gr.Row():
                frames = gr.Number(value=24, precision=0, label=f"Frames (1 to {MAX_FRAMES} here)",
                                   elem_id="animate-frames")
                every = gr.Slider(1, 20, value=5, step=1, label="Dream steps per frame", elem_id="animate-every")
            with gr.Row():
                zoom = gr.Slider(1.0, 1.2, value=1.04, step=0.005, label="Zoom per frame", elem_id="animate-zoom")
                rotate = gr.Slider(-5, 5, value=0.0, step=0.1, label="Rotation per frame (degrees)",
                                   elem_id="animate-rotate")
            movie_format = gr.Radio(["GIF", "MP4"], value="GIF", label="Movie", elem_id="animate-format")
        with gr.Column(scale=4, elem_classes=["result-column"]):
            with gr.Row():
                run = gr.Button("Animate", variant="primary", elem_id="animate-run")
                stop = gr.Button("Cancel", elem_id="animate-cancel")
            status = gr.Textbox(label="Progress", interactive=False, elem_id="animate-status")
            shown = gr.Image(label=_SHOWN[0], type="filepath",
                             interactive=False, elem_id="animate-output", height=380)
            playing = gr.Video(label="The movie", interactive=False, autoplay=True, loop=True, visible=False,
                               elem_id="animate-movie", height=380)
            download = download_box(gr, "Download the movie", "animate-download")
    event = action(gr, s, run, animate_job, [image, noise, noise_size, layer, frames, every, zoom, rotate,
                                             movie_format], [shown, playing, download, status], status=3,
                   busy="Animating...")
    movie_format.change(lambda kind: gr.Image(label=_SHOWN[kind == "MP4"]), movie_format, shown, queue=False,
                        show_progress="hidden")
    s.cancel_button(stop, status, [event], download=download)
    s.results.append((event, download))
