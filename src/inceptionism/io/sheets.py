"""Contact sheets: many pictures on one labelled sheet, with one font. An atlas's tiles, a sweep's grid, a batch
side by side, the trainers' previews, the web's sheets and the ``styles --sheet`` all come from here."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from inceptionism.errors import ConfigError


def side_by_side(images: torch.Tensor, gap: int = 4) -> torch.Tensor:
    """A ``B,3,H,W`` batch as one ``1,3,H,W*B`` picture, white gaps between (one picture: itself)."""
    if images.shape[0] == 1:
        return images
    b, c, h, w = images.shape
    out = torch.ones(1, c, h, b * w + (b - 1) * gap, dtype=images.dtype)
    for i in range(b):
        out[0, :, :, i * (w + gap): i * (w + gap) + w] = images[i]
    return out


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


def grid_sheet(
    cells: Sequence[Sequence[torch.Tensor]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    cell: int = 256,
    title: str = "",
    pad: int = 6,
) -> torch.Tensor:
    """A grid of images (rows of ``1,3,H,W`` tensors) with row and column labels, as a tensor (a sweep's)."""
    from inceptionism.io.images import to_pil

    font = _font(max(11, cell // 16))
    thumbs = []
    for row in cells:
        line = []
        for image in row:
            im = to_pil(image)
            im.thumbnail((cell, cell), Image.LANCZOS)
            line.append(im)
        thumbs.append(line)
    cw = max(im.width for line in thumbs for im in line)
    ch = max(im.height for line in thumbs for im in line)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_h = probe.textbbox((0, 0), "Ag", font=font)[3] + pad
    label_w = max([probe.textbbox((0, 0), t, font=font)[2] for t in row_labels if t] or [0])
    left = label_w + 2 * pad if label_w else pad
    top = (text_h if title else 0) + (text_h if any(col_labels) else 0) + pad
    width = left + len(thumbs[0]) * (cw + pad)
    height = top + len(thumbs) * (ch + pad)
    sheet = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    y = pad // 2
    if title:
        draw.text((pad, y), title, fill=(90, 90, 90), font=font)
        y += text_h
    for c, label in enumerate(col_labels):
        if label:
            draw.text((left + c * (cw + pad), y), label, fill=(0, 0, 0), font=font)
    for r, line in enumerate(thumbs):
        y0 = top + r * (ch + pad)
        if row_labels[r]:
            draw.text((pad, y0 + ch // 2 - text_h // 2), row_labels[r], fill=(0, 0, 0), font=font)
        for c, im in enumerate(line):
            sheet.paste(im, (left + c * (cw + pad), y0))
    arr = np.asarray(sheet, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()
