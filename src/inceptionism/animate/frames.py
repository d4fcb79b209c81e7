"""A folder of numbered PNG frames that an interrupted run can resume from.

Each frame is written atomically, so every ``frame_NNNNN.png`` present is whole.
``recipe.json`` holds the settings of the run; resuming with other settings is
refused, and so is starting again over existing frames without ``resume``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from inceptionism.errors import ConfigError, OutputError
from inceptionism.io.images import atomic_write, save_image

_FRAME = re.compile(r"^frame_(\d{5,})\.png$")


def quantize(image: torch.Tensor) -> torch.Tensor:
    """``image`` exactly as it reads back from an 8-bit PNG.

    The loop continues from this, not from the float image, so that a run resumed
    from the frames on disk matches an uninterrupted one bit for bit.
    """
    return torch.floor(image.clamp(0, 1) * 255.0 + 0.5) / 255.0


class FrameStore:
    def __init__(self, folder: str | Path, recipe: dict[str, Any], *, resume: bool):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.folder}: cannot create the frames folder: {exc.strerror or exc}") from exc
        self.recipe = json.loads(json.dumps(recipe))  # as it reads back from disk
        recipe_path = self.folder / "recipe.json"
        existing = self.frame_numbers()
        if recipe_path.exists():
            stored = json.loads(recipe_path.read_text())
            if existing and not resume:
                raise OutputError(
                    f"{self.folder} already holds {len(existing)} frames: add --resume to continue, "
                    "or remove them to start again"
                )
            if resume and stored != self.recipe:
                changed = sorted(k for k in set(stored) | set(self.recipe) if stored.get(k) != self.recipe.get(k))
                raise ConfigError(f"cannot resume {self.folder}: these settings differ from the run there: "
                                  + ", ".join(changed))
        elif existing:
            raise OutputError(f"{self.folder} holds frames from another program or run; remove them first")
        if not resume or not recipe_path.exists():
            atomic_write(recipe_path, lambda tmp: Path(tmp).write_text(json.dumps(self.recipe, indent=1)))

    def path(self, number: int) -> Path:
        return self.folder / f"frame_{number:05d}.png"

    def frame_numbers(self) -> list[int]:
        return sorted(int(m[1]) for p in self.folder.glob("frame_*.png") if (m := _FRAME.match(p.name)))

    def last(self) -> int:
        """The number of the last frame written (frames count from 1), 0 if none."""
        numbers = self.frame_numbers()
        return numbers[-1] if numbers else 0

    def write(self, number: int, image: torch.Tensor) -> Path:
        """Write frame ``number`` atomically, with the run's recipe and its number in its metadata."""
        return save_image(image, self.path(number), metadata={**self.recipe, "frame": number})

    def read(self, number: int) -> torch.Tensor:
        with Image.open(self.path(number)) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()

    def arrays(self, count: int) -> list[np.ndarray]:
        out = []
        for n in range(1, count + 1):
            with Image.open(self.path(n)) as im:
                out.append(np.asarray(im.convert("RGB")))
        return out
