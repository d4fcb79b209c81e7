"""Reading a real collection: links to folders, transparent drawings, huge files, no raw warnings."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.dream.train import read_folders
from inceptionism.training.data import ImageFiles, open_rgb, walk_images


def _drawing(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> Path:
    """A palette PNG whose background is transparent by palette index (as clip art is saved)."""
    im = Image.new("P", size, 0)
    im.putpalette([0, 0, 0, *colour] + [0] * (256 - 2) * 3)
    im.paste(1, (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4))
    im.info["transparency"] = 0
    im.save(path, transparency=0)
    return path


def test_transparent_drawings_are_flattened_onto_white_without_a_warning(tmp_path):
    path = _drawing(tmp_path / "d.png", (200, 30, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb = np.asarray(open_rgb(path))
    assert tuple(rgb[0, 0]) == (255, 255, 255)  # the page, not black
    assert tuple(rgb[24, 32]) == (200, 30, 30)


def test_a_picture_over_pillows_bomb_limit_but_under_ours_reads_without_a_warning(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (1200, 900), (10, 200, 10)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500_000)  # Pillow would warn: 1.08 MP is over 0.5 MP
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_rgb(path).size == (1200, 900)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_huge_files_are_decoded_no_larger_than_the_crops_need(tmp_path, fmt):
    path = tmp_path / f"big.{fmt.lower()}"
    Image.new("RGB", (2000, 1500), (10, 20, 200)).save(path, fmt)
    small = open_rgb(path, min_side=160)
    assert 160 <= min(small.size) < 320 and abs(small.width / small.height - 4 / 3) < 0.02
    assert open_rgb(path, min_side=2000).size == (2000, 1500)  # never enlarged


def test_the_read_cache_is_bounded(tmp_path):
    files = [_drawing(tmp_path / f"{i}.png", (i * 20, 0, 0), (200, 200)) for i in range(6)]

    class Plain(ImageFiles):
        def sample(self, index, image, rng):
            return image

    data = Plain(files, name="t", min_side=100, cache_bytes=3 * 100 * 100 * 3)  # each is read at 100x100
    for i in range(6):
        data[i]
    assert data._cached <= data.cache_bytes and len(data._cache) == 3
    assert data.read(5) is data.read(5)  # the newest is kept


def test_class_folders_may_be_links_and_a_link_cycle_ends(tmp_path):
    store = tmp_path / "store"
    for name, colour in (("cats", (200, 0, 0)), ("dogs", (0, 0, 200))):
        (store / name).mkdir(parents=True)
        for i in range(3):
            _drawing(store / name / f"{i}.png", colour)
    data = tmp_path / "collection"
    data.mkdir()
    os.symlink(store / "cats", data / "cats")
    os.symlink(store / "dogs", data / "dogs")
    os.symlink(store / "cats", store / "cats" / "again")  # a cycle: the folder inside itself
    collection = read_folders(data)
    assert list(collection.collection.names) == ["cats", "dogs"]
    assert len(collection.images) == 6  # each real folder once
    assert sorted(collection.targets.argmax(1).tolist()) == [0, 0, 0, 1, 1, 1]
