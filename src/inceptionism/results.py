"""What the one-line functions return: pictures that show themselves, convert, and save with their recipe.

A :class:`Picture` is one picture (a dream, a painted photo, a visualisation); :class:`Pictures` a batch
(``visualize(..., batch=4)``), shown as a labelled sheet. Jupyter displays either through ``_repr_png_``;
``.pil``, ``.numpy()`` and ``.tensor`` convert; ``.save(path)`` writes the file atomically with its recipe in
it, exactly as the command line writes it, so that ``inceptionism info`` prints it and ``--from`` repeats it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from PIL import Image

from inceptionism.errors import OutputError

#: the long side a picture is shown at in a notebook (the file keeps its full size)
SHOWN_SIDE = 1024


def _png(pil: Image.Image) -> bytes:
    import io

    if max(pil.size) > SHOWN_SIDE:
        pil = pil.copy()
        pil.thumbnail((SHOWN_SIDE, SHOWN_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    pil.save(buffer, "PNG")
    return buffer.getvalue()


def _check_target(path: str | os.PathLike[str], recipe: dict[str, Any]) -> Path:
    """Where a picture goes: a file (not standard output) of a format we write, not one of the picture's inputs."""
    from inceptionism.io.images import check_output

    if os.fspath(path) == "-":
        raise OutputError("save writes a file: give its name")
    inputs = tuple(str(v) for k in ("input", "content", "guide") if isinstance(v := recipe.get(k), str))
    styles = recipe.get("styles")
    if isinstance(styles, list):
        inputs += tuple(s for s in styles if isinstance(s, str))
    return check_output(path, inputs)


@dataclass(eq=False)
class Picture:
    """One picture made by the library, with how it was made."""

    #: ``1,3,H,W`` float32 in [0, 1], on the CPU
    tensor: torch.Tensor
    #: what the file records: model, settings, seed, inputs, version (``inceptionism info`` prints it)
    recipe: dict[str, Any] = field(default_factory=dict)
    #: ``H,W`` in [0, 1] where the input had transparency, else None
    alpha: torch.Tensor | None = None
    #: the objective after each step (dreams and visualisations), else empty
    objective: list[float] = field(default_factory=list)
    #: a short caption (a batch's sheet labels each picture with it)
    label: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.tensor.shape[-1]), int(self.tensor.shape[-2])

    @property
    def pil(self) -> Image.Image:
        """An 8-bit PIL image (RGBA where there is an alpha channel)."""
        from inceptionism.io.images import to_pil

        return to_pil(self.tensor, self.alpha)

    def numpy(self) -> np.ndarray:
        """``H,W,3`` uint8 (``H,W,4`` with an alpha channel), as PIL, matplotlib and OpenCV take it."""
        return np.asarray(self.pil)

    def encode(self, fmt: str = "PNG", *, quality: int = 95) -> bytes:
        """The file's bytes in ``fmt`` (PNG, JPEG or WEBP), the recipe inside."""
        from inceptionism.io.images import encode_image

        return encode_image(self.tensor, fmt, alpha=self.alpha, metadata=self.recipe, quality=quality)

    def save(self, path: str | os.PathLike[str], *, quality: int = 95) -> Path:
        """Write the picture to ``path`` (``.png``, ``.jpg``, ``.webp``) with its recipe, atomically: the file is
        whole or not there. Refuses to overwrite one of the picture's own inputs."""
        from inceptionism.io.images import output_format, write_bytes

        target = _check_target(path, self.recipe)
        return write_bytes(target, self.encode(output_format(target), quality=quality))

    def _repr_png_(self) -> bytes:
        return _png(self.pil)

    def __repr__(self) -> str:
        what = self.recipe.get("command", "picture")
        w, h = self.size
        return f"<inceptionism.Picture {what} {w}x{h}" + (f" {self.label!r}" if self.label else "") + ">"


@dataclass(eq=False)
class Pictures:
    """A batch of pictures made together (``visualize(..., batch=N)``), shown as a labelled sheet."""

    #: ``B,3,H,W`` float32 in [0, 1], on the CPU
    tensor: torch.Tensor
    recipe: dict[str, Any] = field(default_factory=dict)
    #: the objective after each step (the batch's, without the diversity term)
    objective: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.tensor.shape[0])

    def __getitem__(self, index: int) -> Picture:
        label = self.labels[index] if index < len(self.labels) else None
        return Picture(self.tensor[index:index + 1], dict(self.recipe), objective=self.objective, label=label)

    def __iter__(self) -> Iterator[Picture]:
        return (self[i] for i in range(len(self)))

    def side_by_side(self) -> torch.Tensor:
        """The pictures in one row, as the command line writes a batch (``1,3,H,B*W``)."""
        from inceptionism.io.sheets import side_by_side

        return side_by_side(self.tensor)

    @property
    def pil(self) -> Image.Image:
        """The labelled sheet of the pictures."""
        from inceptionism.io.images import to_pil
        from inceptionism.io.sheets import contact_sheet

        labels = [self.labels[i] if i < len(self.labels) else str(i) for i in range(len(self))]
        return contact_sheet([to_pil(t) for t in self.tensor], labels, columns=min(len(self), 4))

    def numpy(self) -> np.ndarray:
        """``B,H,W,3`` uint8."""
        return np.stack([p.numpy() for p in self])

    def save(self, path: str | os.PathLike[str], *, quality: int = 95) -> Path:
        """The pictures side by side in one file with the recipe, as ``inceptionism visualize --batch`` writes."""
        from inceptionism.io.images import encode_image, output_format, write_bytes

        target = _check_target(path, self.recipe)
        data = encode_image(self.side_by_side(), output_format(target), metadata=self.recipe, quality=quality)
        return write_bytes(target, data)

    def _repr_png_(self) -> bytes:
        return _png(self.pil)

    def __repr__(self) -> str:
        w, h = int(self.tensor.shape[-1]), int(self.tensor.shape[-2])
        return f"<inceptionism.Pictures {len(self)} x {w}x{h}>"
