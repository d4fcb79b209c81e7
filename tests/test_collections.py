"""Collections as downloaders write them (issue 47): an instaloader folder (posts of one picture and of several,
a video, geotags, comments, metadata) and gallery-dl's JSON captions train, with captions cleaned as people write them."""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.cli import main
from inceptionism.configs import DreamTrainConfig
from inceptionism.dream.topics import tokenize
from inceptionism.dream.train import read_collection

FOOD = "Tapas and paella for dinner 🥘 #food #tapas #paella con @maria.bcn https://t.co/abc\r\nde noche"
BEACH = "Sun, sand and the sea at the beach #beach #sea #sand #barceloneta"


def _picture(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)


def instaloader_folder(root: Path) -> Path:
    """#barcelona as instaloader writes it: one-picture posts, posts of several, a video, and their side files."""
    folder = root / "#barcelona"
    folder.mkdir(parents=True)
    seed = 0
    for day in range(1, 7):
        stem = f"2018-01-{day:02d}_10-00-00_UTC"
        caption = FOOD if day % 2 else BEACH
        if day in (1, 2):  # a post of three pictures, one caption without the number
            for n in (1, 2, 3):
                _picture(folder / f"{stem}_{n}.jpg", seed := seed + 1)
        else:
            _picture(folder / f"{stem}.jpg", seed := seed + 1)
        (folder / f"{stem}.txt").write_bytes(caption.encode("utf-8").replace(b"\n", b"\r\n"))
        (folder / f"{stem}.json.xz").write_bytes(lzma.compress(b'{"node": {"id": "1"}}'))
        (folder / f"{stem}_comments.json").write_text(json.dumps([{"text": "comentario gracioso zzzcomment"}]))
        (folder / f"{stem}_location.txt").write_text("Platja zzzplace\nhttps://maps.google.com/maps?q=41.37,2.19\n")
    (folder / "2018-01-06_10-00-00_UTC.mp4").write_bytes(b"\0\0\0\x18ftypmp42")  # a video beside its thumbnail
    _picture(folder / "2018-01-20_12-00-00_UTC.jpg", 99)  # a picture whose post has no caption
    (folder / "id").write_text("123456")
    return folder


def test_an_instaloader_folder_uses_each_posts_caption_and_skips_what_has_none(tmp_path):
    folder = instaloader_folder(tmp_path)
    labelled = read_collection(folder, DreamTrainConfig(topics=2))
    names = sorted(p.name for p in labelled.images)
    assert len(names) == 10 and "2018-01-01_10-00-00_UTC_2.jpg" in names  # every picture of a post of several
    assert [p.name for p in labelled.uncaptioned] == ["2018-01-20_12-00-00_UTC.jpg"]
    words = set(labelled.collection.vocabulary)
    assert {"paella", "tapas", "beach", "sea"} <= words
    # the topics come from the captions' words only: no map links, no comments, no mentions, no stop words
    assert not words & {"zzzplace", "zzzcomment", "maps", "google", "https", "maria", "bcn", "con", "de", "co"}


def test_gallery_dl_json_captions_and_one_line_when_no_picture_has_one(tmp_path):
    folder = tmp_path / "gallery"
    folder.mkdir()
    for i in range(4):
        _picture(folder / f"{i}.jpg", i)
        caption = FOOD if i % 2 else BEACH
        (folder / f"{i}.jpg.json").write_text(json.dumps({"description": caption, "likes": 3}))
    labelled = read_collection(folder, DreamTrainConfig(topics=2))
    assert len(labelled.images) == 4 and "paella" in labelled.collection.vocabulary
    bare = tmp_path / "bare"
    bare.mkdir()
    for i in range(2):
        _picture(bare / f"{i}.jpg", i)
    with pytest.raises(Exception, match="no picture of the folder has one"):
        read_collection(bare, DreamTrainConfig(labels="captions", topics=2))


def test_captions_are_cleaned_as_people_write_them():
    assert tokenize("Sagrada Família #sagradafamilia @amic.bcn http://x.cat/y 🌞\r\nAnem!") == \
        ["sagrada", "família", "sagradafamilia", "anem"]


def test_the_closing_line_counts_the_pictures_without_a_caption(tmp_path, capsys):
    folder = instaloader_folder(tmp_path)
    out = tmp_path / "bcn.safetensors"
    assert main(["train-dream", str(folder), "-o", str(out), "--topics", "2", "--epochs", "1", "--image-size", "32",
                 "--batch-size", "2", "--workers", "0"]) == 0
    assert "1 pictures without a caption skipped" in capsys.readouterr().err
