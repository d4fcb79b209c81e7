"""The browser UI (Gradio), built on the public Python API only: the app, its limits, the job runner.

``inceptionism web`` serves it (:mod:`.server`). The app is assembled from one module per tab
(:mod:`.dream_tab`, :mod:`.style_tab`, :mod:`.animate_tab`), each a function that
takes the :class:`Services` the tabs share: the device, the limits, the folder of
job files, the Cancel flags, the browser session and its gallery of results.

Safety on a shared machine: uploads are capped in bytes (Gradio) and pixels (our
loader), one queue runs one job at a time, and the server binds to 127.0.0.1
unless told otherwise.
"""

from __future__ import annotations

import functools
import queue
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from inceptionism.errors import InceptionismError
from inceptionism.io.images import load_image, save_image
from inceptionism.models import get_model

PREVIEW_EVERY = 2  # steps between two live previews


@dataclass(frozen=True)
class WebLimits:
    max_upload_bytes: int = 20 * 2**20
    max_pixels: int = 4096 * 4096
    max_steps: int = 200
    queue_size: int = 16
    #: a training started in the Train tab: its most steps, and what a zip of photos may unpack to
    max_train_steps: int = 5000
    max_zip_files: int = 5000
    max_zip_bytes: int = 2**30
    #: visitors whose cameras stream at once in the Live tab (a stream holds its place while it runs;
    #: past this, a visitor waits for a place, and the others' pictures go on)
    live_streams: int = 4


class Cancelled(Exception):
    """Raised from a dream's callback when the user pressed Cancel."""


@functools.lru_cache(maxsize=2)
def network(name: str | None, weights: str | None, device: str) -> Any:
    """A model for the page; one whose weights this machine lacks and cannot download is said in the page's words."""
    from inceptionism.errors import ModelError
    from inceptionism.models import DEFAULT_MODEL, get_model_spec

    try:
        return get_model(name, weights=weights, device=device, progress=False)
    except ModelError as exc:
        if weights is None and name is not None and get_model_spec(name).weights_status() == "needs download":
            raise ModelError(f"{name}'s weights are not on this machine and the server could not download them "
                             f"(no internet?): choose {DEFAULT_MODEL}, which is built in, or ask whoever runs this "
                             f"server to dream once with {name} while it is online (the weights are then kept)"
                             ) from exc
        raise


def model_label(name: str) -> str:
    """A model's name as the page lists it, with where its weights are: built in, downloaded, or to download."""
    from inceptionism.models import get_model_spec

    status = get_model_spec(name).weights_status()
    where = {"embedded": "built in", "cached": "downloaded"}.get(status, "downloads its weights on first use")
    return f"{name} ({where})"


def default_device() -> str:
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


def upload(gr: Any, limits: "WebLimits", **kwargs: Any) -> Any:
    """An image upload, checked by our loader the moment it arrives.

    A file that is not a picture (or is over the limits) is refused at once: one line in a
    toast, the box emptied, one line in the server's log; no job ever sees it. Gradio's Image
    would open every upload with PIL before a handler runs (its own message, with the
    server's temporary path), so this component's ``preprocess`` hands the file over
    undecoded. That override lives on this instance: an event that returns a property
    update for the component (``gr.Examples`` does) makes Gradio keep a fresh instance for
    that browser session, without it; so examples go through :func:`examples`, which sets
    plain values. (A subclass would carry the override, but Gradio writes a ``.pyi`` beside
    the source of every component class it sees.)
    """
    component = gr.Image(type="filepath", sources=["upload"], **kwargs)

    def preprocess(payload: Any) -> str | None:
        return None if payload is None or payload.path is None else str(payload.path)

    component.preprocess = preprocess

    def check(path: str | None) -> Any:
        if not path:
            return gr.skip()
        try:
            load_upload(path, limits)
        except InceptionismError as exc:
            import warnings

            with warnings.catch_warnings():  # gr.Warning also warns in Python: the log line below says it once
                warnings.simplefilter("ignore")
                gr.Warning(log_line(str(exc)))
            return None
        return gr.skip()

    # queued (toasts reach the page only from queued events), in a group of its own: it never waits for a job
    component.upload(check, component, component, show_progress="hidden", api_visibility="private",
                     concurrency_limit=None)
    return component


#: how an example picture's file is named: the command line calls it ``skimage:NAME``
EXAMPLE_PREFIX = "skimage-"


def start_picture(gr: Any, s: "Services", prefix: str, *, label: str, height: int, noise_size: str,
                  beside: Callable[[], Any] | None = None) -> tuple[Any, Any, Any, Any]:
    """A job's start: an upload with the server's examples, or noise of a size (``beside()`` adds controls in the
    noise row). The components, and what ``beside`` made."""
    image = upload(gr, s.limits, label=label, elem_id=f"{prefix}-input", height=height)
    examples(gr, image, s.examples, "Examples: click one", f"{prefix}-examples")
    with gr.Row():
        noise = gr.Checkbox(label="start from noise", value=False, elem_id=f"{prefix}-noise")
        size = gr.Textbox(label="noise size (WxH)", value=noise_size, elem_id=f"{prefix}-noise-size")
        extra = beside() if beside is not None else None
    return image, noise, size, extra


def examples(gr: Any, target: Any, paths: list[str], label: str, elem_id: str) -> Any:
    """A row of clickable example pictures that fill ``target`` (an :func:`upload`) with a plain value."""
    dataset = gr.Dataset(components=[target], samples=[[p] for p in paths], label=label, elem_id=elem_id,
                         type="index", samples_per_page=12)
    dataset.click(lambda i: paths[i] if i is not None else gr.skip(), dataset, target, queue=False,
                  show_progress="hidden", api_visibility="private")
    return dataset


def log_line(message: str) -> str:
    """A visitor's mistake, said in one line on the server's log (no traceback: it is not our bug)."""
    import sys

    print(f"inceptionism web: refused: {message}", file=sys.stderr, flush=True)
    return message


def download_box(gr: Any, label: str, elem_id: str) -> Any:
    """Where a result is offered: a download-only file box (it takes no uploads)."""
    return gr.File(label=label, interactive=False, elem_id=elem_id)


def load_upload(path: str, limits: "WebLimits", what: str = "") -> Any:
    """An uploaded image through our loader; its error message names the file, not the server's temporary path."""
    try:
        return load_image(path, max_pixels=limits.max_pixels)
    except InceptionismError as exc:
        text = str(exc).replace(path, Path(path).name)
        raise InceptionismError(f"{what}{text}") from None


PREVIEW_SIDE = 512  # previews are shown, not kept: no need to send more pixels than a page shows


def preview(image: torch.Tensor, folder: Path, job: str, step: int) -> str:
    """A small PNG of ``image`` for the page (unique to its job and step)."""
    h, w = image.shape[-2:]
    scale = min(1.0, PREVIEW_SIDE / max(h, w))
    if scale < 1.0:
        image = torch.nn.functional.interpolate(image.float(), size=(max(1, round(h * scale)), max(1, round(w * scale))),
                                                mode="area")
    path = folder / f"preview-{step:06d}.png"
    save_image(image, path, metadata={"job": job, "step": step})
    return str(path)


@dataclass(frozen=True)
class Running:
    """A browser tab's running job: ``cancel`` asks it to stop, ``stopped`` says its work thread has ended."""

    cancel: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    #: what the work leaves for Cancel: "cancelled", the status line to say; "download", a partial result to offer
    notes: dict[str, Any] = field(default_factory=dict)


def stream_job(gr: Any, work: Callable[[Any], Any], running: "Running", *, preview: Callable[[Any], tuple],
               done: Callable[[Any], tuple], cancelled: Callable[[], tuple] | None = None) -> Iterator[tuple]:
    """A page's outputs as ``work`` runs in a thread: ``preview(value)`` for each report, ``done(result)`` at the
    end, ``cancelled()`` after a Cancel (default: the picture and download kept, "cancelled"); an error is one
    line."""
    for kind, value in run_in_thread(work, running):
        if kind == "preview":
            if value is not None:
                yield preview(value)
        elif kind == "done":
            yield done(value)
        elif kind == "cancelled":
            yield cancelled() if cancelled is not None else (gr.skip(), gr.skip(), "cancelled")
        else:
            raise InceptionismError(value)


def run_in_thread(work: Any, running: Running) -> Iterator[tuple[str, Any]]:
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
            import traceback

            traceback.print_exc()  # our bug, not the visitor's: the server's log keeps the whole story
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


def action(gr: Any, s: "Services", button: Any, handler: Any, inputs: list[Any], outputs: list[Any], *,
           status: int, busy: str) -> Any:
    """Wire ``button`` to ``handler`` (a generator or a function over ``inputs`` + the session).

    While the job waits or runs the button says ``busy`` and cannot be pressed again; it comes
    back when the job ends, fails or is cancelled. A visitor's mistake is said in the status box
    (``outputs[status]``, as ``error: ...``: also what an API client receives) and in a toast, and
    the result already shown stays where it is.
    Returns the job's event (for Cancel's ``cancels``).
    """
    label = button.value

    def start(session: str) -> Any:
        s.pending.add(session)
        return gr.Button(value=busy, interactive=False)

    def job(*args: Any) -> Iterator[Any]:
        s.pending.discard(args[-1])
        try:
            result = handler(*args)
            if isinstance(result, tuple) or not hasattr(result, "__next__"):
                result = iter([result])
            yield from result
        except InceptionismError as exc:
            yield said(str(exc))
        except gr.Error as exc:
            yield said(str(exc.message))

    def said(message: str) -> list[Any]:
        """The visitor's mistake: in the status box and a toast, one line in the log; the result shown stays."""
        import warnings

        with warnings.catch_warnings():  # gr.Warning also warns in Python: the log line says it once
            warnings.simplefilter("ignore")
            gr.Warning(log_line(message))
        return [*[gr.skip()] * status, f"error: {message}", *[gr.skip()] * (len(outputs) - status - 1)]

    def end() -> Any:
        return gr.Button(value=label, interactive=True)

    started = button.click(start, s.session, button, queue=False, show_progress="hidden", api_visibility="private")
    event = started.then(job, [*inputs, s.session], outputs, concurrency_limit=1, concurrency_id="work",
                         show_progress_on=[outputs[status]], api_name=handler.__name__)
    event.then(end, None, button, queue=False, show_progress="hidden", api_visibility="private")
    s.buttons[id(event)] = (button, label)
    return event


@dataclass
class TrainedModels:
    """Models trained on this server (the Train tab), which the other tabs offer as soon as they exist.

    A tab that lists models calls :meth:`listen` with its dropdown, a function that adds a
    model file to its own choices and one that says the dropdown's new choices. A browser tab
    learns of new models when its Train tab's timer ticks: it sends those updates once per
    new model (``version``), so a page opened before, or refreshed after, sees them too.
    """

    paths: dict[str, list[str]] = field(default_factory=lambda: {"style": [], "dream": []})
    version: int = 0
    listeners: list[tuple[str, Any, Any, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def listen(self, kind: str, component: Any, add: Any, update: Any) -> None:
        self.listeners.append((kind, component, add, update))

    def add(self, kind: str, path: str) -> None:
        with self.lock:
            if path in self.paths[kind]:
                return
            self.paths[kind].append(path)
            for listening, _, add, _ in self.listeners:
                if listening == kind:
                    add(path)
            self.version += 1

    def components(self) -> list[Any]:
        return [component for _, component, _, _ in self.listeners]

    def updates(self, gr: Any, seen: int) -> tuple[list[Any], int]:
        """The listeners' dropdown updates for a page that has seen ``seen`` (skips when it is up to date),
        and the version they bring it to (read together: a model added meanwhile is not marked as seen)."""
        with self.lock:
            if seen >= self.version:
                return [gr.skip() for _ in self.listeners], self.version
            return [update() for _, _, _, update in self.listeners], self.version


#: the pictures the Examples rows offer (scikit-image's, written once per server)
EXAMPLES = ("chelsea", "astronaut", "coffee", "rocket")


@dataclass
class Services:
    """What every tab shares (one per app)."""

    gr: Any
    device: str
    limits: WebLimits
    files: JobFiles
    #: the browser tab's session id (a gr.State): whose job Cancel stops, whose gallery it is
    session: Any = None
    #: this browser tab's results (a gr.State of paths) and the gallery that shows them
    history: Any = None
    gallery: Any = None
    cancel_flags: dict[str, Running] = field(default_factory=dict)
    #: browser sessions whose job was asked for and waits in the queue (Cancel then takes it out)
    pending: set[str] = field(default_factory=set)
    #: each job event's button and its label (by the event's id), given back by Cancel
    buttons: dict[int, tuple[Any, str]] = field(default_factory=dict)
    #: (event, its download component) of every job: what it offered joins the gallery (wired in build_app)
    results: list[tuple[Any, Any]] = field(default_factory=list)
    #: the models trained here, offered by the Dream, Visualize and Style tabs
    trained: TrainedModels = field(default_factory=TrainedModels)

    def start_job(self, session: str) -> tuple[Running, str, Path]:
        """A new job of this browser tab's: its Cancel flag (which the Cancel button finds), its id and folder."""
        running = Running()
        self.cancel_flags[session] = running
        job, folder = self.files.new_job()
        return running, job, folder

    def cancel_job(self, session: str) -> tuple[Any, dict[str, Any]]:
        """Cancel this tab's job: (the status line once the work has stopped, what the work left in its notes).

        With nothing running the status stays as it was (a finished job's "done" is not turned into "cancelled").
        """
        running = self.cancel_flags.pop(session, None)
        if running is None or running.stopped.is_set():
            if session in self.pending:  # asked for, still in the queue: Gradio takes it out itself
                self.pending.discard(session)
                return "cancelled", {}
            return self.gr.skip(), {}
        running.cancel.set()
        # the work stops at its next step; say so once it has (Gradio may end the job's own stream first)
        if not running.stopped.wait(timeout=30):
            return "cancelling...", {}
        return running.notes.get("cancelled", "cancelled"), running.notes

    def cancel_button(self, stop: Any, status: Any, events: list[Any], download: Any = None) -> None:
        """``stop`` cancels ``events`` (this tab's jobs) and gives the action buttons back; with ``download``,
        what the cancelled work left there (``notes["download"]``: a partial result) is offered."""
        gr = self.gr

        def cancel(session: str) -> Any:
            said, notes = self.cancel_job(session)
            return said if download is None else (said, notes.get("download", gr.skip()))

        buttons = [self.buttons[id(event)] for event in events]
        stop.click(cancel, self.session, status if download is None else [status, download], cancels=events,
                   queue=False).then(
            lambda: [gr.Button(value=label, interactive=True) for _, label in buttons], None,
            [b for b, _ in buttons], queue=False, show_progress="hidden")

    @functools.cached_property
    def examples(self) -> list[str]:
        """scikit-image's pictures as files, for the tabs' Examples."""
        from inceptionism.io.images import load_sample

        folder = self.files.root / "examples"
        folder.mkdir(exist_ok=True)
        paths = []
        for name in EXAMPLES:
            path = folder / f"{EXAMPLE_PREFIX}{name}.png"
            if not path.exists():
                save_image(load_sample(name).rgb, path)
            paths.append(str(path))
        return paths

    def remember(self, event: Any, download: Any) -> None:
        """After ``event``, the file it offered for download joins this session's gallery."""

        def add(path: Any, history: list[str] | None) -> tuple[list[str], list[str]]:
            kept = list(history or [])
            path = getattr(path, "path", path)
            if path and str(path) not in kept and Path(str(path)).suffix.lower() in (".png", ".gif", ".jpg", ".webp",
                                                                                  ".mp4"):
                kept.insert(0, str(path))
            return kept[:24], kept[:24]

        event.then(add, [download, self.history], [self.gallery, self.history], queue=False)
