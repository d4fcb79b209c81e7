"""Loading user checkpoints safely into a registry architecture.

Accepted: a state dict saved with ``torch.save`` (read with ``weights_only=True``,
so no arbitrary object is unpickled), a ``.safetensors`` file, or a whole
TorchScript file (its tensors are taken, its code is not run). Common wrappers
(``{"state_dict": ...}``, ``{"model": ...}``, DataParallel's ``module.`` prefix)
are unwrapped. A classifier with another number of classes (a network fine-tuned
on your own labels) is detected and built to match.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from typing import Mapping

import torch
from torch import nn

from inceptionism.errors import ModelError
from inceptionism.models.efficientnet_lite0 import lite0_from_efficientnet_pytorch
from inceptionism.models.spec import ModelSpec, load_state_into

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in zf.namelist())


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, by name, on the CPU."""
    text = os.fspath(path)
    if not os.path.isfile(text):
        raise ModelError(f"{text}: no such checkpoint file")
    try:
        if text.endswith(".safetensors"):
            from safetensors.torch import load_file

            obj: object = load_file(text, device="cpu")
        elif _is_torchscript(text):
            with warnings.catch_warnings():  # "torch.jit.load is deprecated": still the way to read one
                warnings.simplefilter("ignore", FutureWarning)
                obj = torch.jit.load(text, map_location="cpu").state_dict()
        else:
            obj = torch.load(text, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"{text}: refused to load: it holds Python objects beyond tensors "
            f"(save model.state_dict() instead): {str(exc).splitlines()[0]}"
        ) from exc
    except (RuntimeError, OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{text}: not a readable checkpoint: {str(exc).splitlines()[0]}") from exc
    for _ in range(2):
        if isinstance(obj, Mapping):
            inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is not None:
                obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise ModelError(f"{text}: holds no state dict")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise ModelError(f"{text}: holds no tensors")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_checkpoint(spec: ModelSpec, path: str | os.PathLike[str]) -> tuple[nn.Module, int]:
    """Build ``spec``'s architecture with the tensors of ``path``; returns it and its class count."""
    state = read_state_dict(path)
    if spec.name == "efficientnet_lite0" and "_conv_stem.weight" in state:
        # the naming of efficientnet_pytorch (and of the embedded file)
        n = state["_fc.weight"].shape[0] if "_fc.weight" in state else spec.num_classes
        net = spec.build(num_classes=n)
        state = lite0_from_efficientnet_pytorch(state, net)
    else:
        key = f"{spec.classifier}.weight"
        if key not in state:
            raise ModelError(
                f"{os.fspath(path)}: does not look like a {spec.name} checkpoint "
                f"(no {key}; its first tensors: {', '.join(list(state)[:3])})"
            )
        n = int(state[key].shape[0])
        net = spec.build(num_classes=n)
    load_state_into(net, spec, state, source=os.fspath(path))
    return net, n
