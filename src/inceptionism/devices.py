"""Choosing the device to run on: ``auto`` picks CUDA, then MPS, then the CPU."""

from __future__ import annotations

import torch

from inceptionism.errors import ConfigError, param


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The device ``name`` stands for; a named device must exist here.

    ``auto`` picks CUDA (turning on cuDNN autotuning: shapes stay fixed within an
    octave or a training run), then MPS, then the CPU.
    """
    if name == "auto":
        if torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{param('device', 'cuda')}: no CUDA device is available here (try {param('device', 'auto')})")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"{param('device', name)}: there are {torch.cuda.device_count()} CUDA devices here")
    if device.type == "mps" and not mps_available():
        raise ConfigError(f"{param('device', 'mps')}: MPS is not available here (try {param('device', 'auto')})")
    return device


def resolve_devices(text: str) -> list[torch.device]:
    """``--devices``: a comma-separated list (``cuda:0,cuda:1``, ``cpu,cpu`` for CPU replicas), or ``all`` GPUs."""
    if text.strip() == "all":
        if not torch.cuda.is_available():
            raise ConfigError("--devices all: no CUDA device is available here")
        return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--devices takes a comma-separated list of devices (e.g. cuda:0,cuda:1) or 'all'")
    devices = [resolve_device(n) for n in names]
    if len({d.type for d in devices}) > 1:
        raise ConfigError(f"--devices {text}: give devices of one kind (all cuda, or all cpu)")
    return devices
