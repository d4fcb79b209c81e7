"""Captions as the only labels: read them, and turn them into K topics (Gomez et al., CVPR 2017).

"Self-supervised learning of visual features through embedding images into text
topic spaces": a CNN learns to predict the LDA topic mix of the text that goes
with each image. Here the captions are a collection's own (Instagram or Flickr
exports, or sidecar ``.txt`` files), and the LDA is scikit-learn's, fitted on
those captions alone: nothing is downloaded, no pretrained text model is used.

Captions are lower-cased, hashtags are split from their ``#`` ("#sunset" counts
as "sunset"), links and @mentions are dropped (emoji are no words), English, Spanish
and Catalan stop words and words seen only once in the collection are dropped. The topic-word matrix and the vocabulary are kept as tensors in the
model file, so that a word maps to its topics later without any pickle.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from inceptionism.errors import ConfigError
from inceptionism.parsing import json_object

#: words: letters (any script), digits and inner apostrophes or hyphens; '#' starts a hashtag
_TOKEN = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?", re.UNICODE)
CAPTION_FILES = (".csv", ".jsonl")


@dataclass(frozen=True)
class Captioned:
    """An image and its caption."""

    image: Path
    caption: str


#: what a caption holds that is not its words: links and mentions of accounts (emoji are no words either)
_NOT_WORDS = re.compile(r"(?:https?://|www\.)\S+|@[\w.]+", re.UNICODE)
#: stop words of the seeds' city besides scikit-learn's English ones: Spanish and Catalan, the commonest
SPANISH_CATALAN_STOP_WORDS = frozenset("""
a al algo algunos ante antes como con contra cual cuando de del desde donde durante e el ella ellas ellos en entre
era es esa ese eso esta estaba estan este esto estos fue fueron ha hay la las le les lo los mas me mi mis muy nada
ni no nos nosotros o os otra otro para pero poco por porque que quien se ser si sin sobre son su sus tambien te
tiene todo todos tu tus un una uno unos y ya yo
als amb aquest aquesta aquests aqui cada com dels doncs els ell ella en ens era es esta estat fa fins hi ho i jo
la les li ma mes meu meva molt ni no nosaltres o on per pero perque pel pels quan que qui res sa se ses seu seva
si sobre son sota tambe te tot tots un una uns va vaig vam van vostre
más también está están qué cómo sí tú él així més també però perquè què
""".split())


def tokenize(text: str) -> list[str]:
    """Lower-case words: hashtags split from their '#', links and @mentions dropped (emoji are no words)."""
    text = _NOT_WORDS.sub(" ", text.lower()).replace("#", " ")
    return [t.replace("’", "'") for t in _TOKEN.findall(text)]


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start}); save the captions as UTF-8") from None


def _check_caption(text: str, where: str) -> str:
    if not text or not text.strip():
        raise ConfigError(f"{where}: the caption is empty")
    return text.strip()


def read_caption_file(path: str | os.PathLike[str]) -> list[Captioned]:
    """A CSV (with a header) or JSONL file with ``image`` and ``caption`` columns.

    Image paths are relative to the file's folder (or absolute). Every image must
    exist and every caption must be non-empty UTF-8 text: anything else is an
    error that names the line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{os.fspath(path)}: no such captions file")
    text = _decode(path.read_bytes(), os.fspath(path))
    rows: list[tuple[int, dict]] = []
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            rows.append((number, json_object(line, f"{path}:{number}")))
    elif path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))  # newline="": quoted fields may hold line breaks
        try:
            if not reader.fieldnames or not {"image", "caption"} <= {f.strip() for f in reader.fieldnames}:
                raise ConfigError(f"{path}: needs a header with 'image' and 'caption' columns, "
                                  f"found {', '.join(reader.fieldnames or []) or 'none'}")
            for row in reader:
                rows.append((reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}))
        except csv.Error as exc:
            raise ConfigError(f"{path}:{reader.line_num}: not CSV ({exc})") from None
    else:
        raise ConfigError(f"{path}: captions come as .csv or .jsonl, not {path.suffix or 'a file without suffix'}")
    items = []
    missing = []
    for number, row in rows:
        image, caption = row.get("image"), row.get("caption")
        if not isinstance(image, str) or not image.strip():
            raise ConfigError(f"{path}:{number}: no 'image' value")
        if not isinstance(caption, str):
            raise ConfigError(f"{path}:{number}: the caption is missing or not text")
        file = (path.parent / image.strip()) if not os.path.isabs(image.strip()) else Path(image.strip())
        if not file.is_file():
            missing.append((number, image.strip()))
            continue
        items.append(Captioned(file, _check_caption(caption, f"{path}:{number}")))
    if missing:
        number, name = missing[0]
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ConfigError(f"{path}:{number}: names {name!r}, which does not exist{more}")
    if not items:
        raise ConfigError(f"{path}: holds no captions")
    return items


#: a picture of a post of several (instaloader: ``2018-01-13_09-30-00_UTC_2.jpg``): its caption is the post's
_POST_PICTURE = re.compile(r"^(?P<post>.+)_(?P<number>\d{1,2})$")
#: the caption-like fields of a downloader's per-picture JSON (gallery-dl's Instagram extractor writes
#: ``description``; others ``caption``, ``content``, ``title``), in the order they are tried
JSON_CAPTION_FIELDS = ("description", "caption", "content", "title")


def sidecar_of(image: Path) -> Path | None:
    """The caption file of ``image``, as downloaders write them: ``photo.txt`` or ``photo.jpg.txt`` beside it; a
    gallery-dl ``photo.jpg.json`` or ``photo.json`` with a caption field; or, for a picture of a post of several
    (instaloader's ``POST_2.jpg``), the post's one ``POST.txt``. None when there is none."""
    candidates = [image.with_suffix(".txt"), image.with_name(image.name + ".txt"),
                  image.with_name(image.name + ".json"), image.with_suffix(".json")]
    post = _POST_PICTURE.match(image.stem)
    if post:
        candidates.append(image.with_name(post["post"] + ".txt"))
    for candidate in candidates:
        if candidate.is_file() and (candidate.suffix != ".json" or _json_caption(candidate) is not None):
            return candidate
    return None


def _json_caption(path: Path) -> str | None:
    """The caption in a downloader's per-picture JSON, or None (not JSON, not an object, no caption field)."""
    import json

    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (ValueError, OSError):
        return None
    if not isinstance(data, dict):
        return None
    for field in JSON_CAPTION_FIELDS:
        value = data.get(field)
        if isinstance(value, str) and value.strip():
            return value
    return None


def read_sidecar(side: Path) -> str:
    """The caption a sidecar holds (a ``.txt``'s text, a ``.json``'s caption field)."""
    if side.suffix == ".json":
        caption = _json_caption(side)
        return _check_caption(caption or "", os.fspath(side))
    return _check_caption(_decode(side.read_bytes(), os.fspath(side)), os.fspath(side))


def read_sidecars(images: Sequence[Path]) -> tuple[list[Captioned], list[Path]]:
    """Each image with the caption of its sidecar (:func:`sidecar_of`), and the images that have none (skipped,
    and counted by the caller); no image with a caption at all is an error."""
    items, lacking = [], []
    for image in images:
        side = sidecar_of(image)
        if side is None:
            lacking.append(image)
        else:
            items.append(Captioned(image, read_sidecar(side)))
    if not items and lacking:
        raise ConfigError(f"{lacking[0]}: has no caption file {lacking[0].with_suffix('.txt').name}, and no picture "
                          "of the folder has one")
    return items, lacking


@dataclass(frozen=True)
class Topics:
    """K topics fitted on a collection's captions."""

    vocabulary: tuple[str, ...]
    #: K x V, each row a distribution over the vocabulary (p(word | topic))
    topic_word: np.ndarray
    #: N x K, each row the topic mix of one caption (the training targets)
    doc_topic: np.ndarray

    @property
    def count(self) -> int:
        return self.topic_word.shape[0]

    def top_words(self, n: int = 8) -> list[list[str]]:
        return [[self.vocabulary[i] for i in np.argsort(-row)[:n]] for row in self.topic_word]


def fit_topics(captions: Sequence[str], k: int, *, seed: int = 0, max_iter: int = 50) -> Topics:
    """Fit an LDA with ``k`` topics on ``captions`` (scikit-learn, batch variational Bayes)."""
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    if k < 2:
        raise ConfigError(f"--topics must be at least 2, got {k}")
    stop = set(ENGLISH_STOP_WORDS) | SPANISH_CATALAN_STOP_WORDS
    docs = [[t for t in tokenize(c) if t not in stop and len(t) > 1] for c in captions]
    counts: dict[str, int] = {}
    for doc in docs:
        for t in doc:
            counts[t] = counts.get(t, 0) + 1
    vocabulary = sorted(t for t, c in counts.items() if c >= 2)  # words seen once say nothing shared
    if len(vocabulary) < 2:
        raise ConfigError("the captions share almost no words (after dropping stop words and words seen once): "
                          "topics need captions that repeat words across images")
    vectorizer = CountVectorizer(vocabulary=vocabulary, analyzer=lambda doc: doc)
    matrix = vectorizer.transform(docs)
    empty = int((matrix.sum(axis=1) == 0).sum())
    lda = LatentDirichletAllocation(n_components=k, learning_method="batch", max_iter=max_iter, random_state=seed)
    doc_topic = lda.fit_transform(matrix)
    topic_word = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
    if empty:
        import logging

        logging.getLogger(__name__).warning(
            "%d captions have none of the shared words; their images learn the collection's average topic mix", empty)
    return Topics(tuple(vocabulary), topic_word.astype(np.float32), doc_topic.astype(np.float32))
