"""Batch runs: where each input's result goes, many items here or on Ray workers (a bad item never stops the
rest), the closing summary, and the model files trainers write."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from inceptionism.cli.common import PROG
from inceptionism.errors import ConfigError, InceptionismError, Interrupted, OutputError
from inceptionism.progress import progress_bar


def input_targets(inputs: list[str], output: str) -> list[tuple[str, Path]]:
    """Each input with where its result goes.

    One input: ``output`` itself. Several, or a folder among them: ``output`` is a
    folder, and each result is ``output/NAME.png`` (a folder's images keep their
    paths below it). Two inputs that would write one file are refused.
    """
    from inceptionism.io.images import SAMPLE_PREFIX
    from inceptionism.training.data import IMAGE_SUFFIXES

    out = Path(output)
    pairs: list[tuple[str, Path]] = []
    folders = False
    for item in inputs:
        path = Path(item)
        if not item.startswith(SAMPLE_PREFIX) and path.is_dir():
            folders = True
            from inceptionism.training.data import walk_images

            found = walk_images(path)  # links to folders followed, each folder once
            if not found:
                raise ConfigError(f"{item}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
            pairs += [(str(f), f.relative_to(path).with_suffix(".png")) for f in found]
        else:
            pairs.append((item, Path(Path(item.replace(SAMPLE_PREFIX, "")).stem + ".png")))
    if len(pairs) == 1 and not folders and not out.is_dir():
        return [(pairs[0][0], out)]
    if out.exists() and not out.is_dir():
        raise OutputError(f"{output}: several inputs need an output folder, not a file")
    seen: dict[Path, str] = {}
    for source, name in pairs:
        if name in seen:
            raise ConfigError(f"{seen[name]} and {source} would both be written to {out / name}: rename one")
        seen[name] = source
    try:
        for parent in {(out / name).parent for _, name in pairs}:
            parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create the output folder: {exc.strerror or exc}") from exc
    return [(source, out / name) for source, name in pairs]


def model_file_output(output: str, *, resume: bool) -> Path:
    """Check a model file to be written by a trainer: ``.safetensors``, in an existing folder, not clobbering."""
    out = Path(output)
    if out.suffix != ".safetensors":
        raise ConfigError(f"{output}: the model file must end in .safetensors")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise ConfigError(f"{output}: the folder {out.parent} does not exist")
    if out.exists() and not resume:
        raise ConfigError(f"{output} exists: add --resume to continue its training, or choose another name")
    if resume and not out.exists():
        raise ConfigError(f"{output}: nothing to resume (no such model file)")
    return out


@dataclass
class ItemsReport:
    total: int
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Item:
    """One item of a batch: the runner's key, its payload (made when it runs), and where its result goes."""

    key: str
    load: Callable[[], Any]
    #: the file its result is written to, atomically; None: the batch's ``keep`` takes the result (a sweep's cell)
    target: Path | None = None
    #: the recipe its output would carry, for ``--resume`` (an output made by it is kept); None: never skipped
    recipe: Callable[[], dict[str, Any] | None] | None = None


def run_batch(args: argparse.Namespace, job: Any, items: list[Item], *, what: str, unit: str = "image",
              runner: Any = None, keep: Callable[[str, Any], None] | None = None, record: bool = True) -> ItemsReport:
    """The batch skeleton every command shares: skip the items whose output this recipe already made
    (``--resume``), run the rest here or on Ray, write each result whole (or hand it to ``keep``), and count.
    ``record``: each output goes into ``--json``'s report."""
    from inceptionism.cli.recipes import recipe_matches
    from inceptionism.io.images import write_bytes

    todo, skipped = [], 0
    for item in items:
        if getattr(args, "resume", False) and item.target is not None and item.recipe is not None \
                and item.target.is_file():
            expected = item.recipe()
            if expected is not None and recipe_matches(item.target, expected):
                skipped += 1
                if record:
                    args.report.output(item.target, input=item.key, status="skipped")
                continue
        todo.append(item)
    where = {item.key: item.target for item in todo}

    def write(key: str, value: Any) -> None:
        target = where[key]
        if target is None:
            assert keep is not None, "an item without a target needs the batch's keep"
            keep(key, value)
            return
        write_bytes(target, value)
        if record:
            args.report.output(target, input=key)

    report = _run(args, job, [(item.key, item.load) for item in todo], write, what=what, unit=unit, runner=runner)
    report.total += skipped
    report.skipped = skipped
    return report


def _run(args: argparse.Namespace, job: Any, items: list[tuple[str, Callable[[], Any]]],
         write: Callable[[str, Any], None], *, what: str, unit: str = "image", runner: Any = None) -> ItemsReport:
    """Run ``job`` over ``items`` here (in order) or on Ray (``--ray``); ``write(key, value)`` each result.

    A failing item is reported and the others go on; the caller turns the report
    into the closing summary. Ctrl-C keeps what is written.
    """
    report = ItemsReport(total=len(items))
    bar = progress_bar(len(items), what, args.quiet, unit=unit, leave=True)

    def on_result(status: str, key: str, value: Any) -> None:
        if status == "ok":
            try:
                write(key, value)
            except OutputError as exc:  # a full disk: the rest would fail too
                raise OutputError(f"{exc}; {report.done} of {report.total} {unit}s are written"
                                  + (f"; make room and {resume}" if resume else "")) from None
            report.done += 1
        else:
            report.failed.append((key, value))
            if hasattr(args, "report"):
                args.report.output(None, input=key, status="failed", error=value)
        bar.update(1)

    resume = "add --resume to go on" if hasattr(args, "resume") else ""
    try:
        if getattr(args, "ray", None):
            from inceptionism import cluster

            connection = cluster.connect(args.ray)
            try:
                if not args.quiet:
                    bar.write(f"{PROG}: Ray at {connection.address} ({connection.seconds:.1f} s to connect), "
                              f"{int(connection.resources.get('CPU', 0))} CPUs, {int(connection.resources.get('GPU', 0))} GPUs")
                cluster.run_items(job.portable(), items, on_result, connection=connection, workers=args.ray_workers,
                                  cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker)
            finally:
                cluster.disconnect(connection)
        else:
            runner = runner or job.setup()
            for key, load in items:
                try:
                    value = runner.run(key, load())
                except InceptionismError as exc:
                    on_result("error", key, str(exc))
                else:
                    on_result("ok", key, value)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {report.done} of {report.total} {unit}s are written"
                          + (f"; {resume}" if resume else "")) from None
    finally:
        bar.close()
    return report


def finish_items(report: ItemsReport, what: str, quiet: bool) -> int:
    """The closing summary: every failed item on a line of its own, then the count; exit 1 if any failed."""
    for key, reason in report.failed:
        print(f"{PROG}: error: {reason if key in reason else f'{key}: {reason}'}", file=sys.stderr)
    parts = [f"{report.done} written"]
    if report.skipped:
        parts.append(f"{report.skipped} already done (--resume)")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if not quiet or report.failed:
        print(f"{PROG}: {what}: {', '.join(parts)} of {report.total}", file=sys.stderr)
    return 1 if report.failed else 0
