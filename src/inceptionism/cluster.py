"""Many items on a Ray cluster: actors that load the network once and take items as they come.

``run_items(job, items, ...)`` starts ``workers`` actors, each with its share of
CPUs (and GPUs where there are some), each running ``job.setup()`` once; items
stream through them, a few in flight per actor, and every result comes back to
the driver as soon as it is done, which writes it (atomically) and counts it.

Why actors and ``ray.wait`` rather than Ray Data: each item is one file in and one
file out, with an outcome of its own (written, skipped, failed) that the driver
reports; there is one stage and no shuffling or columnar batching for Ray Data to
pay for. Actors keep the loaded network between items, which is what matters.

Faults: an item whose own work fails (a broken image) comes back as an error
and the rest go on; a worker process that dies is restarted by Ray and its items
retried there (``max_restarts``/``max_task_retries``, bounded), and an item whose
worker stays dead is reported too. Ctrl-C kills the actors: what is finished is
written already, the rest is not started.

Results are bit for bit those of the sequential run when each process uses the
same number of threads (torch's CPU kernels round differently with other thread
counts, and a dream amplifies that): a worker uses as many as its CPUs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from inceptionism.errors import ConfigError, InceptionismError

log = logging.getLogger(__name__)

INSTALL = "pip install 'inceptionism[cluster]'"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray needs Ray: {INSTALL}") from None
    return ray


@dataclass
class Connection:
    """A Ray connection; ``started`` when this process started a local Ray, which it then shuts down."""

    address: str
    started: bool
    seconds: float
    resources: dict[str, float] = field(default_factory=dict)


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Connection:
    """Join Ray: a local one started here (``None`` or ``local``), a running cluster (``auto``), or ``ray://HOST:PORT``."""
    ray = _ray()
    started = time.perf_counter()
    if ray.is_initialized():
        return Connection(address or "local", False, 0.0, dict(ray.cluster_resources()))
    quiet = dict(include_dashboard=False, log_to_driver=True, configure_logging=False, logging_level=logging.ERROR)
    try:
        if address in (None, "", "local"):
            ray.init(num_cpus=num_cpus, **quiet)
        else:
            ray.init(address=address, **{k: v for k, v in quiet.items() if k != "include_dashboard"})
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "start a local Ray" if address in (None, "", "local") else f"reach the Ray cluster at {address}"
        raise ConfigError(f"could not {where}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None
    return Connection(address or "local", True, time.perf_counter() - started, dict(ray.cluster_resources()))


def disconnect(connection: Connection) -> None:
    if connection.started:
        _ray().shutdown()


class Worker:
    """One Ray actor: ``job.setup()`` once, then ``process`` item after item."""

    def __init__(self, job: Any, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.runner = job.setup()

    def process(self, key: str, payload: Any) -> tuple[str, str, Any]:
        try:
            return "ok", key, self.runner.run(key, payload)
        except InceptionismError as exc:
            return "error", key, str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad item is reported, the others go on
            return "error", key, f"{type(exc).__name__}: {exc}"


@dataclass
class Summary:
    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    workers: int = 0
    startup_s: float = 0.0


def worker_count(resources: dict[str, float], workers: int | None, cpus: float, gpus: float) -> int:
    """As many workers as asked for, else as fit the cluster: by GPUs where there are some, else by CPUs."""
    if workers is not None:
        if workers < 1:
            raise ConfigError(f"--ray-workers must be at least 1, got {workers}")
        return workers
    if gpus > 0 and resources.get("GPU", 0) >= gpus:
        return max(1, int(resources["GPU"] // gpus))
    return max(1, int(resources.get("CPU", 1) // max(cpus, 1e-9)))


def run_items(
    job: Any,
    items: Iterable[tuple[str, Callable[[], Any]]],
    on_result: Callable[[str, str, Any], None],
    *,
    connection: Connection,
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float | None = None,
    max_retries: int = 2,
    in_flight: int = 2,
) -> Summary:
    """Run ``job`` over ``items`` on Ray actors; ``on_result(status, key, value)`` for each as it finishes.

    ``items`` yields ``(key, load)`` pairs: ``load()`` gives the payload, called only
    when the item is handed to a worker, so thousands of inputs are never all in memory.
    """
    ray = _ray()
    gpus = gpus_per_worker if gpus_per_worker is not None else (1.0 if connection.resources.get("GPU", 0) >= 1 else 0.0)
    count = worker_count(connection.resources, workers, cpus_per_worker, gpus)
    started = time.perf_counter()
    remote = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus, max_restarts=max_retries,
                        max_task_retries=max_retries)(Worker)
    handle = ray.put(job)
    actors = [remote.remote(handle, max(1, round(cpus_per_worker))) for _ in range(count)]
    summary = Summary(workers=count)
    pending: dict[Any, tuple[Any, str, Any, int]] = {}  # ref -> (actor, key, payload, attempt)
    idle = {a: in_flight for a in actors}
    replacements = count * max_retries
    retry: list[tuple[str, Any, int]] = []
    source: Iterator[tuple[str, Callable[[], Any]]] = iter(items)
    exhausted = False
    try:
        while True:
            while idle and any(slots > 0 for slots in idle.values()) and (retry or not exhausted):
                actor = max(idle, key=lambda a: idle[a])
                if retry:
                    key, payload, attempt = retry.pop()
                else:
                    try:
                        key, load = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    try:
                        payload, attempt = load(), 0
                    except InceptionismError as exc:
                        summary.failed.append((key, str(exc)))
                        on_result("error", key, str(exc))
                        continue
                pending[actor.process.remote(key, payload)] = (actor, key, payload, attempt)
                idle[actor] -= 1
            if not pending:
                if retry and not idle:  # every worker is gone and none may be started: report the rest
                    for key, _, _ in retry:
                        summary.failed.append((key, "no worker left to run it"))
                        on_result("error", key, "no worker left to run it")
                break
            ready, _ = ray.wait(list(pending), num_returns=1)
            actor, key, payload, attempt = pending.pop(ready[0])
            try:
                status, key, value = ray.get(ready[0])
            except ray.exceptions.RayActorError as exc:  # the worker died and Ray's restarts are spent
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if actor in idle:
                    del idle[actor]
                    if replacements > 0:  # a fresh worker in its place, within bounds
                        replacements -= 1
                        fresh = remote.remote(handle, max(1, round(cpus_per_worker)))
                        actors.append(fresh)
                        idle[fresh] = in_flight
                if attempt < max_retries:
                    retry.append((key, payload, attempt + 1))
                    continue
                status, value = "error", f"its worker died {attempt + 1} times ({reason})"
            else:
                idle[actor] = idle.get(actor, 0) + 1
            if summary.startup_s == 0.0:
                summary.startup_s = time.perf_counter() - started
            if status == "ok":
                summary.done += 1
            else:
                summary.failed.append((key, value))
            on_result(status, key, value)
    except KeyboardInterrupt:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        raise
    finally:
        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
    return summary
