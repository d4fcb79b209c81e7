"""Atlases: one picture per class, topic or channel, on one labelled contact sheet.

An atlas is a list of :class:`~inceptionism.jobs.Target` (what each tile shows,
with its label); the command line renders each tile to a file of its own (so a
stopped atlas resumes tile by tile, and Ray can spread the tiles), then
:func:`inceptionism.io.sheets.contact_sheet` lays the tiles out with their labels.
"""

from __future__ import annotations

import re


from inceptionism.errors import ConfigError

#: ImageNet classes a person knows at a glance, across animals, objects, food and scenes (the default list)
IMAGENET_DEFAULT = (1, 130, 291, 323, 417, 430, 504, 850, 928, 954, 980, 970)


def parse_channels(text: str, count: int) -> list[int]:
    """``0-63``, ``3,7,12`` or a mix, each channel in range for a layer of ``count`` channels."""
    channels: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ConfigError(f"--channels takes numbers and ranges like 0-63 or 3,7,12, got {text!r}")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            raise ConfigError(f"--channels: the range {part} runs backwards")
        if hi >= count:
            raise ConfigError(f"--channels: channel {hi} is out of range: the layer has {count} channels "
                              f"(0 to {count - 1})")
        channels.extend(range(lo, hi + 1))
    if len(channels) > 1024:
        raise ConfigError(f"--channels: {len(channels)} tiles is too many for one atlas (1024 at most)")
    return list(dict.fromkeys(channels))


def tile_name(index: int, label: str) -> str:
    """A tile's file name: its place in the atlas and its label, safe on every file system."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:40] or "tile"
    return f"{index:04d}-{slug}.png"


