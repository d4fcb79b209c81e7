"""Training on several processes: DistributedDataParallel, under torchrun or with ``--nproc N``.

A trainer runs the same code in every process. :func:`current` reads the rank
and world size that torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``);
:func:`start` joins the process group (gloo on the CPU, NCCL on GPUs, one GPU per
local rank). Each rank reads its own share of every epoch (the data module's
sampler), gradients are averaged by DDP, rank 0 alone writes checkpoints and
reports progress, and every rank agrees after each step whether to stop (Ctrl-C,
SIGTERM, a diverging loss), so no rank waits forever on one that left.

``--nproc N`` starts N processes with torchrun's own launcher
(``torch.distributed.launcher.api.elastic_launch``), exactly as
``torchrun --standalone --nproc-per-node N -m inceptionism ...`` would.

The batch size a user gives is the global batch: each of N processes takes a
1/N share, so a recipe trains the same (and resumes) whatever N is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from inceptionism.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dist:
    """Where this process stands among the processes of one training run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def current() -> Dist:
    """This process's rank, from the variables torchrun sets (a single process without them)."""
    try:
        return Dist(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                    int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers") from None


def start(dist: Dist, device: torch.device) -> torch.device:
    """Join the process group (if there is more than one process); the device this rank trains on."""
    if not dist.active:
        return device
    import torch.distributed as td

    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    if not td.is_initialized():
        td.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def stop(dist: Dist) -> None:
    """Leave the process group (after the others are done)."""
    if not dist.active:
        return
    import torch.distributed as td

    if td.is_initialized():
        td.barrier()
        td.destroy_process_group()


def share(batch_size: int, dist: Dist) -> int:
    """Each rank's part of the global batch."""
    if batch_size % dist.world_size:
        raise ConfigError(f"--batch-size {batch_size} does not split into {dist.world_size} processes: "
                          f"use a multiple of {dist.world_size}")
    return batch_size // dist.world_size


def wrap(model: torch.nn.Module, dist: Dist, device: torch.device) -> torch.nn.Module:
    """``model`` under DistributedDataParallel when there are several processes."""
    if not dist.active:
        return model
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # buffers (frozen batch-norm statistics) are the same everywhere: no need to send them each step
    # (torch 2.15 renamed the option; older releases know only the old name)
    quiet_buffers = ({"forward_sync_buffers": False}
                     if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                     else {"broadcast_buffers": False})
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   **quiet_buffers)


def agree(dist: Dist, device: torch.device) -> Callable[[bool, bool], tuple[bool, bool]]:
    """A function that tells every rank whether any rank wants to stop, or saw a loss that is not finite."""
    if not dist.active:
        return lambda stop, bad: (stop, bad)
    import torch.distributed as td

    def any_rank(stop: bool, bad: bool) -> tuple[bool, bool]:
        flags = torch.tensor([float(stop), float(bad)], device=device)
        td.all_reduce(flags, op=td.ReduceOp.MAX)
        return bool(flags[0]), bool(flags[1])

    return any_rank


def union_of_flags(flags: torch.Tensor, dist: Dist) -> torch.Tensor:
    """Files any rank found unreadable (each rank marks those it read)."""
    if not dist.active:
        return flags
    import torch.distributed as td

    merged = flags.to(torch.int32).clone()
    td.all_reduce(merged, op=td.ReduceOp.MAX)
    return merged.to(flags.dtype)


def skipped_files(data: Any, dist: Dist) -> list[Path]:
    """The files of ``data`` (an :class:`~inceptionism.training.data.ImageFiles`) that any rank found
    unreadable; every rank must call it (a collective when several processes train)."""
    return [data.files[i] for i in torch.nonzero(union_of_flags(data.bad, dist)).flatten().tolist()]


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``inceptionism ARGV`` in ``nproc`` processes with torchrun's launcher; the exit status."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {nproc}")
    # torchrun's own default, said quietly: one thread per process unless told otherwise
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    for name in ("torch.distributed.elastic", "torch.distributed.launcher"):
        logging.getLogger(name).setLevel(logging.ERROR)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=uuid.uuid4().hex,
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1)
    try:
        elastic_launch(config, sys.executable)("-m", "inceptionism", *argv)
    except ChildFailedError as exc:
        # the failing rank has said why on stderr already, in one line
        codes = [f.exitcode for f in exc.failures.values()]
        return next((c for c in codes if c and c > 0), 1)
    return 0


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value (``--nproc 2`` or ``--nproc=2``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == option:
            skip = True
            continue
        if arg.startswith(option + "="):
            continue
        out.append(arg)
    return out



def rank_batches(dataset: Any, dist: Dist, device: torch.device, *, per_rank: int, workers: int, seed: int,
                 start: int) -> Any:
    """This process's share of every batch of ``dataset``, from step ``start`` on (the same order on every run)."""
    from inceptionism.training.data import batches

    return batches(dataset, batch_size=per_rank, workers=workers, seed=seed, start_step=start, rank=dist.rank,
                   world_size=dist.world_size, pin_memory=device.type == "cuda")


@contextlib.contextmanager
def finishing(net: Any, watch: Any, dist: Dist, data: Any, what: str, also: Any = None) -> Iterator[list[Path]]:
    """Around a training loop: however it ends, the watcher closed, the network left in eval mode, and the
    unreadable files of ``data`` (any rank's; and of ``also``, a held-out set) counted and said once. Yields
    the list they are put in."""
    from inceptionism.training.data import warn_skipped

    skipped: list[Path] = []
    try:
        yield skipped
    finally:
        if watch is not None:
            watch.close()
        net.eval()
        skipped += skipped_files(data, dist) + (also.skipped() if also is not None else [])
        if dist.main:
            warn_skipped(skipped, what)
