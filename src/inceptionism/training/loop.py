"""The training loop every trainer shares: steps, checkpoints, progress, a graceful stop.

:func:`fit` runs optimisation steps until ``steps``, calls ``save(step)`` every
``checkpoint_every`` steps and at the end, reports each step to a callback (the
CLI draws the progress bar from it; the library never prints) and evaluates on
held-out data every ``eval_every`` steps.

Ctrl-C and SIGTERM stop it at the end of the step in progress: the model and its
training state are saved at that step and :class:`TrainingInterrupted` says
where, so ``--resume`` continues from there. A second Ctrl-C stops at once,
keeping the last checkpoint written. The step's optimiser update is never cut in
half, so a saved state is always one that training really reached.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch

from inceptionism.errors import InceptionismError, Interrupted

log = logging.getLogger(__name__)

#: steps in a row whose gradient is not finite before training stops (each one's update is skipped)
MAX_BAD_GRADIENTS = 5


def warmup_cosine(steps: int, *, max_warmup: int, floor: float = 0.0) -> Callable[[int], float]:
    """A learning-rate factor per step: linear warm-up over a twentieth of ``steps`` (at most ``max_warmup``),
    then a cosine from 1 down to ``floor`` at ``steps`` (for ``torch.optim.lr_scheduler.LambdaLR``)."""
    warmup = max(1, min(max_warmup, steps // 20))

    def factor(step: int) -> float:
        progress = min(1.0, step / max(1, steps))
        return min(1.0, (step + 1) / warmup) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))

    return factor

@dataclass
class TrainStep:
    """What the loop reports after each step."""

    step: int
    steps: int
    loss: float
    #: learning rate of the first parameter group after this step
    lr: float
    #: held-out figures, on the steps where the loop evaluated (else empty)
    metrics: dict[str, float] = field(default_factory=dict)
    #: training samples per second over the last step
    samples_per_s: float = 0.0
    #: the loss's terms (each with its weight applied), when ``loss_of`` returns them
    terms: dict[str, float] = field(default_factory=dict)
    #: the total norm of the gradients before clipping (inf or NaN: the update was skipped)
    grad_norm: float = 0.0
    #: seconds the step took (forward, backward, update; not the evaluation)
    seconds: float = 0.0


class TrainingInterrupted(Interrupted):
    """Training stopped by Ctrl-C or SIGTERM; the state at ``step`` is saved in ``path``."""

    def __init__(self, step: int, path: str, saved_now: bool):
        self.step, self.path = step, path
        if step == 0:
            text = "interrupted before the first step finished: nothing was written"
        elif saved_now:
            text = (f"interrupted at step {step}: the model and its training state are saved in {path}; "
                    "add --resume to continue")
        else:
            text = f"interrupted: the last checkpoint in {path} (step {step}) is kept; add --resume to continue"
        super().__init__(text)


class _StopRequest:
    """SIGINT/SIGTERM set a flag (the loop stops after the step); a second SIGINT interrupts at once."""

    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    @contextlib.contextmanager
    def installed(self) -> Iterator["_StopRequest"]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach only the main thread; a trainer in a thread is stopped by its owner
            return
        # an ignored SIGINT stays ignored (nohup, a shell's background job: asked not to be stopped by Ctrl-C);
        # SIGTERM always saves and stops
        catch = [s for s in (signal.SIGINT, signal.SIGTERM)
                 if not (s == signal.SIGINT and signal.getsignal(s) is signal.SIG_IGN)]
        previous = {s: signal.signal(s, self._handle) for s in catch}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def batch_size_of(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, (tuple, list)) and batch:
        return batch_size_of(batch[0])
    if isinstance(batch, dict) and batch:
        return batch_size_of(next(iter(batch.values())))
    return 0


def fit(
    *,
    optimizer: torch.optim.Optimizer,
    loss_of: Callable[[Any], torch.Tensor],
    batches: Iterable[Any],
    steps: int,
    save: Callable[[int], None],
    output: str,
    start_step: int = 0,
    checkpoint_every: int = 0,
    scheduler: Any = None,
    evaluate: Callable[[], dict[str, float]] | None = None,
    eval_every: int = 0,
    callback: Callable[[TrainStep], None] | None = None,
    backward: Callable[[torch.Tensor], None] | None = None,
    agree: Callable[[bool, bool], tuple[bool, bool]] | None = None,
    clip_grad: float | None = None,
) -> int:
    """Train from ``start_step`` to ``steps``; returns the last step (always saved).

    ``loss_of(batch)`` is the forward pass: the loss, or (the loss, its terms as
    0-d tensors, reported to ``callback`` in :attr:`TrainStep.terms`); the loop does the backward pass
    (``backward(loss)`` when given, e.g. for gradient scaling), the optimiser and
    schedule steps. ``save(step)`` writes the model and its training state.
    ``agree(stop, bad)`` tells every process of a distributed run whether any of
    them is stopping or saw a loss that is not finite (see :mod:`.distributed`),
    so that all stop at the same step. ``clip_grad``: the gradients of all the
    optimiser's parameters are scaled down to this total norm when above it (after
    the backward pass, so after DistributedDataParallel has averaged them; not for
    a ``backward`` that scales the loss). A step whose gradient is not finite
    (inf or NaN in any parameter's) is counted but its update is skipped, as a
    gradient scaler does: one overflow does not turn every weight into NaN;
    :data:`MAX_BAD_GRADIENTS` in a row stop the training.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    bad_in_a_row = 0
    agree = agree or (lambda stop_now, bad: (stop_now, bad))
    step = start_step
    saved = start_step
    stop = _StopRequest()
    if step >= steps:
        save(step)
        return step
    with stop.installed():
        try:
            iterator = iter(batches)
            while step < steps:
                batch = next(iterator)
                started = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                loss = loss_of(batch)
                terms: dict[str, torch.Tensor] = {}
                if isinstance(loss, tuple):
                    loss, terms = loss
                stopping, bad = agree(stop.requested, not bool(torch.isfinite(loss.detach()).all()))
                if bad:
                    raise InceptionismError(f"the loss stopped being a finite number at step {step + 1}: "
                                            "resume from the last checkpoint with a lower --lr")
                if stopping:
                    break  # before the update: the state saved is the last step really finished
                (backward or torch.Tensor.backward)(loss)
                norm = _gradient_norm(params, clip_grad)
                if math.isfinite(norm):
                    bad_in_a_row = 0
                    optimizer.step()
                else:
                    bad_in_a_row += 1
                    log.warning("step %d: the gradient is not a finite number; its update is skipped", step + 1)
                    if bad_in_a_row >= MAX_BAD_GRADIENTS:
                        raise InceptionismError(f"the gradient stopped being a finite number at step {step + 1} "
                                                f"({bad_in_a_row} steps in a row): resume from the last checkpoint "
                                                "with a lower --lr")
                if scheduler is not None:
                    scheduler.step()
                step += 1
                took = time.perf_counter() - started
                metrics: dict[str, float] = {}
                if evaluate is not None and eval_every and (step % eval_every == 0 or step == steps):
                    metrics = evaluate()
                if callback is not None:
                    callback(TrainStep(step, steps, float(loss.detach()), optimizer.param_groups[0]["lr"], metrics,
                                       batch_size_of(batch) / took if took > 0 else math.inf,
                                       {k: float(v) for k, v in terms.items()}, norm, took))
                if checkpoint_every and step % checkpoint_every == 0 and step < steps:
                    save(step)
                    saved = step
        except KeyboardInterrupt:  # a second Ctrl-C: the step in progress is lost, the last checkpoint kept
            raise TrainingInterrupted(saved, output, saved_now=False) from None
        if step < steps:  # stopped early (by a signal here, or in another process)
            if step > saved:
                save(step)
            raise TrainingInterrupted(step, output, saved_now=True)
    save(step)
    return step


def _gradient_norm(params: list[torch.Tensor], clip: float | None) -> float:
    """The total norm of the parameters' gradients, after scaling them down to ``clip`` when above it."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if clip:
        return float(torch.nn.utils.clip_grad_norm_(params, clip))  # (an infinite norm makes the gradients NaN)
    return float(torch.nn.utils.get_total_norm(grads))  # (batched per device and dtype, as clipping does)
