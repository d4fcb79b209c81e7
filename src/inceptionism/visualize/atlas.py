"""Atlases: one picture per class, topic or channel, on one labelled contact sheet.

An atlas is a list of :class:`~inceptionism.jobs.Target` (what each tile shows,
with its label); the command line renders each tile to a file of its own (so a
stopped atlas resumes tile by tile, and Ray can spread the tiles), then
:func:`contact_sheet` lays the tiles out with their labels.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from inceptionism.errors import ConfigError

#: ImageNet classes a person knows at a glance, across animals, objects, food and scenes (the default list)
IMAGENET_DEFAULT = (1, 130, 291, 323, 417, 430, 504, 850, 928, 954, 980, 970)


def side_by_side(images: torch.Tensor, gap: int = 4) -> torch.Tensor:
    """A ``B,3,H,W`` batch as one ``1,3,H,W*B`` picture, white gaps between (one picture: itself)."""
    if images.shape[0] == 1:
        return images
    b, c, h, w = images.shape
    out = torch.ones(1, c, h, b * w + (b - 1) * gap, dtype=images.dtype)
    for i in range(b):
        out[0, :, :, i * (w + gap): i * (w + gap) + w] = images[i]
    return out


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


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: one bitmap size
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def contact_sheet(tiles: Sequence[Image.Image], labels: Sequence[str], *, columns: int | None = None,
                  title: str | None = None) -> Image.Image:
    """The tiles in a grid, each with its label beneath (and the atlas's title above)."""
    if not tiles:
        raise ConfigError("an atlas needs at least one tile")
    columns = columns or max(1, math.ceil(math.sqrt(len(tiles) * 1.0)))
    rows = math.ceil(len(tiles) / columns)
    w = max(t.width for t in tiles)
    h = max(t.height for t in tiles)
    font_size = max(11, min(18, w // 12))
    font = _font(font_size)
    label_h = font_size + 10
    gap = 6
    top = (font_size + 16) if title else 0
    sheet = Image.new("RGB", (columns * (w + gap) + gap, top + rows * (h + label_h + gap) + gap), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, 6), _fit(draw, title, font, sheet.width - 2 * gap), fill="black", font=font)
    for i, (tile, label) in enumerate(zip(tiles, labels)):
        r, c = divmod(i, columns)
        x, y = gap + c * (w + gap), top + gap + r * (h + label_h + gap)
        sheet.paste(tile.convert("RGB"), (x, y))
        draw.text((x + 2, y + h + 3), _fit(draw, label, font, w - 4), fill="black", font=font)
    return sheet


def sheet_tensor(sheet: Image.Image) -> torch.Tensor:
    """A contact sheet as a ``1,3,H,W`` float tensor in [0, 1], for the image writers."""
    arr = np.asarray(sheet.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None]
