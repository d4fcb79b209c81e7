"""Image files for training, read in worker processes; unreadable files are skipped and counted.

:class:`ImageFiles` is the base of every training set: a subclass turns one
readable file into a sample (:meth:`ImageFiles.sample`). A file that cannot be
read is marked in a flag tensor in shared memory (so the marks of worker processes
reach the main process), logged once, never opened again, and replaced by the
next readable file, so batches keep their size. :meth:`ImageFiles.skipped` lists
the files skipped so far.
"""

from __future__ import annotations

import logging
import os
import random
import signal
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from inceptionism.errors import ConfigError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
#: what reading a broken, truncated or hostile image file raises
READ_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def walk_images(root: str | os.PathLike[str]) -> list[Path]:
    """Every image file under ``root``, recursively, in a stable order.

    Links to folders are followed (a collection assembled from links to other
    folders is common), each real folder once, so a link cycle ends the walk
    there instead of looping.
    """
    seen: set[str] = set()
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        found += [Path(folder) / f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES
                  and os.path.isfile(os.path.join(folder, f))]
    return sorted(found)


def find_images(root: str | os.PathLike[str]) -> list[Path]:
    """Every image file under ``root``, recursively, in a stable order (:func:`walk_images`)."""
    folder = Path(root)
    if not folder.is_dir():
        raise ConfigError(f"{os.fspath(root)}: no such folder of training images")
    files = walk_images(folder)
    if not files:
        raise ConfigError(f"{os.fspath(root)}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (the training loop's own randomness)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: each data worker's NumPy and Python generators follow its torch seed.

    Ctrl-C and SIGTERM reach a worker too when the whole process group gets them (a
    terminal, ``kill -- -PGID``, a batch system cancelling a job); a worker that died
    of them made the main process fail with a traceback instead of finishing its
    step and saving. The workers ignore both: the main process stops them.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def open_rgb(path: Path, *, min_side: int | None = None) -> Image.Image:
    """The file as a decoded RGB image (raises one of ``READ_ERRORS`` if it cannot be read).

    Transparency is flattened onto white (drawings and logos are drawn on a
    transparent page; black, what a plain conversion gives, would make every one
    of them a silhouette). Pillow's decompression-bomb warning is not shown: our own
    pixel limit is the one in force. ``min_side``: the picture is decoded (JPEG's
    draft mode) or reduced so that its shorter side is no smaller than this, and no
    larger than needed: a 169-megapixel drawing becomes a few hundred pixels a side
    before any training transform sees it.
    """
    from inceptionism.io.images import DEFAULT_MAX_PIXELS, pixel_limit

    with pixel_limit(DEFAULT_MAX_PIXELS), Image.open(path) as im:
        w, h = im.size
        if w * h > DEFAULT_MAX_PIXELS:
            raise ValueError(f"{w}x{h} is over the limit of {DEFAULT_MAX_PIXELS:,} pixels")
        if min_side and im.format == "JPEG":
            im.draft("RGB", (max(1, w * min_side // min(w, h)), max(1, h * min_side // min(w, h))))
        im.load()
        transparent = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        im = im.convert("RGBA" if transparent else "RGB")
        if min_side and min(im.size) >= 2 * min_side:
            im = im.reduce(min(im.size) // min_side)
        if transparent:
            page = Image.new("RGBA", im.size, (255, 255, 255, 255))
            return Image.alpha_composite(page, im).convert("RGB")
        return im


class ImageFiles(torch.utils.data.Dataset):
    """Samples made from image files; an unreadable file is skipped and the next readable one stands in."""

    def __init__(self, files: Sequence[Path], *, name: str, seed: int = 0, min_side: int | None = None,
                 cache_bytes: int = 256 * 2**20):
        if not files:
            raise ConfigError(f"{name}: holds no images")
        self.files = list(files)
        self.name, self.seed = name, seed
        #: read pictures down to this shorter side (None: as they are), and keep up to ``cache_bytes`` of
        #: them per reading process, so that huge files are decoded once, not every epoch
        self.min_side, self.cache_bytes = min_side, cache_bytes
        self._cache: dict[int, Image.Image] = {}
        self._cached = 0
        #: 1 where a file turned out unreadable; in shared memory, so worker processes' marks are seen here
        self.bad = torch.zeros(len(self.files), dtype=torch.uint8).share_memory_()

    def __len__(self) -> int:
        return len(self.files)

    def sample(self, index: int, image: Image.Image, rng: random.Random) -> Any:
        """The training sample that file ``index`` (already read as ``image``) gives."""
        raise NotImplementedError

    def rng(self, index: int) -> random.Random:
        """A generator for one item, drawn from the reading process's torch generator.

        Workers live for the whole run, so a seed made of the index alone would give
        an image the same crop every epoch; drawing from the worker's own seeded
        stream gives a fresh one each time, reproducibly for a given ``seed``.
        """
        return random.Random(int(torch.randint(2**62, ())) ^ self.seed)

    def __getitem__(self, index: int) -> Any:
        rng = self.rng(index)
        for attempt in range(len(self.files)):
            i = (index + attempt) % len(self.files)
            if self.bad[i]:
                continue
            try:
                return self.sample(i, self.read(i), rng)
            except READ_ERRORS as exc:
                self.bad[i] = 1
                log.warning("skipping unreadable training image %s: %s", self.files[i], exc)
        raise ConfigError(f"{self.name}: none of its images can be read")

    def read(self, i: int) -> Image.Image:
        """File ``i`` as RGB (:func:`open_rgb`), from this process's bounded cache when it was read before."""
        if self.min_side is None:
            return open_rgb(self.files[i])
        image = self._cache.pop(i, None)
        if image is None:
            image = open_rgb(self.files[i], min_side=self.min_side)
            size = image.width * image.height * 3
            if size > self.cache_bytes:
                return image
            while self._cached + size > self.cache_bytes and self._cache:
                oldest = next(iter(self._cache))
                old = self._cache.pop(oldest)
                self._cached -= old.width * old.height * 3
            self._cached += size
        self._cache[i] = image  # the most recently used last
        return image

    def skipped(self) -> list[Path]:
        """The files found unreadable so far."""
        return [self.files[i] for i in torch.nonzero(self.bad).flatten().tolist()]


def warn_skipped(paths: list[Path], what: str) -> None:
    """One warning line for the unreadable files a training run skipped (the first five named)."""
    if paths:
        log.warning("skipped %d unreadable %s: %s", len(paths), what,
                    ", ".join(p.name for p in paths[:5]) + (" ..." if len(paths) > 5 else ""))


class EpochBatches(torch.utils.data.Sampler):
    """Batches of indices, epoch after epoch, without end: each epoch a fresh seeded permutation.

    With ``world_size`` above 1 each rank takes every ``world_size``-th index of the
    epoch's permutation (after padding it to a multiple of the ranks, as
    ``DistributedSampler`` does), so ranks see disjoint shares of the same epoch.
    ``drop_last`` drops each epoch's last short batch.
    """

    def __init__(self, size: int, batch_size: int, *, seed: int, start_step: int = 0, drop_last: bool = True,
                 rank: int = 0, world_size: int = 1):
        self.size, self.batch_size, self.seed, self.start_step = size, batch_size, seed, start_step
        self.drop_last, self.rank, self.world_size = drop_last, rank, world_size

    def epoch(self, epoch: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + 1000 * epoch + self.start_step)
        order = torch.randperm(self.size, generator=generator).tolist()
        if self.world_size > 1:
            order += order[: (-len(order)) % self.world_size]
            order = order[self.rank::self.world_size]
        cut = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        if cut == 0:  # fewer items than a batch: keep them rather than yield nothing forever
            cut = len(order)
        return [order[i:i + self.batch_size] for i in range(0, cut, self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        epoch = 0
        while True:
            yield from self.epoch(epoch)
            epoch += 1

    def __len__(self) -> int:  # one epoch's worth; the iterator itself never ends
        return len(self.epoch(0))


def batches(
    dataset: torch.utils.data.Dataset,
    *,
    batch_size: int,
    workers: int,
    seed: int,
    start_step: int = 0,
    drop_last: bool = True,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
) -> Iterator[Any]:
    """Shuffled batches, epoch after epoch, forever; ``workers`` processes read the files.

    One loader serves the whole run, so worker processes start once (a small
    collection is many short epochs). The order depends on ``seed``, the epoch and
    ``start_step`` (a resumed run draws fresh batches rather than repeating the
    first ones). With ``world_size`` above 1 each rank reads its own share.
    """
    sampler = EpochBatches(len(dataset), batch_size, seed=seed, start_step=start_step,
                           drop_last=drop_last and len(dataset) >= batch_size, rank=rank, world_size=world_size)
    generator = torch.Generator().manual_seed(seed + start_step)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=workers, generator=generator,
                                         worker_init_fn=seed_worker, pin_memory=pin_memory,
                                         prefetch_factor=2 if workers else None)
    return iter(loader)
