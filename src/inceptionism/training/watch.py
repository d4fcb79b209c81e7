"""Watching a training run: a log of figures, preview sheets, and TensorBoard.

Every run appends one row per step to ``NAME.log.csv`` beside the model (step, the
seconds since the run began, the loss and its terms, the learning rate, the gradient
norm, samples per second, and the held-out figures on the steps that measured them);
``--resume`` continues the same file, dropping rows past the step it resumes from.
A preview sheet (``NAME.previews/step_000500.png``, the run's settings in its
metadata) shows what the network does so far. With ``log_dir`` the same figures and
sheets go to TensorBoard event files in ``log_dir/NAME``, so that
``tensorboard --logdir DIR`` shows several runs side by side.

Previews cost time; at the default cadence (every checkpoint) a preview is left out
when previews would take more than :data:`PREVIEW_BUDGET` of the run's training time
so far (a preview asked for with an explicit ``preview_every`` is always made).

:class:`Watch` is a callback for :func:`inceptionism.training.fit`; the library never
prints, the files are the report.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from PIL import Image

from inceptionism.errors import ConfigError, InceptionismError, first_line
from inceptionism.io.images import atomic_write
from inceptionism.training.loop import TrainStep

log = logging.getLogger(__name__)

#: the most of a run's training time that previews made at the default cadence may take
PREVIEW_BUDGET = 0.05

#: what a preview function returns: the sheet, and held-out figures measured on its pictures (may be empty)
Preview = Callable[[int], "tuple[Image.Image, dict[str, float]]"]


def log_path(model_path: str | os.PathLike[str]) -> Path:
    """``NAME.log.csv`` beside ``NAME.safetensors``."""
    p = Path(model_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".log.csv")


def previews_folder(model_path: str | os.PathLike[str]) -> Path:
    """``NAME.previews/`` beside ``NAME.safetensors``."""
    p = Path(model_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".previews")


def preview_name(step: int) -> str:
    return f"step_{step:06d}.png"


def columns(terms: Sequence[str], held_out: Sequence[str]) -> list[str]:
    """The log's columns: step and time, the loss and its terms, the optimiser's figures, then held-out ones."""
    return ["step", "seconds", "loss", *terms, "lr", "grad_norm", "samples_per_s", *held_out]


def read_log(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """The rows of a ``NAME.log.csv``, each a dict of the cells that hold a number."""
    rows = []
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                cells = {}
                for key, value in row.items():
                    if key is None or value in (None, ""):
                        continue
                    try:
                        cells[key] = float(value)
                    except ValueError:
                        continue
                if "step" in cells:
                    rows.append(cells)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no training log (a model trained before logs were written, or not a "
                          "train-style / train-dream model)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read the training log: {exc}") from None
    return rows


def check_tensorboard() -> None:
    """One clear line, before a run starts, when ``--log-dir`` is asked for without TensorBoard installed."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError("--log-dir writes TensorBoard files and needs the tensorboard package: "
                          "pip install 'inceptionism[tensorboard]'") from None


def tensorboard_writer(log_dir: str | os.PathLike[str], name: str, purge_step: int | None) -> Any:
    """A TensorBoard ``SummaryWriter`` for one run, ``log_dir/name``; a clear line when TensorBoard is missing."""
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    folder = Path(log_dir) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--log-dir {log_dir}: cannot make {folder}: {exc.strerror or exc}") from None
    return SummaryWriter(os.fspath(folder), purge_step=purge_step)


class Watch:
    """A :func:`~inceptionism.training.fit` callback that writes the log, the previews and TensorBoard's files.

    ``terms`` and ``held_out`` name the log's extra columns (``held_out`` figures come from
    the step's metrics or from ``preview``). ``preview_every``: ``None`` for every
    checkpoint within the budget, 0 for never, N for every N steps (and the last).
    ``settings`` go into every preview's metadata; ``preview_cost`` estimates a preview's seconds
    before the first is made (so that a short run is not made much longer by its one preview).
    Use as a context manager (it closes its files).
    """

    def __init__(self, output: str | os.PathLike[str], *, steps: int, start_step: int = 0, resume: bool = False,
                 terms: Sequence[str] = (), held_out: Sequence[str] = (), checkpoint_every: int = 0,
                 preview_every: int | None = None, preview: Preview | None = None, log_dir: str | None = None,
                 settings: dict[str, Any] | None = None, preview_cost: Callable[[], float] | None = None):
        if preview_every is not None and preview_every < 0:
            raise ConfigError(f"--preview-every must be 0 (never) or more, got {preview_every}")
        self.output = Path(output)
        self.steps, self.checkpoint_every = steps, checkpoint_every
        self.preview_every, self.preview = preview_every, preview
        #: seconds a preview will take, measured cheaply before the first one (None: the first is always made)
        self.preview_cost = preview_cost
        self.settings = dict(settings or {})
        self.columns = columns(terms, held_out)
        self.path = log_path(output)
        self.folder = previews_folder(output)
        self.writer = tensorboard_writer(log_dir, self.output.name.removesuffix(".safetensors"),
                                         start_step + 1 if resume else None) if log_dir else None
        self.started = time.perf_counter()
        self.offset = self._open_log(start_step, resume)
        self.train_s = 0.0
        self.preview_s = 0.0
        self.last_preview_s = 0.0
        self.previews: list[Path] = []
        self.skipped_previews = 0

    # -- the log ---------------------------------------------------------------
    def _open_log(self, start: int, resume: bool) -> float:
        """Start the log (or, resuming, keep its rows up to ``start``); returns the seconds already logged."""
        kept: list[dict[str, str]] = []
        if resume and self.path.is_file():
            try:
                with open(self.path, newline="") as f:
                    reader = csv.DictReader(f)
                    kept = [row for row in reader if _number(row.get("step")) <= start]
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                log.warning("%s: unreadable (%s): a new log starts", self.path, exc)
                kept = []

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                out = csv.DictWriter(f, self.columns, extrasaction="ignore")
                out.writeheader()
                out.writerows(kept)

        try:
            atomic_write(self.path, write)
            self.file = open(self.path, "a", newline="")
        except OSError as exc:
            raise InceptionismError(f"cannot write the training log {self.path}: {exc.strerror or exc}") from None
        self.csv = csv.DictWriter(self.file, self.columns, extrasaction="ignore")
        return max((_number(r.get("seconds"), 0.0) for r in kept), default=0.0)

    def __call__(self, s: TrainStep) -> None:
        self.train_s += s.seconds
        row: dict[str, Any] = {"step": s.step, "loss": _cell(s.loss), "lr": f"{s.lr:.6g}",
                               "grad_norm": _cell(s.grad_norm), "samples_per_s": f"{s.samples_per_s:.4g}",
                               **{k: _cell(v) for k, v in s.terms.items()},
                               **{f"val_{k}": _cell(v) for k, v in s.metrics.items()}}
        figures = {**{f"train/{k}": v for k, v in s.terms.items()},
                   **{f"held_out/{k}": v for k, v in s.metrics.items()}}
        if self._preview_due(s.step):
            started = time.perf_counter()
            try:
                sheet, measured = self.preview(s.step)  # type: ignore[misc]
            except (RuntimeError, ValueError, OSError) as exc:  # a preview is not worth the run: it goes on
                log.warning("step %d: the preview failed (%s); training goes on", s.step, first_line(exc))
                sheet, measured = None, {}
            if sheet is not None:
                self._write_preview(sheet, s.step)
            self.last_preview_s = time.perf_counter() - started
            self.preview_s += self.last_preview_s
            row.update({f"val_{k}": _cell(v) for k, v in measured.items()})
            figures.update({f"held_out/{k}": v for k, v in measured.items()})
            if self.writer is not None and sheet is not None:
                import numpy as np

                self.writer.add_image("preview", np.asarray(sheet.convert("RGB")), s.step, dataformats="HWC")
        row["seconds"] = f"{self.offset + time.perf_counter() - self.started:.3f}"
        self.csv.writerow(row)
        self.file.flush()
        if self.writer is not None:
            scalars = {"train/loss": s.loss, "train/lr": s.lr, "train/grad_norm": s.grad_norm,
                       "train/samples_per_s": s.samples_per_s, **figures}
            for tag, value in scalars.items():
                if math.isfinite(value):
                    self.writer.add_scalar(tag, value, s.step)

    # -- previews --------------------------------------------------------------
    def _preview_due(self, step: int) -> bool:
        if self.preview is None or self.preview_every == 0:
            return False
        if self.preview_every is not None:
            return step % self.preview_every == 0 or step == self.steps
        if not (self.checkpoint_every and step % self.checkpoint_every == 0 or step == self.steps):
            return False
        if not self.previews and self.preview_cost is not None and not self.last_preview_s:
            self.last_preview_s = self.preview_cost()  # the estimate stands in for the last preview's time
        if self.preview_s + self.last_preview_s > PREVIEW_BUDGET * self.train_s:
            self.skipped_previews += 1
            if self.skipped_previews == 1:
                log.info("previews left out at step %d: they would take over %.0f%% of the training time "
                         "(--preview-every N makes them every N steps)", step, 100 * PREVIEW_BUDGET)
            return False
        return True

    def _write_preview(self, sheet: Image.Image, step: int) -> None:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("inceptionism", json.dumps({**self.settings, "step": step, "model": os.fspath(self.output)},
                                                 default=str))
        path = self.folder / preview_name(step)
        try:
            self.folder.mkdir(exist_ok=True)
            atomic_write(path, lambda tmp: sheet.convert("RGB").save(tmp, format="PNG", pnginfo=info))
        except OSError as exc:
            raise InceptionismError(f"cannot write the preview {path}: {exc.strerror or exc}") from None
        self.previews.append(path)

    def close(self) -> None:
        self.file.close()
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _number(text: Any, default: float = math.inf) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def _cell(value: float) -> str:
    return f"{value:.6g}"


def chain(*callbacks: Callable[[TrainStep], None] | None) -> Callable[[TrainStep], None]:
    """One callback that calls each given one in turn."""
    chosen = [c for c in callbacks if c is not None]

    def call(s: TrainStep) -> None:
        for c in chosen:
            c(s)

    return call
