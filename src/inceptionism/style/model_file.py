"""Style model files: safetensors that describe themselves, and tiled stylisation.

A model file holds the network's tensors and, as safetensors metadata, what
``inceptionism info`` shows: each style's name, SHA-256 and a small thumbnail,
the architecture, and the training settings and step. Training state (optimiser
moments, step) goes to a sidecar ``NAME.train.safetensors`` so that the model
file stays small while ``--resume`` can continue exactly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from inceptionism.errors import ModelError
from inceptionism.io.images import atomic_write, to_pil
from inceptionism.style.network import StyleNetwork

FORMAT = "inceptionism-style/1"


@dataclass(frozen=True)
class StyleInfo:
    name: str
    sha256: str
    thumbnail: str  # PNG, base64


def describe_style(path: str, image: torch.Tensor, thumb: int = 64) -> StyleInfo:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if os.path.isfile(path) else \
        hashlib.sha256(image.numpy().tobytes()).hexdigest()
    pil = to_pil(image)
    pil.thumbnail((thumb, thumb))
    buf = io.BytesIO()
    pil.save(buf, "PNG")
    return StyleInfo(Path(path).stem if not path.startswith("skimage:") else path, digest,
                     base64.b64encode(buf.getvalue()).decode("ascii"))


def train_state_path(model_path: str | os.PathLike[str]) -> Path:
    p = Path(model_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".train.safetensors")


def save_model(path: str | os.PathLike[str], net: StyleNetwork, styles: Sequence[StyleInfo],
               training: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    from inceptionism import __version__

    meta = {
        "format": FORMAT, "version": __version__,
        "architecture": json.dumps({"styles": net.styles, "width": net.width, "residual_blocks": net.residual_blocks,
                                    "skip": net.skip}),
        "styles": json.dumps([s.__dict__ for s in styles]),
        "training": json.dumps(training),
    }
    tensors = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    from safetensors import safe_open

    text = os.fspath(path)
    if not os.path.isfile(text):
        raise ModelError(f"{text}: no such model file")
    try:
        with safe_open(text, framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise ModelError(f"{text}: not a safetensors file: {str(exc).splitlines()[0]}") from exc
    if meta.get("format") != FORMAT:
        raise ModelError(f"{text}: not an inceptionism style model (train one with `inceptionism train-style`)")
    return {"format": meta["format"], "version": meta.get("version"),
            "architecture": json.loads(meta["architecture"]), "styles": json.loads(meta["styles"]),
            "training": json.loads(meta["training"])}


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> tuple[StyleNetwork, dict[str, Any]]:
    from safetensors.torch import load_file

    meta = read_metadata(path)
    arch = meta["architecture"]
    net = StyleNetwork(arch["styles"], arch["width"], arch["residual_blocks"], skip=arch.get("skip", False))
    try:
        net.load_state_dict(load_file(os.fspath(path), device="cpu"))
    except RuntimeError as exc:
        raise ModelError(f"{os.fspath(path)}: its tensors do not fit its architecture: {str(exc).splitlines()[0]}") from exc
    return net.eval().requires_grad_(False).to(device), meta


def _ramp(length: int, overlap: int, start: bool, end: bool) -> torch.Tensor:
    w = torch.ones(length)
    n = min(overlap, length // 2)
    if n > 0:
        ramp = (torch.arange(n, dtype=torch.float32) + 0.5) / n
        if start:
            w[:n] = ramp
        if end:
            w[-n:] = ramp.flip(0)
    return w


@torch.no_grad()
def stylize_image(net: StyleNetwork, image: torch.Tensor, mix: torch.Tensor, *, tile: int | None = 1024,
                  overlap: int = 64, autocast: torch.dtype | None = None) -> torch.Tensor:
    """Stylise ``image`` (``1,3,H,W``) at full size, tile by tile when it is larger than ``tile``.

    Every tile is normalised with the instance-norm statistics of the whole image
    (measured once on a copy scaled down to one tile), so tones agree from tile to
    tile; tiles overlap by ``overlap`` pixels and are cross-faded with linear ramps,
    so no seam shows. Memory depends on the tile, not on the image. ``autocast``:
    the compute dtype (``torch.bfloat16``), or None for float32; the statistics are
    measured in float32 either way.
    """
    from inceptionism.precision import autocast as autocast_to

    with autocast_to(autocast, image.device):
        return _stylize(net, image, mix, tile, overlap).float()


def _stylize(net: StyleNetwork, image: torch.Tensor, mix: torch.Tensor, tile: int | None, overlap: int) -> torch.Tensor:
    p = next(net.parameters())
    image = image.to(device=p.device, dtype=p.dtype)
    mix = mix.to(device=p.device, dtype=p.dtype)
    h, w = image.shape[-2:]
    if tile is None or (h <= tile and w <= tile):
        return net(image, mix).float().cpu()
    from inceptionism.dream.loop import resize
    from inceptionism.style.network import ConditionalInstanceNorm

    norms = [m for m in net.modules() if isinstance(m, ConditionalInstanceNorm)]
    scale = tile / max(h, w)
    for m in norms:
        m.mode = "record"
    try:
        net(resize(image, (max(16, round(h * scale)), max(16, round(w * scale)))), mix)
        for m in norms:
            m.mode = "fixed"
        return _tiles(net, image, mix, tile, overlap)
    finally:
        for m in norms:
            m.mode, m.stats = None, None


def _spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """As few pieces of equal size (at most ``tile``) as cover ``length`` overlapping by ``overlap`` or more."""
    if length <= tile:
        return [(0, length)]
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    return [(start, start + size) for start in (round(i * (length - size) / (n - 1)) for i in range(n))]


def _tiles(net: StyleNetwork, image: torch.Tensor, mix: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    out = torch.zeros(1, 3, h, w)
    total = torch.zeros(1, 1, h, w)
    for y, y1 in _spans(h, tile, overlap):
        for x, x1 in _spans(w, tile, overlap):
            piece = net(image[..., y:y1, x:x1], mix).float().cpu()
            wy = _ramp(y1 - y, overlap, y > 0, y1 < h)
            wx = _ramp(x1 - x, overlap, x > 0, x1 < w)
            weight = (wy[:, None] * wx[None, :])[None, None]
            out[..., y:y1, x:x1] += piece * weight
            total[..., y:y1, x:x1] += weight
    return out / total
