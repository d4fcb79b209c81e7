"""Exports of a style model: ONNX (checked with onnxruntime) and half-precision safetensors.

The ONNX graph takes ``image`` (``1,3,H,W`` in [0, 1], any H and W) and ``mix``
(``1,N`` style weights summing to 1) and returns ``stylized``.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass

import torch

from inceptionism.errors import InceptionismError, OutputError
from inceptionism.io.images import atomic_write
from inceptionism.style.model_file import load_model
from inceptionism.style.network import mix_weights


@dataclass(frozen=True)
class ExportCheck:
    max_abs_error: float
    sizes: tuple[tuple[int, int], ...]


#: (height, width) of the random images an export is checked on: odd and even, not square
PROBE_SIZES = ((96, 128), (203, 150))


def _probes(styles: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded random images at :data:`PROBE_SIZES`, each with a random mix of ``styles`` styles."""
    out = []
    for i, (h, w) in enumerate(PROBE_SIZES):
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(i + 1))
        m = torch.rand(1, styles, generator=torch.Generator().manual_seed(i + 7))
        out.append((x, m / m.sum()))
    return out


def export_onnx(model_path: str | os.PathLike[str], onnx_path: str | os.PathLike[str], *,
                tolerance: float = 1e-3) -> ExportCheck:
    """Write ``onnx_path`` and check it with onnxruntime at two sizes against PyTorch."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise InceptionismError("ONNX export needs onnx, onnxscript and onnxruntime: pip install 'inceptionism[onnx]'") from exc
    net, _ = load_model(model_path)
    example = torch.rand(1, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    mix = mix_weights(net.styles, index=0)
    dims = {"image": {2: torch.export.Dim("height", min=16, max=16384), 3: torch.export.Dim("width", min=16, max=16384)},
            "mix": None}

    def write(tmp: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter reports its stages on stdout
            program = torch.onnx.export(net, (example, mix), input_names=["image", "mix"], output_names=["stylized"],
                                        dynamic_shapes=dims, dynamo=True)
        program.save(tmp)

    atomic_write(onnx_path, write)
    session = onnxruntime.InferenceSession(os.fspath(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for x, m in _probes(net.styles):
        with torch.no_grad():
            want = net(x, m).numpy()
        got = session.run(["stylized"], {"image": x.numpy(), "mix": m.numpy()})[0]
        worst = max(worst, float(abs(got - want).max()))
    if worst > tolerance:
        os.unlink(onnx_path)
        raise OutputError(f"{os.fspath(onnx_path)}: the ONNX model differs from PyTorch by {worst:.2g}; not written")
    return ExportCheck(worst, PROBE_SIZES)


def export_half(model_path: str | os.PathLike[str], out_path: str | os.PathLike[str], *,
                tolerance: float = 2.0 / 255) -> ExportCheck:
    """Write a float16 copy of a style model (half the bytes: what ships), checked against the float32 one.

    The network computes in float32 either way (the tensors are widened on load).
    Before anything is written, two random images with a random mix go through
    the float32 network and through one holding the rounded tensors; if any pixel
    moves by more than ``tolerance`` (0-1 scale), nothing is written.
    """
    import copy

    from safetensors.torch import save_file

    from inceptionism.io.tensors import read_safetensors

    if os.path.abspath(model_path) == os.path.abspath(out_path):
        raise OutputError(f"{os.fspath(out_path)}: the half-precision copy would overwrite its source")
    net, _ = load_model(model_path)  # also checks that the file is one of ours
    stored, metadata = read_safetensors(model_path, kind="style model")
    tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in stored.items()}
    half = copy.deepcopy(net)
    half.load_state_dict(tensors)
    worst = 0.0
    for x, m in _probes(net.styles):
        with torch.no_grad():
            worst = max(worst, float((half(x, m) - net(x, m)).abs().max()))
    if worst > tolerance:
        raise OutputError(f"{os.fspath(out_path)}: in half precision the model moves pixels by {worst:.2g}; not written")
    atomic_write(out_path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    return ExportCheck(worst, PROBE_SIZES)
