"""Training a feed-forward network on N styles at once (conditional instance norm).

Each training image gets a random style; the loss is the Gatys loss of
:mod:`inceptionism.style.gatys` (content, Gram-matrix style, total variation) on
the loss network, with every style's Gram targets computed once at the start.
Checkpoints write the model file and a sidecar with the optimiser state, so
``resume`` continues the step count and the Adam moments exactly.
"""

from __future__ import annotations

import logging
import math
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from inceptionism.errors import ConfigError, ModelError
from inceptionism.models.network import Network
from inceptionism.style.gatys import gram, total_variation
from inceptionism.style.model_file import StyleInfo, save_model, train_state_path
from inceptionism.style.network import StyleNetwork

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


@dataclass(frozen=True)
class TrainConfig:
    """How a style network trains. The CLI's defaults are these."""

    image_size: int = 256
    batch_size: int = 4
    steps: int = 2000
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 1.0
    checkpoint_every: int = 500
    seed: int = 0
    workers: int = 2
    #: channels of the first layer (Johnson: 32)
    width: int = 32

    def __post_init__(self) -> None:
        for name in ("image_size", "batch_size", "steps", "width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.image_size < 32:
            raise ConfigError(f"image_size must be at least 32, got {self.image_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.checkpoint_every < 0 or self.workers < 0:
            raise ConfigError("checkpoint_every and workers must be 0 or more")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImageFolder(torch.utils.data.Dataset):
    """Every image under a folder, recursively, as random square crops; unreadable files are skipped."""

    def __init__(self, root: str | os.PathLike[str], size: int, seed: int = 0):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ConfigError(f"{os.fspath(root)}: no such folder of training images")
        self.files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise ConfigError(f"{os.fspath(root)}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.size, self.seed = size, seed

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path, rng: random.Random) -> torch.Tensor:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            side = min(w, h)
            crop = rng.randint(max(1, side // 2), side)  # random scale: a half to all of the short side
            x, y = rng.randint(0, w - crop), rng.randint(0, h - crop)
            im = im.resize((self.size, self.size), Image.BILINEAR, box=(x, y, x + crop, y + crop))
            arr = np.asarray(im, dtype=np.float32) / 255.0
        return torch.from_numpy(arr).permute(2, 0, 1).contiguous()

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = random.Random(hash((self.seed, index, torch.initial_seed())))
        for attempt in range(len(self.files)):
            path = self.files[(index + attempt) % len(self.files)]
            try:
                return self._load(path, rng)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                log.warning("skipping unreadable training image %s: %s", path, exc)
        raise ConfigError(f"{self.root}: none of its images can be read")


def _batches(dataset: ImageFolder, config: TrainConfig, start_step: int) -> Iterator[torch.Tensor]:
    epoch = 0
    while True:
        generator = torch.Generator().manual_seed(config.seed + 1000 * epoch + start_step)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=config.batch_size, shuffle=True, drop_last=len(dataset) >= config.batch_size,
            num_workers=config.workers, generator=generator, persistent_workers=False,
        )
        yield from loader
        epoch += 1


class TrainLoss:
    """Content + style + TV loss with Gram targets of every style precomputed."""

    def __init__(self, network: Network, styles: Sequence[torch.Tensor], config: TrainConfig,
                 content_layers: Sequence[str], style_layers: Sequence[str]):
        self.config = config
        self.content_layers, self.style_layers = list(content_layers), list(style_layers)
        self.extractor = network.extractor(list(dict.fromkeys(self.content_layers + self.style_layers))).__enter__()
        with torch.no_grad():
            targets = [self.extractor(s) for s in styles]
        self.grams = {a: torch.cat([gram(t[a]) for t in targets]) for a in self.style_layers}  # N,C,C
        self.style_norm = {a: 1.0 / (self.grams[a].pow(2).mean(dim=(1, 2)) + 1e-12) for a in self.style_layers}

    def __call__(self, output: torch.Tensor, content: torch.Tensor, style_index: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.extractor(content)
        feats = self.extractor(output)
        c = self.config
        content_loss = sum(F.mse_loss(feats[a].float(), target[a].float()) / (target[a].float().pow(2).mean() + 1e-12)
                           for a in self.content_layers)
        style_loss = 0.0
        for a in self.style_layers:
            g = gram(feats[a])
            per_sample = (g - self.grams[a][style_index]).pow(2).mean(dim=(1, 2)) * self.style_norm[a][style_index]
            style_loss = style_loss + per_sample.mean()
        style_loss = style_loss / max(1, len(self.style_layers))
        return c.content_weight * content_loss + 10.0 * c.style_weight * style_loss + \
            10.0 * c.tv_weight * total_variation(output)


@dataclass
class TrainStep:
    step: int
    steps: int
    loss: float


def _save_state(path: Path, net: StyleNetwork, opt: torch.optim.Optimizer, step: int, styles: Sequence[StyleInfo],
                training: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    from inceptionism.io.images import atomic_write

    save_model(path, net, styles, {**training, "step": step})
    tensors: dict[str, torch.Tensor] = {}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{i}.{key}"] = torch.as_tensor(value).detach().contiguous().cpu()
    meta = {"step": str(step), "styles": ",".join(s.sha256 for s in styles)}
    atomic_write(train_state_path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))


def _load_state(path: Path, opt: torch.optim.Optimizer, styles: Sequence[StyleInfo]) -> int:
    from safetensors import safe_open

    state_path = train_state_path(path)
    if not state_path.is_file():
        raise ModelError(f"cannot resume: {state_path} (the training state beside {path}) is missing")
    with safe_open(os.fspath(state_path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("styles") != ",".join(s.sha256 for s in styles):
        raise ConfigError(f"cannot resume {path}: it was trained on other style images")
    state = opt.state_dict()
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state["state"].setdefault(int(index), {})[name] = value
    opt.load_state_dict(state)
    return int(meta["step"])


def train(
    network: Network,
    styles: Sequence[torch.Tensor],
    style_infos: Sequence[StyleInfo],
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: TrainConfig = TrainConfig(),
    *,
    resume: bool = False,
    content_layers: Sequence[str] | None = None,
    style_layers: Sequence[str] | None = None,
    callback: Callable[[TrainStep], None] | None = None,
) -> StyleNetwork:
    """Train a network on ``styles`` over the images under ``data``; writes ``output`` (and its state)."""
    if not styles:
        raise ConfigError("at least one style image is needed")
    output = Path(output)
    device = next(network.parameters()).device
    torch.manual_seed(config.seed)
    net = StyleNetwork(len(styles), config.width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    step = 0
    if resume:
        from inceptionism.style.model_file import load_model

        loaded, _ = load_model(output)
        net.load_state_dict(loaded.state_dict())
        net.requires_grad_(True)
        step = _load_state(output, opt, style_infos)
        log.info("resuming %s at step %d", output, step)
    dataset = ImageFolder(data, config.image_size, config.seed)
    side = config.image_size
    style_targets = [F.interpolate(s.to(device), size=(side, side), mode="bilinear", antialias=True,
                                   align_corners=False) for s in styles]
    loss_fn = TrainLoss(network, style_targets, config,
                        content_layers or network.spec.content_layers or network.spec.default_layers,
                        style_layers or network.spec.style_layers or network.spec.default_layers)
    training = {**config.to_dict(), "loss_model": network.name, "data": os.fspath(data)}
    rng = torch.Generator().manual_seed(config.seed + step)
    net.train()
    for batch in _batches(dataset, config, step):
        if step >= config.steps:
            break
        batch = batch.to(device)
        index = torch.randint(len(styles), (batch.shape[0],), generator=rng).to(device)
        mix = F.one_hot(index, len(styles)).float()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(batch, mix), batch, index)
        loss.backward()
        opt.step()
        step += 1
        if callback is not None:
            callback(TrainStep(step, config.steps, loss.item()))
        if config.checkpoint_every and step % config.checkpoint_every == 0 and step < config.steps:
            _save_state(output, net, opt, step, style_infos, training)
    net.eval()
    _save_state(output, net, opt, step, style_infos, training)
    return net
