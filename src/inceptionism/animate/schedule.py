"""Parameters that change over an animation: ramps, layer changes, keyframe files.

A :class:`Schedule` holds keyframes ``{frame: {param: value}}``. Numeric parameters
(``zoom``, ``rotate``, ``pan_x``, ``pan_y``, ``step_size``) are interpolated
linearly between keyframes and held after the last; ``layers`` switch at their
keyframe and stay until the next one.

Keyframe files (JSON, or YAML when PyYAML is installed)::

    {"0": {"zoom": 1.02, "layers": ["blocks.3"]},
     "30": {"zoom": 1.08, "rotate": 0.5, "layers": ["blocks.5:17"]},
     "59": {"zoom": 1.02}}
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from inceptionism.errors import ConfigError
from inceptionism.parsing import whole_number

NUMERIC = ("zoom", "rotate", "pan_x", "pan_y", "step_size")
KNOWN = NUMERIC + ("layers",)
POSITIVE = ("zoom", "step_size")


@dataclass(frozen=True)
class FrameParams:
    zoom: float
    rotate: float
    pan_x: float
    pan_y: float
    step_size: float
    layers: tuple[str, ...]


@dataclass
class Schedule:
    """Keyframed parameters with defaults for frames before any keyframe sets them."""

    defaults: dict[str, Any]
    keyframes: dict[int, dict[str, Any]] = field(default_factory=dict)

    def set(self, frame: int, name: str, value: Any) -> None:
        if name not in KNOWN:
            raise ConfigError(f"unknown keyframe parameter {name!r}: use {', '.join(KNOWN)}")
        if frame < 0:
            raise ConfigError(f"keyframe {frame}: frames count from 0")
        if name in NUMERIC:
            try:
                value = float(value)
            except (TypeError, ValueError, OverflowError):
                raise ConfigError(f"keyframe {frame}: {name} must be a number, got {value!r}") from None
            if not math.isfinite(value) or name in POSITIVE and value <= 0:
                kind = "a positive number" if name in POSITIVE else "a finite number"
                raise ConfigError(f"keyframe {frame}: {name} must be {kind}, got {value!r}")
        else:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"keyframe {frame}: layers must be a list of layer addresses")
            value = tuple(value)
        self.keyframes.setdefault(frame, {})[name] = value

    def value(self, name: str, frame: int) -> Any:
        points = sorted((f, kf[name]) for f, kf in self.keyframes.items() if name in kf)
        if not points:
            return self.defaults[name]
        before = [(f, v) for f, v in points if f <= frame]
        after = [(f, v) for f, v in points if f > frame]
        if not before:  # layers keep their default until their first keyframe; numbers ease into it
            return self.defaults[name] if name not in NUMERIC else self._lerp(self.defaults[name], points[0], 0, frame)
        f0, v0 = before[-1]
        if name not in NUMERIC or not after:
            return v0
        return self._lerp(v0, after[0], f0, frame)

    @staticmethod
    def _lerp(v0: float, point: tuple[int, float], f0: int, frame: int) -> float:
        f1, v1 = point
        t = (frame - f0) / (f1 - f0) if f1 != f0 else 1.0
        return v0 + (v1 - v0) * t

    def at(self, frame: int) -> FrameParams:
        return FrameParams(*(self.value(n, frame) for n in NUMERIC), layers=tuple(self.value("layers", frame)))

    def to_dict(self) -> dict[str, Any]:
        return {"defaults": {k: list(v) if isinstance(v, tuple) else v for k, v in self.defaults.items()},
                "keyframes": {str(f): {k: list(v) if isinstance(v, tuple) else v for k, v in kf.items()}
                              for f, kf in sorted(self.keyframes.items())}}


def parse_ramp(text: str, name: str) -> tuple[float, float | None]:
    """``1.05`` (constant) or ``1.02:1.08`` (a ramp over the whole run)."""
    parts = str(text).split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--{name} takes a number or START:END, got {text!r}") from None
    if len(values) == 1:
        return values[0], None
    if len(values) == 2:
        return values[0], values[1]
    raise ConfigError(f"--{name} takes a number or START:END, got {text!r}")


def parse_scheduled_layer(text: str) -> tuple[str, int]:
    """``SPEC@FRAME``: the layer set from that frame on (``SPEC`` alone: from frame 0)."""
    if "@" in text:
        spec, _, at = text.rpartition("@")
        return spec, whole_number(at, f"--layer {text!r}: the frame after @")
    return text, 0


def load_keyframes(path: str | os.PathLike[str], schedule: Schedule) -> None:
    """Add the keyframes of a JSON or YAML file to ``schedule``."""
    text = os.fspath(path)
    try:
        raw = Path(text).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{text}: cannot read keyframes: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"{text}: not valid keyframes: not UTF-8 text") from None
    try:
        if text.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(raw)
        else:
            data = json.loads(raw)
    except Exception as exc:  # noqa: BLE001 - json/yaml errors differ; both are bad input
        raise ConfigError(f"{text}: not valid keyframes: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{text}: keyframes must map frame numbers to parameters")
    for key, params in data.items():
        try:
            frame = int(key)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{text}: keyframe {key!r} is not a frame number") from None
        if not isinstance(params, Mapping):
            raise ConfigError(f"{text}: keyframe {key} must map parameters to values")
        for name, value in params.items():
            try:
                schedule.set(frame, name, value)
            except ConfigError as exc:
                raise ConfigError(f"{text}: {exc}") from None
