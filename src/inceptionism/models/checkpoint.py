"""Loading user checkpoints safely into a registry architecture.

Checkpoints come from strangers, so nothing in them is run:

- ``.safetensors``: tensors and nothing else, the safe format; preferred.
- a state dict saved with ``torch.save``: read by torch's ``weights_only``
  unpickler, which refuses everything but tensors and plain containers. That
  unpickler could itself be fooled into running code up to torch 2.5.1
  (CVE-2025-32434) and corrupt memory up to 2.9 (CVE-2026-24747), so on a torch
  older than 2.10 such files are refused, with what to do instead.
- a whole TorchScript file: its ``data.pkl`` is read by a pickle reader of ours
  that knows the few globals a TorchScript archive uses to store tensors and
  builds inert stand-ins for its classes; the TorchScript loader
  (``torch.jit.load``), which is not made for untrusted files, never sees it.

A refusal names what the file tried to load. Common wrappers
(``{"state_dict": ...}``, ``{"model": ...}``, DataParallel's ``module.`` prefix)
are unwrapped. A classifier with another number of classes (a network fine-tuned
on your own labels) is detected and built to match.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import warnings
import zipfile
from collections import OrderedDict
from typing import Any, Mapping

import torch
from torch import nn

from inceptionism.errors import ModelError
from inceptionism.io.tensors import read_safetensors
from inceptionism.models.efficientnet_lite0 import lite0_from_efficientnet_pytorch
from inceptionism.models.spec import ModelSpec, load_state_into

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")

#: the first torch whose weights_only unpickler has the fixes for CVE-2025-32434 and CVE-2026-24747
SAFE_PICKLE_TORCH = (2, 10)
SAFE_FORMATS = ".safetensors (best), or a state dict saved with torch.save"


def _torch_version() -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", torch.__version__)
    return (int(m[1]), int(m[2])) if m else (0, 0)


def _refused(path: str, what: str) -> ModelError:
    return ModelError(f"{path}: refused: loading it would call {what}, and a file of weights needs nothing but "
                      f"tensors; ask for it as .safetensors (or convert it on a machine you trust)")


# -- TorchScript archives, read without the TorchScript loader ------------------------
class _ScriptObject:
    """Stands for an instance of a TorchScript class: keeps its attributes, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _StorageType:
    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: Any, stride: Any, *_: Any) -> torch.Tensor:
    return torch.as_strided(storage, tuple(size), tuple(stride), offset).clone()


def _same(value: Any) -> Any:
    return value


_SCRIPT_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("collections", "OrderedDict"): OrderedDict,
    **{("torch.jit._pickle", f"build_{k}list"): _same for k in ("int", "double", "bool", "tensor", "generic")},
}


class _ScriptUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__."):
            return _ScriptObject
        if module == "torch" and name.endswith("Storage") and isinstance(getattr(torch, name, None), type):
            dtype = getattr(getattr(torch, name), "dtype", None)
            if isinstance(dtype, torch.dtype):
                return _StorageType(dtype)
        if (module, name) in _SCRIPT_GLOBALS:
            return _SCRIPT_GLOBALS[(module, name)]
        raise pickle.UnpicklingError(f"GLOBAL {module}.{name}")

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError("an unknown persistent reference")
        data = self.archive.read(f"{self.prefix}/data/{pid[2]}")
        return torch.frombuffer(bytearray(data), dtype=pid[1].dtype) if data else torch.empty(0, dtype=pid[1].dtype)


def _script_tensors(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    if isinstance(obj, _ScriptObject) and isinstance(getattr(obj, "state", None), Mapping):
        for key, value in obj.state.items():
            _script_tensors(value, f"{prefix}{key}.", out)
    elif isinstance(obj, torch.Tensor):
        out[prefix[:-1]] = obj


def read_torchscript(path: str) -> dict[str, torch.Tensor]:
    """The parameters and buffers of a TorchScript archive, by name; its code is never loaded."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if not names:
            raise ModelError(f"{path}: a zip file, but not a TorchScript archive (no data.pkl)")
        prefix = names[0].rsplit("/", 1)[0]
        try:
            root = _ScriptUnpickler(archive.read(names[0]), archive, prefix).load()
        except pickle.UnpicklingError as exc:
            what = str(exc).removeprefix("GLOBAL ")
            raise _refused(path, what) from None
        except (EOFError, ValueError, TypeError, RuntimeError, KeyError, IndexError) as exc:
            raise ModelError(f"{path}: a damaged TorchScript archive ({type(exc).__name__}: {exc})") from None
    tensors: dict[str, torch.Tensor] = {}
    _script_tensors(root, "", tensors)
    return tensors


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in zf.namelist())


def _pickle_protocol(path: str) -> str | None:
    """The pickle protocol of a torch checkpoint (zip or legacy), from its first PROTO opcode ("0 or 1" without
    one); None if unknown."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
                head = archive.open(name).read(2) if name else b""
        else:
            with open(path, "rb") as f:
                head = f.read(2)
    except Exception:  # noqa: BLE001 - a best-effort look at a file already known to be unreadable
        return None
    if len(head) == 2 and head[0] == 0x80:
        return str(head[1])
    return "0 or 1" if head[:1] not in (b"", b"\x80") else None


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, by name, on the CPU."""
    text = os.fspath(path)
    if not os.path.isfile(text):
        raise ModelError(f"{text}: no such checkpoint file")
    try:
        if text.endswith(".safetensors"):
            obj: object = read_safetensors(text, kind="checkpoint file")[0]
        elif _is_torchscript(text):
            obj = read_torchscript(text)
        else:
            if _torch_version() < SAFE_PICKLE_TORCH:
                raise ModelError(
                    f"{text}: refused: torch {torch.__version__} cannot read pickled checkpoints from others safely "
                    f"(CVE-2025-32434, CVE-2026-24747, fixed in torch 2.10): upgrade torch, or use a .safetensors file")
            with warnings.catch_warnings():
                # torch warns of any pickle protocol but 2 (with its source line); what it cannot read is said below
                warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
                obj = torch.load(text, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:
            raise _refused(text, found[1]) from None
        protocol = _pickle_protocol(text)
        if protocol is not None and protocol != "2" and "Unsupported operand" in str(exc):
            raise ModelError(f"{text}: a checkpoint pickled with protocol {protocol}, which torch's safe loader cannot "
                             f"read; save it again with torch.save's default protocol (2), or use .safetensors "
                             f"(best)") from None
        # no class named: the bytes are no pickle of tensors at all (a picture or text renamed, a damaged file)
        raise ModelError(f"{text}: not a readable checkpoint (not a pickle of tensors); use {SAFE_FORMATS}") from None
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - an empty, truncated or foreign file: the parsers fail with whatever they hit first
        if not isinstance(exc, (RuntimeError, OSError, ValueError, zipfile.BadZipFile)):
            reason = "it ends early, or holds something else"  # what a pickle parser says of junk means nothing here
        else:
            reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ModelError(f"{text}: not a readable checkpoint ({reason}); use {SAFE_FORMATS}") from None
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
