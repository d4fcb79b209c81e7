"""User-facing values written as text, parsed once for the command line and the web UI alike.

Each parser raises :class:`~inceptionism.errors.ConfigError` with a message that
names what was expected. Layer addresses (``LAYER[:CHANNEL][=WEIGHT]``) are parsed
by :func:`inceptionism.objectives.parse_address`, beside the objectives they build.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence, TypeVar

from inceptionism.errors import ConfigError

T = TypeVar("T", int, float)


def parse_size(text: str, what: str = "--noise") -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``512x384``) as ``(width, height)``."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise ConfigError(f"{what} takes WIDTHxHEIGHT, e.g. 512x384; got {text!r}")
    return int(m[1]), int(m[2])


def parse_tile(text: str) -> int | str | None:
    """A tile side: a size in pixels, ``auto`` or ``off`` (``None``)."""
    if text == "auto":
        return "auto"
    if text in ("off", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"expected a size in pixels, 'auto' or 'off', got {text!r}") from None


def parse_numbers(text: str, kind: Callable[[str], T], what: str) -> list[T]:
    """Comma-separated numbers (``0.7,0.3``); at least one."""
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} takes comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} needs at least one value")
    return values


def style_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """How much of each of ``count`` styles (equal when None): as many as the styles, 0 or more, not all 0."""
    if count < 1:
        raise ConfigError("at least one style image is needed")
    chosen = list(weights) if weights is not None else [1.0] * count
    if len(chosen) != count:
        raise ConfigError(f"{count} styles but {len(chosen)} style weights")
    if any(w < 0 for w in chosen) or sum(chosen) <= 0:
        raise ConfigError("style weights must be 0 or more and not all 0")
    return chosen


def whole_number(text: str, what: str, *, minimum: int = 0) -> int:
    """``text`` as a whole number of at least ``minimum``; ``what`` names it in the error."""
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{what} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{what} must be {minimum} or more, got {value}")
    return value


def json_object(text: str, where: str, *, damaged: str = "not a JSON object",
                error: type[Exception] = ConfigError) -> dict:
    """``text`` as a JSON object, or one line: ``where``, and what is ``damaged`` (with the parser's reason)."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: {damaged}: {exc.msg}") from None
    if not isinstance(value, dict):
        raise error(f"{where}: {damaged}")
    return value


def pixels_text(count: int) -> str:
    """A number of pixels as a person reads it: ``16,777,216 pixels (4096 x 4096)``, the side where it is square."""
    import math

    side = math.isqrt(count)
    return f"{count:,} pixels" + (f" ({side} x {side})" if side * side == count else f" ({count / 1e6:.1f} MP)")
