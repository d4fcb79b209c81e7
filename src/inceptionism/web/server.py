"""Building and serving the app: the tabs (one module each) on the services they share."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from inceptionism.web.animate_tab import animate_tab
from inceptionism.web.api import hide_the_rest
from inceptionism.web.api import register as register_api
from inceptionism.web.app import JobFiles, Services, WebLimits, default_device
from inceptionism.web.dream_tab import dream_tab
from inceptionism.web.live_tab import live_tab
from inceptionism.web.style_tab import instant_model, style_tab
from inceptionism.web.train_tab import Trainer, train_tab
from inceptionism.web.visualize_tab import visualize_tab


#: the session gallery keeps small thumbnails however few results there are (Gradio widens a lone one);
#: the column with a tab's button, progress and result stays in view while the controls scroll
CSS = """
#session-gallery .grid-container { grid-template-columns: repeat(auto-fill, 140px) !important; }
#session-gallery .thumbnail-item { width: 140px !important; height: 140px !important; }
.result-column { position: sticky; top: 8px; align-self: flex-start; }
"""


def build_app(*, style_model: str | None = None, dream_models: tuple[str, ...] = (),
              limits: WebLimits = WebLimits(), train_dir: str | None = None, compile_live: bool = True) -> Any:
    """The app; ``train_dir``: where the Train tab's models go (and the ones already there are offered;
    default: a temporary folder, for the server's life); ``compile_live``: the Live tab compiles its style
    networks in the background (faster after most of a minute)."""
    # A local tool does not report usage anywhere (and must not wait on a network it lacks).
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    s = Services(gr, default_device(), limits, JobFiles())
    trainer = Trainer(s, Path(train_dir) if train_dir else None)
    with gr.Blocks(title="inceptionism", analytics_enabled=False) as app:
        s.session = gr.State(lambda: uuid.uuid4().hex)  # one per browser tab
        s.history = gr.State([])
        gr.Markdown("# inceptionism\nDeepDream and neural style transfer, running on this machine.")
        with gr.Tab("Dream"):
            dream_tab(gr, s, tuple(dream_models))
        with gr.Tab("Visualize"):
            visualize_tab(gr, s, tuple(dream_models))
        with gr.Tab("Style"):
            style_tab(gr, s, style_model)
        with gr.Tab("Animate"):
            animate_tab(gr, s)
        with gr.Tab("Live"):
            live_tab(gr, s, *instant_model(s, style_model), compile=compile_live)
        with gr.Tab("Train"):
            train_tab(gr, s, trainer)
        with gr.Accordion("This session's results", open=True):
            s.gallery = gr.Gallery(label="Your results (newest first): click one to open it", columns=8, height=200,
                                   object_fit="contain", preview=False, elem_id="session-gallery")
        for event, download in s.results:
            s.remember(event, download)
        register_api(gr, s)
    hide_the_rest(app)
    app.queue(default_concurrency_limit=1, max_size=limits.queue_size)
    app.trainer = trainer  # (tests and serve's caller reach the run through it)
    return app


def serve(host: str = "127.0.0.1", port: int = 7860, *, style_model: str | None = None,
          dream_models: tuple[str, ...] = (), limits: WebLimits = WebLimits(), block: bool = True,
          auth: list[tuple[str, str]] | None = None, train_dir: str | None = None, compile_live: bool = True) -> Any:
    """Start the app; ``auth``: (user, password) pairs that must log in (Gradio's login page)."""
    app = build_app(style_model=style_model, dream_models=dream_models, limits=limits, train_dir=train_dir,
                    compile_live=compile_live)
    import inspect

    # Gradio's launch, once its server answers, also HEADs "/" with a 3 s timeout (a check meant for hosted
    # notebooks) and, when that is slow, refuses to start with "When localhost is not accessible, a shareable
    # link must be created": on a busy machine our page (80 functions' config) can take longer. Its
    # ``_frontend=False`` skips only that check, where this Gradio has it.
    patient = {"_frontend": False} if "_frontend" in inspect.signature(app.launch).parameters else {}
    app.launch(css=CSS, server_name=host, server_port=port, max_file_size=limits.max_upload_bytes, prevent_thread_lock=not block,
               show_error=True, quiet=True, auth=auth, auth_message="inceptionism: log in to dream here", **patient)
    return app
