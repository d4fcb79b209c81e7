"""Compute precision: bfloat16 autocast where the device computes it natively, float32 elsewhere.

``auto`` means bfloat16 on CUDA and on a CPU with bfloat16 instructions (AVX-512 BF16,
as on AMD Zen 4 and Intel Cooper Lake on, or Intel's AMX tiles), where oneDNN's
bfloat16 convolutions run about twice as fast as float32 ones; float32 on other CPUs
(where bfloat16 is emulated and slower), on MPS, and on a CPU for a network whose
bfloat16 input gradient strays from its float32 one (its spec says ``cpu_bf16=False``). Only the network's computation
changes precision: the image being dreamed or optimised, weights being trained,
optimiser state and the summed losses stay float32.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import Any, Iterator

import torch

from inceptionism.configs import PRECISIONS, check_precision

__all__ = ["PRECISIONS", "autocast", "autocast_dtype", "cpu_has_bf16", "resolve_precision"]

#: set to 0 or 1 to override the CPU detection (tests of the float32 fallback; a CPU that misreports)
ENV_CPU_BF16 = "INCEPTIONISM_CPU_BF16"


@functools.lru_cache(maxsize=None)
def _detected_cpu_bf16() -> bool:
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    known = [p for p in probes if callable(p)]
    if known:
        return any(bool(p()) for p in known)
    try:  # an older torch without the probes: the kernel's CPU flags
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX), as detected (or as ``$INCEPTIONISM_CPU_BF16`` says)."""
    forced = os.environ.get(ENV_CPU_BF16)
    if forced in ("0", "1"):
        return forced == "1"
    return _detected_cpu_bf16() and torch.backends.mkldnn.is_available()


def resolve_precision(precision: str, device: torch.device | str, spec: Any = None) -> str:
    """``bf16`` or ``fp32``: what ``precision`` (auto, bf16, fp32) means on ``device`` for a network.

    ``spec``: the :class:`~inceptionism.models.ModelSpec` of the network whose
    gradients are computed (the dreamed or loss network), if any; on a CPU, ``auto``
    keeps float32 for a network whose spec says its bfloat16 gradients stray
    (``cpu_bf16=False``: the embedded EfficientNet-Lite0).
    """
    check_precision(precision)
    if precision != "auto":
        return precision
    kind = torch.device(device).type
    if kind == "cuda":
        return "bf16"
    if kind == "cpu" and cpu_has_bf16() and getattr(spec, "cpu_bf16", True):
        return "bf16"
    return "fp32"


def autocast_dtype(precision: str, device: torch.device | str, spec: Any = None) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: float32, no autocast); see :func:`resolve_precision`."""
    return torch.bfloat16 if resolve_precision(precision, device, spec) == "bf16" else None


@contextlib.contextmanager
def autocast(dtype: torch.dtype | None, device: torch.device | str) -> Iterator[None]:
    """``torch.autocast`` for ``dtype`` on ``device``'s type, or nothing when ``dtype`` is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=dtype):
        yield
