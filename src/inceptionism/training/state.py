"""The training state beside a model file, so that ``--resume`` continues exactly.

``NAME.safetensors`` is the model a user keeps; ``NAME.train.safetensors`` beside
it holds the optimiser's tensors (``{param}.{key}``, e.g. Adam's ``0.exp_avg``),
and in its metadata the step, the parameter groups' settings (the learning rate a
schedule has reached), the schedule's state and what the trainer needs to check on resume (the style images, the classes...). Both are
written atomically, the model first, so a crash between the two leaves a model
one checkpoint ahead of its state at worst, never a broken file.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inceptionism.errors import ModelError, first_line
from inceptionism.io.images import atomic_write
from inceptionism.io.tensors import read_safetensors

log = logging.getLogger(__name__)


def state_path(model_path: str | os.PathLike[str]) -> Path:
    """``NAME.train.safetensors`` beside ``NAME.safetensors``."""
    p = Path(model_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".train.safetensors")


@dataclass(frozen=True)
class TrainingState:
    step: int
    #: what the trainer stored to check on resume
    meta: dict[str, Any]


def save_state(model_path: str | os.PathLike[str], optimizer: torch.optim.Optimizer, step: int,
               meta: dict[str, Any] | None = None, scheduler: Any = None) -> Path:
    """Write the optimiser's (and the schedule's) state at ``step`` beside ``model_path``."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{index}.{key}"] = torch.as_tensor(value).detach().contiguous().cpu()
    groups = [{k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in g.items() if k != "params"}
              for g in optimizer.state_dict()["param_groups"]]
    header = {"step": str(step), "meta": json.dumps(meta or {}, sort_keys=True), "param_groups": json.dumps(groups)}
    if scheduler is not None:
        header["scheduler"] = json.dumps(scheduler.state_dict())
    path = state_path(model_path)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))
    return path


def _same_kind(old: Any, new: Any) -> bool:
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if number(old) or number(new):
        return number(old) and number(new)
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return len(old) == len(new) and all(_same_kind(a, b) for a, b in zip(old, new))
    if old is None:  # a setting left to the library's choice: it stays so
        return new is None
    return type(old) is type(new)


def _settings(saved: dict[str, Any], current: dict[str, Any], damaged: str) -> dict[str, Any]:
    """The stored settings of a parameter group (or schedule) that this run has too, each of the same kind."""
    out = {}
    for key, value in saved.items():
        if key == "params" or key not in current:
            continue
        if not _same_kind(current[key], value):
            raise ModelError(f"{damaged} (its setting {key} is {value!r})")
        out[key] = tuple(value) if isinstance(value, list) and isinstance(current[key], tuple) else value
    return out


def _state_keys(kind: type, group: dict[str, Any]) -> set[str]:
    """What an optimiser of ``kind`` with ``group``'s settings keeps per parameter once it has stepped
    (Adam: step, exp_avg, exp_avg_sq; with amsgrad, max_exp_avg_sq too)."""
    probe = torch.zeros(1, requires_grad=True)
    accepted = inspect.signature(kind).parameters
    twin = kind([probe], **{k: v for k, v in group.items() if k in accepted and k != "params"})
    probe.grad = torch.zeros(1)
    twin.step()
    return set(twin.state[probe])


def load_state(model_path: str | os.PathLike[str], optimizer: torch.optim.Optimizer,
               scheduler: Any = None) -> TrainingState:
    """Put the optimiser (and schedule) back as :func:`save_state` left them; returns the step and meta.

    The learning rates the optimiser was built with now stay the base rates: with a
    ``LambdaLR`` schedule the rate resumes at that base times the schedule's factor
    at the saved step, so a run resumed with a lower ``--lr`` (after a diverging
    loss, say) really trains at the lower rate; the Adam moments are kept.
    """
    path = state_path(model_path)
    if not path.is_file():
        raise ModelError(f"cannot resume: {path} (the training state beside {os.fspath(model_path)}) is missing")
    damaged = f"cannot resume: {path} is damaged"
    try:
        tensors, header = read_safetensors(path, kind="training state")
    except ModelError as exc:
        raise ModelError(f"{damaged}: {exc}") from None
    try:
        step = int(header["step"])
        # files written before the meta field kept their checks as plain header entries
        meta = json.loads(header["meta"]) if "meta" in header else \
            {k: v for k, v in header.items() if k not in ("step", "scheduler")}
        groups = json.loads(header["param_groups"]) if "param_groups" in header else None
        schedule = json.loads(header["scheduler"]) if "scheduler" in header else None
    except (KeyError, ValueError, RecursionError) as exc:
        raise ModelError(f"{damaged}: {first_line(exc)}") from None
    if step < 0 or not isinstance(meta, dict) or not (groups is None or isinstance(groups, list) and len(groups) ==
            len(optimizer.param_groups) and all(isinstance(g, dict) for g in groups)) or \
            not (schedule is None or isinstance(schedule, dict)):
        raise ModelError(f"{damaged} (its step, checks or settings are not what a training state holds)")
    asked = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    state = optimizer.state_dict()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for key, value in tensors.items():
        index, _, name = key.partition(".")
        if not (index.isdigit() and int(index) < len(params) and name):
            raise ModelError(f"{damaged} (a tensor {key!r} for no parameter of this network)")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ModelError(f"{damaged} ({key} holds NaN or infinite values)")
        if name == "step" and (value.numel() != 1 or not 0 <= float(value) <= 1e9):
            raise ModelError(f"{damaged} ({key} is {value.flatten()[:1].tolist()}, not a count of steps)")
        if value.dim() and value.shape != params[int(index)].shape:
            raise ModelError(f"{damaged} ({key} has shape {tuple(value.shape)}, the parameter "
                             f"{tuple(params[int(index)].shape)}): was it made for another network?")
        state["state"].setdefault(int(index), {})[name] = value
    if groups is not None:  # the learning rate a schedule had reached, betas, weight decay...
        for group, saved in zip(state["param_groups"], groups):
            group.update(_settings(saved, group, damaged))
    for group in state["param_groups"]:  # with the settings the run will go on with (amsgrad keeps more)
        try:
            expected = _state_keys(type(optimizer), group)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise ModelError(f"{damaged} (its optimiser settings are refused: {exc})") from None
        for index in group["params"]:
            kept = state["state"].get(index)
            if kept is not None and set(kept) != expected:
                raise ModelError(f"{damaged} (parameter {index} keeps {', '.join(sorted(kept))}; "
                                 f"{type(optimizer).__name__} keeps {', '.join(sorted(expected))})")
    if scheduler is not None and schedule is not None:
        # the schedule's own functions are this run's: only its counters and rates are put back
        current = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
        schedule = {**scheduler.state_dict(), **_settings({k: v for k, v in schedule.items() if k != "lr_lambdas"},
                                                          current, damaged)}
        for counter in ("last_epoch", "_step_count"):
            if counter in schedule and not (isinstance(schedule[counter], int) and 0 <= schedule[counter] <= 10**9):
                raise ModelError(f"{damaged} (its schedule's {counter} is {schedule[counter]!r})")
    optimizer.load_state_dict(state)
    if scheduler is not None and schedule is not None:
        scheduler.load_state_dict(schedule)
    lambdas = getattr(scheduler, "lr_lambdas", None)
    if scheduler is None or lambdas is not None:
        saved_base = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
        if saved_base != asked:
            log.info("resuming with learning rates %s (the run had %s)", asked, saved_base)
        if lambdas is not None:
            scheduler.base_lrs = list(asked)
        for i, group in enumerate(optimizer.param_groups):
            if lambdas is not None:
                group["initial_lr"] = asked[i]
                factor = lambdas[i](scheduler.last_epoch)
                if not (math.isfinite(factor) and 0 <= factor <= 1e6):
                    raise ModelError(f"{damaged} (its schedule at step {scheduler.last_epoch} scales the learning "
                                     f"rate by {factor!r})")
                group["lr"] = asked[i] * factor
            else:
                group["lr"] = asked[i]
    return TrainingState(step, meta)
