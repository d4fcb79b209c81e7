"""The server's API for scripts: one named endpoint per job, the library's one-line functions with their
parameter names and defaults (``/dream``, ``/visualize``, ``/stylize``, ``/style``).

A script calls them with ``gradio_client``::

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    path = client.predict(handle_file("cat.png"), layer="blocks.4", api_name="/dream")   # a PNG with its recipe

Every other event of the page is left out of the API's description (:func:`hide_the_rest`). A bad input
raises ``gradio.Error`` with the library's one line, which the client raises in its turn, and the server
logs one ``refused:`` line; the server's limits (upload size, pixels, steps) hold as on the page.
"""

# (no `from __future__ import annotations`: gradio.api reads the endpoints' type hints as types)

from typing import Any, Callable

from inceptionism.errors import InceptionismError
from inceptionism.web.app import Services, load_upload, log_line
from inceptionism.web.visualize_tab import MAX_SIDE, MAX_STEPS

#: the endpoints, by name
ENDPOINTS = ("dream", "visualize", "stylize", "style")


def _answer(gr: Any, s: Services, make: Callable[[], Any], name: str) -> Any:
    """The job's picture saved in a job folder of its own (with its recipe), as the file the client receives;
    a visitor's mistake is ``gradio.Error`` (one line) and one log line."""
    from gradio import FileData

    try:
        picture = make()
        _, folder = s.files.new_job()
        return FileData(path=str(picture.save(folder / f"{name}.png")))
    except InceptionismError as exc:
        raise gr.Error(log_line(str(exc)), print_exception=False) from None


def _steps(s: Services, steps: int) -> int:
    if not 1 <= steps <= s.limits.max_steps:
        raise InceptionismError(f"steps must be 1 to {s.limits.max_steps} here, got {steps}")
    return steps


def _stroke(text: str) -> float | str | None:
    """``stroke_scale`` as text: blank (the default), ``auto``, or a number."""
    if not text.strip() or text.strip() == "auto":
        return text.strip() or None
    try:
        return float(text)
    except ValueError:
        raise InceptionismError(f"stroke_scale takes a number of 1 or more, or 'auto', got {text!r}") from None


def register(gr: Any, s: Services) -> None:
    """Add the endpoints to the app being built (inside its ``gr.Blocks``)."""
    import inceptionism as inc
    from gradio import FileData

    def picture(upload: FileData | None, what: str) -> Any:
        if upload is None:
            raise InceptionismError(f"{what}: give a picture")
        return load_upload(upload["path"] if isinstance(upload, dict) else upload.path, s.limits, f"{what} ")

    def dream(image: FileData, layer: str = "", model: str = "efficientnet_lite0", class_: str = "",
              steps: int = 10, step_size: float = 0.01, octaves: int = 4, octave_scale: float = 1.4,
              jitter: int = 32, seed: int = 0, lap_norm: int = 0, transforms: str = "none",
              decorrelate: bool = False, preserve_colors: bool = False) -> FileData:
        """DeepDream on a picture: ``layer`` in the command line's grammar (blank: the model's own layers)."""
        return _answer(gr, s, lambda: inc.dream(
            picture(image, "image"), layer or None, model=model, class_=class_ or None, steps=_steps(s, steps),
            step_size=step_size, octaves=octaves, octave_scale=octave_scale, jitter=jitter, seed=seed,
            lap_norm=lap_norm, transforms=transforms, decorrelate=decorrelate, preserve_colors=preserve_colors,
            device=s.device, progress=False), "dream")

    def visualize(what: str = "flamingo", model: str = "efficientnet_lite0", size: int = 224, steps: int = 256,
                  param: str = "fft", decorrelate: bool = True, transforms: str = "strong", seed: int = 0) -> FileData:
        """A picture rendered from nothing: a class, ``LAYER:CHANNEL``, a layer, a topic or a word."""
        def make() -> Any:
            if not 32 <= size <= MAX_SIDE or not 1 <= steps <= MAX_STEPS:
                raise InceptionismError(f"size 32 to {MAX_SIDE} px and 1 to {MAX_STEPS} steps here, got {size} px and "
                                        f"{steps} steps")
            return inc.visualize(what, model=model, size=size, steps=steps, param=param, decorrelate=decorrelate,
                                 transforms=transforms, seed=seed, device=s.device, progress=False)

        return _answer(gr, s, make, "visualize")

    def stylize(photo: FileData, painting: FileData | None = None, style: str = "", strength: float = 1.0,
                stroke_scale: str = "", preserve_colors: bool = False) -> FileData:
        """A photo painted at once: like ``painting`` (any picture), or in a built-in ``style`` (index or name)."""
        return _answer(gr, s, lambda: inc.stylize(
            picture(photo, "photo"), painting=picture(painting, "painting") if painting is not None else None,
            style=style or None, strength=strength, stroke_scale=_stroke(stroke_scale),
            preserve_colors=preserve_colors, device=s.device, progress=False), "stylize")

    def style(photo: FileData, painting: FileData, size: int = 384, steps: int = 150, style_weight: float = 1.0,
              content_weight: float = 1.0, seed: int = 0) -> FileData:
        """A photo painted by optimisation (Gatys et al.): slower than ``/stylize``, closer to the painting."""
        return _answer(gr, s, lambda: inc.style(
            picture(photo, "photo"), picture(painting, "painting"), size=min(size, 1024), steps=_steps(s, steps),
            style_weight=style_weight, content_weight=content_weight, seed=seed, device=s.device, progress=False),
            "style")

    for endpoint in (dream, visualize, stylize, style):
        gr.api(endpoint, api_name=endpoint.__name__, concurrency_id="work", concurrency_limit=1)


def hide_the_rest(app: Any) -> None:
    """Leave every event but the endpoints out of the API's description (the page still calls them)."""
    for fn in app.fns.values():
        if fn.api_name not in ENDPOINTS and fn.api_visibility == "public":
            fn.api_visibility = "undocumented"
