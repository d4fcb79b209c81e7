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
from typing import Any, Iterator

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


class Cancelled(Exception):
    """Raised from a dream's callback when the user pressed Cancel."""


@functools.lru_cache(maxsize=2)
def network(name: str | None, weights: str | None, device: str) -> Any:
    return get_model(name, weights=weights, device=device, progress=False)


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
    #: (event, its download component) of every job: what it offered joins the gallery (wired in build_app)
    results: list[tuple[Any, Any]] = field(default_factory=list)

    def start_job(self, session: str) -> tuple[Running, str, Path]:
        """A new job of this browser tab's: its Cancel flag (which the Cancel button finds), its id and folder."""
        running = Running()
        self.cancel_flags[session] = running
        job, folder = self.files.new_job()
        return running, job, folder

    def cancel_job(self, session: str) -> str:
        running = self.cancel_flags.pop(session, None)
        if running is None:  # nothing had started: Gradio takes a queued job out of the queue itself
            return "cancelled"
        running.cancel.set()
        # the work stops at its next step; say so once it has (Gradio may end the job's own stream first)
        return "cancelled" if running.stopped.wait(timeout=30) else "cancelling..."

    @functools.cached_property
    def examples(self) -> list[str]:
        """scikit-image's pictures as files, for the tabs' Examples."""
        from inceptionism.io.images import load_sample

        folder = self.files.root / "examples"
        folder.mkdir(exist_ok=True)
        paths = []
        for name in EXAMPLES:
            path = folder / f"{name}.png"
            if not path.exists():
                save_image(load_sample(name).rgb, path)
            paths.append(str(path))
        return paths

    def remember(self, event: Any, download: Any) -> None:
        """After ``event``, the file it offered for download joins this session's gallery."""

        def add(path: Any, history: list[str] | None) -> tuple[list[str], list[str]]:
            kept = list(history or [])
            path = getattr(path, "path", path)
            if path and str(path) not in kept and Path(str(path)).suffix.lower() in (".png", ".gif", ".jpg", ".webp"):
                kept.insert(0, str(path))
            return kept[:24], kept[:24]

        event.then(add, [download, self.history], [self.gallery, self.history], queue=False)
