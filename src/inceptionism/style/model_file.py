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
from inceptionism.io.tensors import metadata_json, read_safetensors
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


def architecture(net: torch.nn.Module) -> dict[str, Any]:
    """What a model file records to rebuild ``net``: ours (Johnson's with conditional norms), or Magenta's."""
    from inceptionism.style.magenta import FineTunedStyleNetwork

    if isinstance(net, FineTunedStyleNetwork):
        return {"kind": "magenta", "styles": net.styles}
    assert isinstance(net, StyleNetwork)
    return {"styles": net.styles, "width": net.width, "residual_blocks": net.residual_blocks, "skip": net.skip}


def build(arch: dict[str, Any]) -> torch.nn.Module:
    """An untrained network of the recorded architecture."""
    from inceptionism.style.magenta import FineTunedStyleNetwork

    if arch.get("kind", "johnson") == "magenta":
        return FineTunedStyleNetwork(arch["styles"])
    return StyleNetwork(arch["styles"], arch["width"], arch["residual_blocks"], skip=arch.get("skip", False))


def save_model(path: str | os.PathLike[str], net: torch.nn.Module, styles: Sequence[StyleInfo],
               training: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    from inceptionism import __version__

    meta = {
        "format": FORMAT, "version": __version__,
        "architecture": json.dumps(architecture(net)),
        "styles": json.dumps([s.__dict__ for s in styles]),
        "training": json.dumps(training),
    }
    tensors = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


#: the architectures a model file may ask for: (field, smallest, largest), all whole numbers
_SIZES = {"styles": (1, 4096), "width": (1, 1024), "residual_blocks": (0, 64)}


def _check_architecture(arch: dict[str, Any], path: str) -> None:
    kind = arch.get("kind", "johnson")
    wanted = ("styles",) if kind == "magenta" else tuple(_SIZES)
    if kind not in ("johnson", "magenta"):
        raise ModelError(f"{path}: an unknown style network {kind!r} (this version knows johnson and magenta)")
    for key in wanted:
        low, high = _SIZES[key]
        value = arch.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ModelError(f"{path}: its architecture is damaged ({key}: {value!r}, want {low} to {high})")
    if not isinstance(arch.get("skip", False), bool):
        raise ModelError(f"{path}: its architecture is damaged (skip: {arch.get('skip')!r})")


def _metadata(path: str, meta: dict[str, str]) -> dict[str, Any]:
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not an inceptionism style model (train one with `inceptionism train-style`)")
    arch = metadata_json(meta, "architecture", path, dict, kind="style model")
    styles = metadata_json(meta, "styles", path, list, kind="style model")
    training = metadata_json(meta, "training", path, dict, kind="style model")
    _check_architecture(arch, path)
    if len(styles) != arch["styles"] or not all(isinstance(s, dict) and isinstance(s.get("name"), str)
                                                 and isinstance(s.get("thumbnail", ""), str) for s in styles):
        raise ModelError(f"{path}: its list of styles is damaged (want {arch['styles']}, each with a name)")
    return {"format": FORMAT, "version": meta.get("version"), "architecture": arch, "styles": styles,
            "training": training}


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Architecture, styles and training settings of a style model file (one clear error for anything else)."""
    return _metadata(os.fspath(path), read_safetensors(os.fspath(path), kind="style model", tensors=False)[1])


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> tuple[Any, dict[str, Any]]:
    """A train-style model (ours, or fine-tuned from Magenta's: see :func:`architecture`) and its metadata."""
    text = os.fspath(path)
    tensors, header = read_safetensors(text, kind="style model")
    meta = _metadata(text, header)
    net = build(meta["architecture"])
    try:
        net.load_state_dict({k: v.float() for k, v in tensors.items()})
    except RuntimeError as exc:
        raise ModelError(f"{text}: its tensors do not fit its architecture: {str(exc).splitlines()[0]}") from None
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


#: the long side of the copy the tile statistics are measured on (the whole image up to this size)
STATS_SIDE = 2048


@torch.no_grad()
def stylize_image(net: torch.nn.Module, image: torch.Tensor, mix: torch.Tensor, *, tile: int | None = 1024,
                  overlap: int = 64, autocast: torch.dtype | None = None) -> torch.Tensor:
    """Stylise ``image`` (``1,3,H,W``) at full size, tile by tile when it is larger than ``tile``.

    Every tile is normalised with the instance-norm statistics of the whole image
    (measured once, on a copy scaled down to 2,048 px above that), so tones agree from tile to
    tile; tiles overlap by ``overlap`` pixels and are cross-faded with linear ramps,
    so no seam shows. Memory depends on the tile, not on the image. ``autocast``:
    the compute dtype (``torch.bfloat16``), or None for float32; the statistics are
    measured in float32 either way.
    """
    from inceptionism.precision import autocast as autocast_to

    with autocast_to(autocast, image.device):
        return _stylize(net, image, mix, tile, overlap).float()


def _stylize(net: torch.nn.Module, image: torch.Tensor, mix: torch.Tensor, tile: int | None, overlap: int) -> torch.Tensor:
    p = next(net.parameters())
    image = image.to(device=p.device, dtype=p.dtype)
    mix = mix.to(device=p.device, dtype=p.dtype)
    h, w = image.shape[-2:]
    if tile is None or (h <= tile and w <= tile):
        return net(image, mix).float().cpu()
    from inceptionism.ops import resize

    # every norm that can share statistics (ours and Magenta's networks'): a mode and its kept statistics
    norms = [m for m in net.modules() if hasattr(m, "mode") and hasattr(m, "stats")]
    # the statistics depend on scale (the networks learned at 256-512 px), so they are measured on the image itself
    # up to STATS_SIDE px, and on a copy scaled down to that above it (a forward pass without gradients is cheap)
    scale = min(1.0, max(tile, STATS_SIDE) / max(h, w))
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


def _tiles(net: torch.nn.Module, image: torch.Tensor, mix: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
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


#: the long side, in pixels, that ``stroke_scale="auto"`` works at (the arbitrary network learned on photos of 256-512 px)
AUTO_STROKE_SIDE = 512


def auto_stroke_scale(height: int, width: int) -> float:
    """The stroke scale ``auto`` means for an image: its long side over 512 px, at least 1."""
    return max(1.0, max(height, width) / AUTO_STROKE_SIDE)


def stylize_with_strokes(net: torch.nn.Module, image: torch.Tensor, mix: torch.Tensor, *, stroke_scale: float = 1.0,
                         tile: int | None = 1024, autocast: torch.dtype | None = None) -> torch.Tensor:
    """Stylise with strokes ``stroke_scale`` times the size the network paints at the image's own size.

    A feed-forward network paints strokes of a fixed size in pixels, so on a large
    photo they shrink to a texture. Here the network first paints the photo scaled
    down by ``stroke_scale``; that coarse painting, upsampled and blended half and
    half with the photo, is painted again at full size, which keeps the coarse pass's
    large strokes and brings back the full-size detail and sharp edges (chosen by
    looking at the alternatives side by side: the README shows them). 1: one pass.
    """
    from inceptionism.ops import resize
    from inceptionism.errors import ConfigError

    if not (stroke_scale >= 1.0 and math.isfinite(stroke_scale)):
        raise ConfigError(f"stroke scale must be 1 or more, got {stroke_scale}")
    h, w = image.shape[-2:]
    small = (max(16, round(h / stroke_scale)), max(16, round(w / stroke_scale)))
    if stroke_scale == 1.0 or small == (h, w):
        return stylize_image(net, image, mix, tile=tile, autocast=autocast)
    image = image.float().cpu()
    coarse = stylize_image(net, resize(image, small), mix, tile=tile, autocast=autocast)
    coarse = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp_(0, 1)
    return stylize_image(net, coarse.mul_(0.5).add_(image, alpha=0.5), mix, tile=tile, autocast=autocast)
