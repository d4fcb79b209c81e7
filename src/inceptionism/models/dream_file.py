"""A dream model trained on a user's own collection: one safetensors file that describes itself.

``inceptionism train-dream`` writes it; ``--weights FILE`` dreams with it. The
file holds the whole fine-tuned network (``net.*``), and as metadata: the
backbone's registry name, what its outputs mean (the collection's class names,
or its topics with their top words) and the training settings. A captions model
also keeps the LDA's vocabulary (UTF-8, one word per line, as a ``uint8``
tensor) and its topic-word matrix (``K x V`` float), so that a word maps to the
topics it loads on without any pickle.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from inceptionism.errors import ConfigError, ModelError, param
from inceptionism.io.tensors import metadata_json, read_safetensors

FORMAT = "inceptionism-dream/1"
CLASSES, TOPICS = "classes", "topics"


@dataclass(frozen=True)
class Collection:
    """What a user model's outputs mean: class names, or caption topics."""

    kind: str  # CLASSES or TOPICS
    names: tuple[str, ...]
    top_words: tuple[tuple[str, ...], ...] = ()
    vocabulary: tuple[str, ...] = ()
    #: K x V, p(word | topic); empty for a classes model
    topic_word: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))

    @property
    def count(self) -> int:
        return len(self.names)

    def word_mix(self, word: str) -> torch.Tensor:
        """The topic mix a word loads on: p(topic | word), from the topic-word matrix (uniform topic prior)."""
        if self.kind != TOPICS:
            raise ConfigError(f"{param('word')} needs a model trained on captions (this one has classes: use {param('class_')})")
        wanted = word.strip().lower().lstrip("#")
        try:
            column = self.vocabulary.index(wanted)
        except ValueError:
            close = difflib.get_close_matches(wanted, self.vocabulary, n=5, cutoff=0.6)
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise ConfigError(f"the word {word!r} is not in this model's vocabulary{hint} "
                              f"(`inceptionism topics MODEL` lists the words)") from None
        weights = self.topic_word[:, column].float()
        return weights / weights.sum()

    def topic_index(self, value: int | str) -> int:
        try:
            index = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{param('topic')} takes a topic number, got {value!r}") from None
        if self.kind != TOPICS:
            raise ConfigError(f"{param('topic')} needs a model trained on captions (this one has classes: use {param('class_')})")
        if not 0 <= index < self.count:
            raise ConfigError(f"topic {index} is out of range: this model has {self.count} topics (0 to {self.count - 1})")
        return index


def topic_label(index: int, words: Sequence[str], n: int = 4) -> str:
    return f"topic {index}: " + " ".join(words[:n])


def _words_tensor(words: Sequence[str]) -> torch.Tensor:
    return torch.frombuffer(bytearray("\n".join(words).encode("utf-8")), dtype=torch.uint8).clone()


def _tensor_words(t: torch.Tensor) -> tuple[str, ...]:
    text = bytes(t.numpy().tobytes()).decode("utf-8")
    return tuple(text.split("\n")) if text else ()


def save_dream_model(path: str | os.PathLike[str], state: Mapping[str, torch.Tensor], *, backbone: str,
                     collection: Collection, training: dict[str, Any]) -> None:
    """Write the network's ``state`` and what it was trained on, atomically."""
    from safetensors.torch import save_file

    from inceptionism import __version__
    from inceptionism.io.images import atomic_write

    tensors = {f"net.{k}": v.detach().contiguous().cpu() for k, v in state.items()}
    if collection.kind == TOPICS:
        tensors["lda.vocabulary"] = _words_tensor(collection.vocabulary)
        tensors["lda.topic_word"] = collection.topic_word.detach().float().contiguous().cpu()
    labels = {"kind": collection.kind, "names": list(collection.names),
              "top_words": [list(w) for w in collection.top_words]}
    meta = {"format": FORMAT, "version": __version__, "backbone": backbone, "labels": json.dumps(labels),
            "training": json.dumps(training)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def is_dream_model(path: str | os.PathLike[str]) -> bool:
    text = os.fspath(path)
    if not (text.endswith(".safetensors") and os.path.isfile(text)):
        return False
    try:
        return read_safetensors(text, tensors=False)[1].get("format") == FORMAT
    except ModelError:
        return False


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _metadata(path: str, header: Mapping[str, str]) -> dict[str, Any]:
    if header.get("format") != FORMAT:
        raise ModelError(f"{path}: not a dream model of ours (train one with `inceptionism train-dream`)")
    backbone = header.get("backbone")
    if not backbone:
        raise ModelError(f"{path}: its metadata is damaged (no backbone)")
    labels = metadata_json(header, "labels", path, dict, kind="dream model")
    training = metadata_json(header, "training", path, dict, kind="dream model")
    names, top_words = labels.get("names"), labels.get("top_words", [])
    if labels.get("kind") not in (CLASSES, TOPICS) or not _strings(names) or not names:
        raise ModelError(f"{path}: its labels are damaged")
    if not isinstance(top_words, list) or not all(_strings(w) for w in top_words):
        raise ModelError(f"{path}: its topics' words are damaged")
    return {"format": FORMAT, "version": header.get("version"), "backbone": backbone, "labels": labels,
            "training": training}


def read_dream_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Backbone, labels and training settings of a dream model file (one clear error for anything else)."""
    return _metadata(os.fspath(path), read_safetensors(os.fspath(path), kind="dream model", tensors=False)[1])


def load_dream_model(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], Collection, dict[str, Any]]:
    """The network's tensors, its :class:`Collection` and the metadata of a dream model file."""
    text = os.fspath(path)
    tensors, header = read_safetensors(text, kind="dream model")
    meta = _metadata(text, header)
    state = {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}
    if not state:
        raise ModelError(f"{text}: a dream model without its network's tensors")
    labels = meta["labels"]
    if labels["kind"] == TOPICS:
        vocabulary, topic_word = tensors.get("lda.vocabulary"), tensors.get("lda.topic_word")
        if vocabulary is None or topic_word is None:
            raise ModelError(f"{text}: a topics model without its vocabulary")
        if vocabulary.dtype != torch.uint8 or vocabulary.dim() != 1:
            raise ModelError(f"{text}: its vocabulary is damaged")
        try:
            words = _tensor_words(vocabulary)
        except UnicodeDecodeError:
            raise ModelError(f"{text}: its vocabulary is damaged (not UTF-8)") from None
        if topic_word.dim() != 2 or tuple(topic_word.shape) != (len(labels["names"]), len(words)):
            raise ModelError(f"{text}: its topics' word table ({tuple(topic_word.shape)}) does not fit "
                             f"{len(labels['names'])} topics of {len(words)} words")
        collection = Collection(TOPICS, tuple(labels["names"]), tuple(tuple(w) for w in labels.get("top_words", [])),
                                words, topic_word.float())
    else:
        collection = Collection(CLASSES, tuple(labels["names"]))
    return state, collection, meta


def describe(path: str | os.PathLike[str]) -> list[str]:
    """Lines for ``inceptionism info``: backbone, labels, training settings and figures."""
    meta = read_dream_metadata(path)
    labels, training = meta["labels"], meta["training"]
    lines = [f"dream model: {Path(path)} (inceptionism {meta['version']})", f"backbone: {meta['backbone']}"]
    if labels["kind"] == CLASSES:
        lines.append(f"classes ({len(labels['names'])}): {', '.join(labels['names'])}")
    else:
        lines.append(f"topics: {len(labels['names'])} (from captions; `inceptionism topics` lists their words)")
    for key, value in training.items():
        lines.append(f"training.{key}: {value}")
    return lines
