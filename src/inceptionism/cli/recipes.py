"""Recipes: a stored recipe checked before ``--from`` repeats it, the thread count it was computed with, and
whether an output was made by a recipe (``--resume`` skips it then)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from inceptionism.errors import ConfigError, InceptionismError

log = logging.getLogger("inceptionism")


def checked_recipe(recipe: dict[str, Any], path: str, command: str, kinds: dict[str, tuple[type, ...]],
                   config_cls: type, *, lists_of_text: tuple[str, ...] = (),
                   valid: Callable[[str, Any], bool] | None = None) -> dict[str, Any]:
    """A stored recipe of ``command`` whose fields are of the ``kinds`` JSON gives them (lists of text for
    ``lists_of_text``, whatever ``valid`` says besides) and whose config builds ``config_cls``; else one line."""
    from inceptionism.configs import stored_values

    if recipe.get("command") != command:
        raise ConfigError(f"{path}: was not made by `inceptionism {command}`")
    for key, allowed in kinds.items():
        value = recipe.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, allowed) or \
                key in lists_of_text and not all(isinstance(v, str) for v in value) or \
                valid is not None and not valid(key, value):
            raise ConfigError(f"{path}: its recipe is damaged ({key}: {value!r})")
    try:
        config_cls(**stored_values(config_cls, recipe.get("config", {}), "its recipe"))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return recipe


def use_recorded_threads(recipe: dict[str, Any], device: str | None) -> None:
    """``--from`` on the CPU computes with the thread count the recipe records: a CPU's float sums depend on
    how the work is split, so that is what makes the result bit for bit the same (on the same kind of CPU)."""
    import torch

    from inceptionism.devices import resolve_device

    threads = recipe.get("threads")
    if not (isinstance(threads, int) and not isinstance(threads, bool) and 1 <= threads <= 1024):
        return
    if str(recipe.get("device", "")).startswith("cpu") and resolve_device(device or "auto").type == "cpu" \
            and threads != torch.get_num_threads():
        log.info("computing with %d CPU threads, as the recipe was", threads)
        torch.set_num_threads(threads)


def recipe_matches(path: Path, expected: dict[str, Any], *,
                   ignore: tuple[str, ...] = ("version", "device", "threads")) -> bool:
    """Whether ``path`` exists and was made by this recipe (``--resume`` skips it then)."""
    from inceptionism.io.images import read_metadata

    if not path.is_file():
        return False
    try:
        stored = read_metadata(path)
    except InceptionismError:
        return False
    drop = set(ignore)
    same = {k: v for k, v in stored.items() if k not in drop}
    want = {k: v for k, v in expected.items() if k not in drop}
    if isinstance(same.get("config"), dict) and isinstance(want.get("config"), dict):
        # the tile a run used depends on the machine's free memory, not on the recipe
        same["config"] = {k: v for k, v in same["config"].items() if k != "tile"}
        want["config"] = {k: v for k, v in want["config"].items() if k != "tile"}
    return same == want
