"""The Train tab: a style network from uploaded paintings and a zip of photos, or a dream model from a zip of
photos (class folders, or captions), trained in the background while the page shows its progress, its latest
preview sheet and its curves.

The run is the command line's own (``inceptionism train-style`` / ``train-dream`` in a child process), so it
writes what the command writes (checkpoints, ``NAME.log.csv``, ``NAME.previews/``), and the page reads those
files: a refreshed page, or another browser, finds the run where it is. One training runs at a time per
server; Cancel sends the child Ctrl-C, which saves the step in progress as a checkpoint. A finished (or
cancelled) model is offered at once in the Style tab ("Your networks") or in the Dream and Visualize
tabs' model lists. Zips are unpacked by :func:`inceptionism.io.archive.safe_extract` (nothing outside its
folder, no bombs); the web's upload limits and ``--auth`` apply as everywhere.
"""

from __future__ import annotations

import re
import shutil
from types import SimpleNamespace
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inceptionism.errors import InceptionismError
from inceptionism.web.app import Services, WebLimits, load_upload, log_line

KINDS = ("A style network (paintings + photos)", "A dream model (your photos)")
#: seconds between two looks at a running training from a page
POLL_S = 2.0
#: the most paintings one style network learns here
MAX_PAINTINGS = 8
#: the curves are drawn again at most this often (seconds)
CURVES_EVERY_S = 5.0


@dataclass
class TrainRun:
    """A training in its child process, and what the page says about it."""

    kind: str  # "style" or "dream"
    name: str
    model: Path
    folder: Path
    command: list[str]
    steps: int
    process: subprocess.Popen
    started: float = field(default_factory=time.time)
    #: what was started, as the page first said it ("3 styles, 300 steps"): kept while the networks load
    about: str = ""
    cancelled: bool = False
    code: int | None = None
    #: the last line the command said on stderr (its error, or its closing line)
    said: str = ""
    curves: tuple[int, float, str | None] = (0, 0.0, None)  # (rows drawn, when, the PNG)
    #: the log's rows as last read, and the file's (mtime, size) then: read again only when it has changed
    log: tuple[tuple[int, int], list[dict[str, float]]] = ((0, 0), [])

    def rows(self) -> list[dict[str, float]]:
        """The run's log (``NAME.log.csv``) as rows; every page's status and curves read it: once per change."""
        from inceptionism.errors import ConfigError
        from inceptionism.training.watch import log_path, read_log

        path = log_path(self.model)
        try:
            stat = path.stat()
        except OSError:
            return []
        key = (stat.st_mtime_ns, stat.st_size)
        if key != self.log[0]:
            try:
                self.log = (key, read_log(path))
            except ConfigError:
                return self.log[1]
        return self.log[1]

    @property
    def done(self) -> bool:
        return self.code is not None


class Trainer:
    """One training at a time for the whole server; every page reads the same run."""

    def __init__(self, s: Services, root: Path | None = None):
        self.s = s
        self.root = root
        self.lock = threading.Lock()
        self.run: TrainRun | None = None
        import atexit

        atexit.register(self.close)
        if root is not None:
            self._offer_existing(root)

    def folder(self) -> Path:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="inceptionism-trained-"))
        return self.root

    def _offer_existing(self, root: Path) -> None:
        """Models trained into ``--train-dir`` before this server started are offered too."""
        from inceptionism.models.dream_file import is_dream_model

        for path in sorted(root.glob("*/*.safetensors")):
            if path.name.endswith(".train.safetensors"):
                continue
            try:
                self.s.trained.add("dream" if is_dream_model(path) else "style", str(path))
            except (InceptionismError, OSError):
                continue

    def busy(self) -> TrainRun | None:
        with self.lock:
            return self.run if self.run is not None and not self.run.done else None

    def new_run_folder(self, name: str) -> tuple[str, Path]:
        """A fresh folder for a run named ``name`` (made unique: ``name-2``...)."""
        root = self.folder()
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_").lower()[:40] or "mine"
        unique, n = slug, 1
        while True:
            try:
                (root / unique).mkdir()
                return unique, root / unique
            except FileExistsError:
                n += 1
                unique = f"{slug}-{n}"

    def start(self, kind: str, name: str, folder: Path, args: list[str], steps: int, about: str = "") -> TrainRun:
        model = folder / f"{name}.safetensors"
        command = [sys.executable, "-m", "inceptionism", f"train-{kind}", *args, "-o", str(model), "-q",
                   "--device", self.s.device]
        with self.lock:
            if self.run is not None and not self.run.done:
                raise InceptionismError(f"a training is already running on this server ({self.run.name}): wait for "
                                        "it, or cancel it")
            import shlex

            (folder / "command.txt").write_text(shlex.join(command[1:]) + "\n")  # what runs, for whoever looks
            stderr = open(folder / "stderr.txt", "wb")
            try:
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=stderr, cwd=folder)
            finally:
                stderr.close()
            self.run = TrainRun(kind, name, model, folder, command, steps, process, about=about)
        threading.Thread(target=self._wait, args=(self.run,), daemon=True).start()
        return self.run

    def _wait(self, run: TrainRun) -> None:
        code = run.process.wait()
        lines = [line.strip() for line in (run.folder / "stderr.txt").read_text(errors="replace").splitlines()
                 if line.strip()]
        run.said = lines[-1].removeprefix("inceptionism: error: ") if lines else ""
        if run.model.is_file():  # finished, or cancelled with its checkpoint: offered in the other tabs
            self.s.trained.add(run.kind, str(run.model))
        run.code = code

    def cancel(self) -> str:
        """Ask the running training to stop: it saves the step in progress. SIGTERM, not Ctrl-C's SIGINT, which a
        server started with nohup or in the background hands its children ignored."""
        with self.lock:
            run = self.run
        if run is None or run.done:
            return "nothing is training"
        run.cancelled = True
        run.process.send_signal(signal.SIGTERM)
        try:
            run.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            return "cancelling... (the step in progress finishes first)"
        deadline = time.time() + 10
        while not run.done and time.time() < deadline:
            time.sleep(0.05)
        return status_line(run)


    def close(self) -> None:
        """The server stops: a running training saves its step and stops too (as Cancel does, with SIGTERM)."""
        run = self.run
        if run is not None and not run.done and run.process.poll() is None:
            run.cancelled = True
            run.process.send_signal(signal.SIGTERM)
            try:
                run.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                run.process.kill()


def status_line(run: TrainRun) -> str:
    """What the run is doing, in a line: its step, loss and pace, or how it ended."""
    rows = run.rows()
    last = rows[-1] if rows else {}
    step = int(last.get("step", 0))
    what = f"{run.kind} {'network' if run.kind == 'style' else 'model'} {run.name}"
    if run.done:
        if run.code == 0:
            return f"done: {what} trained ({step} steps): it is offered in the other tabs"
        if run.cancelled or run.code == 130:
            kept = f"; the model at step {step} is offered in the other tabs" if run.model.is_file() else ""
            return f"cancelled: {what} at step {step}{kept}"
        return f"error: {run.said or f'the training stopped (exit code {run.code})'}"
    if not rows:
        return f"starting: {what} ({run.about}): loading the networks and the pictures" if run.about else \
            f"starting: {what}: loading the networks and the pictures"
    pace = last.get("seconds", 0) / max(1, step)
    left = pace * (run.steps - step)
    held = {k.removeprefix("val_"): v for r in rows for k, v in r.items() if k.startswith("val_")}
    figures = "".join(f", held-out {k.replace('_', ' ')} {v:.3g}" for k, v in list(held.items())[:1])
    return (f"training: {what}: step {step} of {run.steps}, loss {last.get('loss', float('nan')):.3g}{figures}, "
            f"{pace:.2f} s a step, about {_duration(left)} left")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def latest_preview(run: TrainRun) -> str | None:
    from inceptionism.training.watch import previews_folder

    sheets = sorted(previews_folder(run.model).glob("step_*.png"))
    return str(sheets[-1]) if sheets else None


def curves_png(run: TrainRun) -> str | None:
    """The run's curves as a PNG (drawn again when the log has grown and a few seconds have passed)."""
    from inceptionism.io.images import atomic_write
    from inceptionism.training.curves import draw_curves

    drawn, when, path = run.curves
    if time.time() - when < CURVES_EVERY_S and not run.done:
        return path
    rows = run.rows()
    if len(rows) == drawn or not rows:
        return path
    try:
        image = draw_curves(rows, f"{run.name}: {len(rows)} steps", width_px=900, height_px=340)
    except InceptionismError:  # (no matplotlib: the page shows no curves, the rest goes on)
        return path
    target = run.folder / f"curves-{len(rows):06d}.png"
    atomic_write(target, lambda tmp: image.save(tmp, format="PNG"))
    if path and path != str(target):
        Path(path).unlink(missing_ok=True)
    run.curves = (len(rows), time.time(), str(target))
    return str(target)


def unpack(zip_path: str, folder: Path, limits: WebLimits) -> Path:
    """A zip upload unpacked into ``folder/photos`` (safely); the folder its pictures are in (a lone top folder
    is stepped into, as a zipped folder holds one)."""
    from inceptionism.io.archive import safe_extract

    target = folder / "photos"
    safe_extract(zip_path, target, max_files=limits.max_zip_files, max_bytes=limits.max_zip_bytes,
                 what=Path(zip_path).name)
    root = target
    while True:
        entries = [p for p in root.iterdir()]
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
        else:
            return root


def _start_style(trainer: Trainer, limits: WebLimits, name_value: str, files: list[str], zip_path: str | None,
                 steps: float | None, size: float) -> str:
    """A style network's training started in the background from the uploads (checked first); its first line."""
    from inceptionism.training.data import find_images

    if not files or not zip_path:
        raise InceptionismError("upload at least one painting and a .zip of photos")
    if len(files) > MAX_PAINTINGS:
        raise InceptionismError(f"{len(files)} paintings: at most {MAX_PAINTINGS} per network here")
    n = int(steps or 0)
    if not 10 <= n <= limits.max_train_steps:
        raise InceptionismError(f"steps must be 10 to {limits.max_train_steps} here, got {n}")
    for f in files:
        load_upload(f, limits, "painting ")
    unique, folder = trainer.new_run_folder(name_value)
    try:
        styles = []
        for f in files:  # each painting under its own name (the style's name in the model), made unique
            target = folder / "paintings" / Path(f).name
            target.parent.mkdir(exist_ok=True)
            copy = 1
            while target.exists():
                copy += 1
                target = target.with_name(f"{Path(f).stem}-{copy}{Path(f).suffix}")
            shutil.copyfile(f, target)
            styles += ["--style", str(target)]
        data = unpack(zip_path, folder, limits)
        if not find_images(data):
            raise InceptionismError(f"{Path(zip_path).name} holds no pictures")
    except InceptionismError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    every = max(5, n // 10)
    run = trainer.start("style", unique, folder, [*styles, "--data", str(data), "--steps", str(n),
                                                  "--image-size", str(int(size)), "--checkpoint-every", str(every),
                                                  "--preview-every", str(every)], n,
                        about=f"{len(files)} style{'s' if len(files) > 1 else ''}, {n} steps")
    return f"starting: style network {unique} ({run.about})"

def _start_dream(trainer: Trainer, limits: WebLimits, name_value: str, zip_path: str | None,
                 n_epochs: float | None, side: float, n_topics: float | None) -> str:
    """A dream model's training started in the background from the uploaded collection; its first line."""
    from inceptionism.dream.train import DreamTrainConfig, read_collection, split

    if not zip_path:
        raise InceptionismError("upload a .zip of your photos")
    unique, folder = trainer.new_run_folder(name_value)
    try:
        data = unpack(zip_path, folder, limits)
        captions = [p for p in data.iterdir() if p.suffix.lower() in (".csv", ".jsonl") and p.is_file()]
        source = captions[0] if len(captions) == 1 else data
        k = int(n_topics or 12)
        labelled = read_collection(source, DreamTrainConfig(topics=k))  # a bad collection: one line, here
        train_idx, _ = split(labelled, DreamTrainConfig().val, 0)
        batch = max(1, min(16, len(train_idx) // 2))
        steps_per_epoch = len(train_idx) // batch
        n = int(n_epochs or 5)
        if steps_per_epoch * n > limits.max_train_steps:
            n = max(1, limits.max_train_steps // max(1, steps_per_epoch))
    except InceptionismError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # a preview at every epoch, whatever it costs: seeing the model learn is what the page is for
    run = trainer.start("dream", unique, folder, [str(source), "--epochs", str(n), "--batch-size", str(batch),
                                                  "--image-size", str(int(side)), "--topics", str(k),
                                                  "--preview-every", str(max(1, steps_per_epoch))],
                        n * steps_per_epoch, about=f"{len(labelled.images)} photos, {labelled.collection.count} "
                                                   f"{labelled.collection.kind}, {n} epochs")
    return f"starting: dream model {unique} ({run.about})"


#: the Train button's words when it can be pressed
TRAIN = "Train"


def _refuse(gr: Any, message: str) -> None:
    """A visitor's mistake on arrival: a toast and one line in the log."""
    import warnings

    with warnings.catch_warnings():  # gr.Warning also warns in Python: the log line says it once
        warnings.simplefilter("ignore")
        gr.Warning(log_line(message))


def _check_uploads(gr: Any, s: Services, c: SimpleNamespace) -> None:
    """Paintings and zips checked the moment they arrive: what cannot be used is refused in one line and taken
    out of the box (a text file as a painting, a .zip that is no zip, a zip that would escape its folder)."""
    from inceptionism.io.archive import check_archive

    def paintings(files: list[str] | None) -> Any:
        kept = []
        for path in files or []:
            try:
                load_upload(path, s.limits, "painting ")
            except InceptionismError as exc:
                _refuse(gr, str(exc))
            else:
                kept.append(path)
        return kept if len(kept) != len(files or []) else gr.skip()

    def archive(path: str | None) -> Any:
        if not path:
            return gr.skip()
        try:
            check_archive(path, max_files=s.limits.max_zip_files, max_bytes=s.limits.max_zip_bytes,
                          what=Path(path).name)
        except InceptionismError as exc:
            _refuse(gr, str(exc))
            return None
        return gr.skip()

    # queued (toasts reach the page only from queued events), never waiting for a job
    c.paintings.upload(paintings, c.paintings, c.paintings, show_progress="hidden", concurrency_limit=None)
    for box in (c.photos, c.collection):
        box.upload(archive, box, box, show_progress="hidden", concurrency_limit=None)


def _train_controls(gr: Any, s: Services) -> SimpleNamespace:
    """The tab's controls (what to train, from what) and its result column (progress, preview, curves, model)."""
    gr.Markdown("Train your own network here; it runs in the background (leave the page, come back: it is still "
                "going) and its preview sheets and curves appear as it learns. One training at a time per server.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            kind = gr.Radio(list(KINDS), value=KINDS[0], label="Train", elem_id="train-kind")
            name = gr.Textbox(value="mine", label="Name of the model", elem_id="train-name")
            with gr.Group(visible=True) as style_box:
                paintings = gr.File(file_count="multiple", file_types=["image"], type="filepath",
                                    label=f"Paintings (1 to {MAX_PAINTINGS}): one style each",
                                    elem_id="train-paintings")
                photos = gr.File(file_types=[".zip"], type="filepath", elem_id="train-photos",
                                 label="Photos to learn on: a .zip of pictures (any folders)")
                with gr.Row():
                    style_steps = gr.Number(value=300, precision=0, minimum=10, maximum=s.limits.max_train_steps,
                                            label=f"Steps (at most {s.limits.max_train_steps})",
                                            elem_id="train-style-steps")
                    style_size = gr.Slider(64, 512, value=256, step=32, label="Training crop size (px)",
                                           elem_id="train-style-size")
            with gr.Group(visible=False) as dream_box:
                collection = gr.File(file_types=[".zip"], type="filepath", elem_id="train-collection",
                                     label="A .zip of your photos: one folder per class, or pictures with a .txt "
                                           "caption each (or a captions.csv / .jsonl with image and caption columns)")
                with gr.Row():
                    epochs = gr.Number(value=5, precision=0, minimum=1, maximum=100, label="Epochs (passes over the "
                                       "photos)", elem_id="train-epochs")
                    dream_size = gr.Slider(96, 320, value=224, step=32, label="Training crop size (px)",
                                           elem_id="train-dream-size")
                    topics = gr.Number(value=12, precision=0, minimum=2, maximum=100,
                                       label="Topics (a captions collection)", elem_id="train-topics")
        with gr.Column(scale=4, elem_classes=["result-column"]):
            with gr.Row():
                run_button = gr.Button(TRAIN, variant="primary", elem_id="train-run")
                stop = gr.Button("Cancel", elem_id="train-cancel")
            status = gr.Textbox(label="Progress", interactive=False, elem_id="train-status")
            sheet = gr.Image(label="Latest preview", type="filepath", interactive=False, elem_id="train-preview",
                             height=360)
            curves = gr.Image(label="Curves (from the run's log)", type="filepath", interactive=False,
                              elem_id="train-curves", height=240)
            model_file = gr.File(label="The model (download to keep it)", interactive=False, elem_id="train-model")
    return SimpleNamespace(**{name: value for name, value in locals().items() if name in ('kind', 'name', 'style_box', 'paintings', 'photos', 'style_steps', 'style_size', 'dream_box', 'collection', 'epochs', 'dream_size', 'topics', 'run_button', 'stop', 'status', 'sheet', 'curves', 'model_file')})


def train_tab(gr: Any, s: Services, trainer: Trainer) -> None:
    c = _train_controls(gr, s)
    _check_uploads(gr, s, c)
    seen = gr.State(0)  # the version of the trained-models list this page shows
    polled = gr.State("")  # the progress line this page's last poll sent

    def on_kind(value: str) -> tuple[Any, Any]:
        return gr.Group(visible=value == KINDS[0]), gr.Group(visible=value == KINDS[1])

    c.kind.change(on_kind, c.kind, [c.style_box, c.dream_box], queue=False)

    def current_line() -> str:
        """The progress line a poll would send now ("" with no run)."""
        run = trainer.run
        return "" if run is None else status_line(run)

    def start(*values: Any) -> tuple[str, str]:
        """The click's line, and the poll's current line as this page's last polled one (so the next poll
        replaces the click's line only when the run's own line changes)."""
        said = start_run(*values)
        return said, current_line()

    def cancel() -> tuple[str, str]:
        said = trainer.cancel()
        return said, current_line()

    def start_run(kind_value: str, name_value: str, painting_files: list[str] | None, photos_zip: str | None,
                  steps: float | None, size: float, collection_zip: str | None, n_epochs: float | None,
                  dream_side: float, n_topics: float | None) -> str:
        try:
            running = trainer.busy()
            if running is not None:
                raise InceptionismError(f"a training is already running on this server ({running.name}): "
                                        "wait for it, or cancel it")
            if kind_value == KINDS[0]:
                return _start_style(trainer, s.limits, name_value, painting_files or [], photos_zip, steps, size)
            return _start_dream(trainer, s.limits, name_value, collection_zip, n_epochs, dream_side, n_topics)
        except InceptionismError as exc:
            _refuse(gr, str(exc))
            return f"error: {exc}"

    def look(seen_version: int, polled: str) -> list[Any]:
        """What a page shows of the server's training (every page polls the same run).

        The progress line is sent only when it differs from ``polled``, the line this page last had from a
        poll or a click: a refusal said by a click stays, not wiped by an earlier run's unchanged line.
        """
        run = trainer.run
        listeners, version = s.trained.updates(gr, seen_version)
        button = gr.Button(value="Training...", interactive=False) if run is not None and not run.done else \
            gr.Button(value=TRAIN, interactive=True)  # busy while the server trains, for every page
        if run is None:
            return [gr.skip(), gr.skip(), gr.skip(), gr.skip(), *listeners, version, polled, button]
        line = status_line(run)
        return [line if line != polled else gr.skip(), latest_preview(run) or gr.skip(),
                curves_png(run) or gr.skip(), str(run.model) if run.done and run.model.is_file() else gr.skip(),
                *listeners, version, line, button]

    inputs = [c.kind, c.name, c.paintings, c.photos, c.style_steps, c.style_size, c.collection, c.epochs, c.dream_size, c.topics]
    starting = c.run_button.click(lambda: gr.Button(value="Starting...", interactive=False), None, c.run_button,
                                  queue=False, show_progress="hidden")
    starting.then(start, inputs, [c.status, polled], concurrency_limit=None, api_name="train").then(
        lambda: gr.Button(value="Training..." if trainer.busy() else TRAIN, interactive=not trainer.busy()), None,
        c.run_button, queue=False, show_progress="hidden")
    c.stop.click(cancel, None, [c.status, polled], queue=False)
    timer = gr.Timer(POLL_S)
    outputs = [c.status, c.sheet, c.curves, c.model_file, *s.trained.components(), seen, polled, c.run_button]
    timer.tick(look, [seen, polled], outputs, queue=False, show_progress="hidden")
