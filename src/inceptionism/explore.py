"""Exploration helpers: labelled contact sheets that compare settings side by side."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from inceptionism.io.images import to_pil


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def contact_sheet(
    cells: Sequence[Sequence[torch.Tensor]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    cell: int = 256,
    title: str = "",
    pad: int = 6,
) -> torch.Tensor:
    """A grid of images (rows of ``1,3,H,W`` tensors) with row and column labels, as a tensor."""
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
