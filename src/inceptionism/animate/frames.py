"""A folder of numbered PNG frames that an interrupted run can resume from.

Each frame is written atomically, so every ``frame_NNNNN.png`` present is whole.
``recipe.json`` holds the settings of the run; resuming with other settings is
refused, and so is starting again over existing frames without ``resume``.

A movie's frames live in a folder named after the whole output name
(``zoom.gif`` -> ``zoom.gif_frames``), so a GIF and an MP4 with other settings
never share one. Resuming toward another format finds the frames of the same run
(same recipe) made for a sibling format, so a finished GIF turns into an MP4 at once.
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
from inceptionism.io.video import MOVIE_SUFFIXES

_FRAME = re.compile(r"^frame_(\d{5,})\.png$")


def quantize(image: torch.Tensor) -> torch.Tensor:
    """``image`` exactly as it reads back from an 8-bit PNG.

    The loop continues from this, not from the float image, so that a run resumed
    from the frames on disk matches an uninterrupted one bit for bit.
    """
    return torch.floor(image.clamp(0, 1) * 255.0 + 0.5) / 255.0


def plan_output(output: str | Path) -> tuple[Path | None, Path]:
    """(movie file or None, frames folder) for ``-o``: a movie's frames go to ``NAME_frames`` beside it."""
    out = Path(output)
    suffix = out.suffix.lower()
    if suffix in MOVIE_SUFFIXES:
        if not (out.parent if str(out.parent) else Path(".")).is_dir():
            raise OutputError(f"{output}: the folder {out.parent} does not exist")
        return out, out.with_name(out.name + "_frames")
    if suffix and not out.is_dir():
        raise OutputError(f"{output}: unsupported output {suffix!r}: use .gif, .mp4, .webm or a folder for PNG frames")
    return None, out


def resumable_folder(movie: Path | None, folder: Path, recipe: dict[str, Any]) -> Path:
    """The folder a resumed run continues in: its own, or a sibling format's with the same recipe.

    ``zoom.mp4 --resume`` after ``zoom.gif`` finds ``zoom.gif_frames`` when the
    recipes are equal (``zoom_frames``, the older name, too); otherwise its own.
    """
    if movie is None or (folder / "recipe.json").exists():
        return folder
    wanted = json.loads(json.dumps(recipe))
    stem = movie.name[: len(movie.name) - len(movie.suffix)]
    candidates = [movie.with_name(f"{stem}{s}_frames") for s in MOVIE_SUFFIXES] + [movie.with_name(f"{stem}_frames")]
    for other in candidates:
        recipe_path = other / "recipe.json"
        if other != folder and recipe_path.is_file():
            try:
                if json.loads(recipe_path.read_text()) == wanted:
                    return other
            except (OSError, json.JSONDecodeError):
                continue
    return folder


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
