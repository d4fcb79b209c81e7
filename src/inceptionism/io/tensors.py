"""Reading ``.safetensors`` files: one reader for user weights, our model files and training states.

Every command that opens such a file goes through :func:`read_safetensors`, and
every JSON value in its header through :func:`metadata_json`, so a damaged,
truncated or foreign file ends as one :class:`~inceptionism.errors.ModelError`
line wherever it is handed over.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

import torch

from inceptionism.errors import ModelError


#: what would work instead, by the kind of file asked for
HINTS = {"style model": "; make one with `inceptionism train-style`",
         "dream model": "; make one with `inceptionism train-dream`",
         "training state": "; it is written beside the model by train-style and train-dream",
         "checkpoint file": "; use a state dict saved with safetensors or torch.save"}


def read_safetensors(path: str | os.PathLike[str], *, kind: str = "model file",
                     tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors (none when ``tensors`` is False) and the metadata of a ``.safetensors`` file.

    The safetensors library checks the header before it maps anything: a header
    longer than 100 MB, offsets past the end of the file, or a dtype and shape that
    disagree with the bytes they point at are refused, so a file that claims a
    100 GB tensor costs nothing. Every way of failing ends as one :class:`ModelError`.
    """
    from safetensors import safe_open

    text = os.fspath(path)
    if not os.path.isfile(text):
        raise ModelError(f"{text}: no such {kind}")
    try:
        with safe_open(text, framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            found = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own types, and TypeError/ValueError on junk
        reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ModelError(f"{text}: not a readable .safetensors file ({reason}){HINTS.get(kind, '')}") from None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise ModelError(f"{text}: its metadata is damaged (not text)")
    return found, meta


def metadata_json(meta: Mapping[str, str], key: str, path: str | os.PathLike[str], expect: type | tuple[type, ...],
                  *, kind: str = "model file") -> Any:
    """The JSON value stored under ``key`` in a safetensors header, of type ``expect``, or one clear error."""
    if key not in meta:
        raise ModelError(f"{os.fspath(path)}: its metadata is damaged (no '{key}'); is it a {kind} of ours?")
    try:
        value = json.loads(meta[key])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{os.fspath(path)}: its metadata is damaged ('{key}' is not JSON: {exc})") from None
    if not isinstance(value, expect):
        raise ModelError(f"{os.fspath(path)}: its metadata is damaged ('{key}' is a {type(value).__name__})")
    return value
