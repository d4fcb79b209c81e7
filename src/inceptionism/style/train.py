"""Training a feed-forward network on N styles at once (conditional instance norm).

Each training image gets a random style; the loss is the Gatys loss of
:mod:`inceptionism.style.gatys` (content, Gram-matrix style, total variation) on
the loss network, with every style's Gram targets computed once at the start.
The loop, the data workers, checkpoints and ``resume`` are those of
:mod:`inceptionism.training`: checkpoints write the model file and a sidecar with
the optimiser state, so ``resume`` continues the step count and the Adam moments.
"""

from __future__ import annotations

import logging
import functools
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from inceptionism.errors import ConfigError
from inceptionism.configs import SCHEDULES, TrainConfig  # noqa: F401 - re-exported
from inceptionism.models.network import Network
from inceptionism.style.gatys import gram, total_variation
from inceptionism.style.model_file import StyleInfo, load_model, save_model
from inceptionism.precision import autocast as autocast_to
from inceptionism.precision import autocast_dtype
from inceptionism.style.network import StyleNetwork
from inceptionism.training import ImageFiles, TrainStep, distributed, find_images, fit, load_state, save_state
from inceptionism.training import seed_everything, warmup_cosine
from inceptionism.training.distributed import Dist
from inceptionism.training.watch import Watch, chain

log = logging.getLogger(__name__)

class ContentCrops(ImageFiles):
    """Every image under a folder, recursively, as random square crops; unreadable files are skipped."""

    #: crops whose pixels' standard deviation (0-1) is below this are drawn again, up to FLAT_TRIES times
    FLAT_STD = 0.01
    FLAT_TRIES = 8

    def __init__(self, root: str | os.PathLike[str], size: int, seed: int = 0):
        super().__init__(find_images(root), name=os.fspath(root), seed=seed)
        self.root = Path(root)
        self.size = size

    def sample(self, index: int, image: Image.Image, rng: random.Random) -> torch.Tensor:
        # A flat crop (a white page, a clear sky) teaches no style, and through the network's instance norms,
        # each of which divides by its input's spread, its gradient overflows: a blank crop made a training
        # run's gradient NaN. Such crops are drawn again; an image that is flat all over stays flat.
        for _ in range(self.FLAT_TRIES):
            arr = self._crop(image, rng)
            if float(arr.std()) >= self.FLAT_STD:
                break
        return torch.from_numpy(arr).permute(2, 0, 1).contiguous()

    def _crop(self, image: Image.Image, rng: random.Random) -> np.ndarray:
        w, h = image.size
        side = min(w, h)
        crop = rng.randint(max(1, side // 2), side)  # random scale: a half to all of the short side
        x, y = rng.randint(0, w - crop), rng.randint(0, h - crop)
        image = image.resize((self.size, self.size), Image.BILINEAR, box=(x, y, x + crop, y + crop))
        return np.asarray(image, dtype=np.float32) / 255.0


@dataclass
class LossParts:
    """The terms of the training loss, each with its weight applied (``total`` is their sum)."""

    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor


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

    def content_features(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """The content targets of a batch (computed once when the same content is scored many times)."""
        with torch.no_grad():
            feats = self.extractor(content)
        return {a: feats[a].float() for a in self.content_layers}

    def parts(self, output: torch.Tensor, target: dict[str, torch.Tensor], style_index: torch.Tensor) -> LossParts:
        """The weighted content, style and smoothness terms of ``output`` (``target``: content features)."""
        feats = self.extractor(output)
        c = self.config
        # per image, then averaged: each image's content is measured against its own features' power, and the
        # loss is a mean over images, so that several processes' batches add up to one (DistributedDataParallel)
        content_loss = sum(((feats[a].float() - target[a]).pow(2).flatten(1).mean(1)
                            / (target[a].pow(2).flatten(1).mean(1) + 1e-12)).mean()
                           for a in self.content_layers)
        style_loss = 0.0
        for a in self.style_layers:
            g = gram(feats[a])
            per_sample = (g - self.grams[a][style_index]).pow(2).mean(dim=(1, 2)) * self.style_norm[a][style_index]
            style_loss = style_loss + per_sample.mean()
        style_loss = style_loss / max(1, len(self.style_layers))
        weighted = (c.content_weight * content_loss, 10.0 * c.style_weight * style_loss,
                    10.0 * c.tv_weight * total_variation(output))
        return LossParts(*weighted, weighted[0] + weighted[1] + weighted[2])

    def __call__(self, output: torch.Tensor, content: torch.Tensor, style_index: torch.Tensor) -> torch.Tensor:
        return self.parts(output, self.content_features(content), style_index).total


def style_targets(styles: Sequence[torch.Tensor], config: TrainConfig, device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """The style images as the loss sees them during training."""
    side = config.image_size
    if config.style_scale is None:  # squeezed to the crop's square (models trained before style_scale)
        return [F.interpolate(s.to(device), size=(side, side), mode="bilinear", antialias=True, align_corners=False)
                for s in styles]
    out = []
    for s in styles:
        h, w = s.shape[-2:]
        scale = side * config.style_scale / max(h, w)
        size = (max(32, round(h * scale)), max(32, round(w * scale)))
        out.append(F.interpolate(s.to(device), size=size, mode="bilinear", antialias=True, align_corners=False))
    return out


#: training photos on a preview sheet (beside one picture the network never trains on)
PREVIEW_PHOTOS = 3
#: the picture that ships with scikit-image and is on every preview sheet: a held-out content
PREVIEW_SAMPLE = "chelsea"


def preview_contents(dataset: ContentCrops, size: int) -> tuple[torch.Tensor, list[str]]:
    """The fixed contents of every preview sheet: centre crops of readable training photos spread over the
    folder (its first, and at a third and two thirds of it, in name order) and of scikit-image's cat,
    ``N,3,size,size``, with their labels."""
    from inceptionism.io.images import load_sample
    from inceptionism.training.data import READ_ERRORS

    def square(image: Image.Image) -> torch.Tensor:
        w, h = image.size
        side = min(w, h)
        box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
        arr = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR, box=box), dtype=np.float32)
        return torch.from_numpy(arr / 255.0).permute(2, 0, 1)

    crops, labels = [], []
    n = len(dataset.files)
    for start in sorted({i * n // PREVIEW_PHOTOS for i in range(PREVIEW_PHOTOS)}):  # spread over the folder
        for i in range(start, n):  # (an unreadable photo: the next one stands in)
            if dataset.files[i].name in labels:
                break
            try:
                crops.append(square(dataset.read(i)))
            except READ_ERRORS:
                continue
            labels.append(dataset.files[i].name)
            break
    sample = load_sample(PREVIEW_SAMPLE).rgb[0]
    image = Image.fromarray((sample.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    crops.append(square(image))
    labels.append(f"{PREVIEW_SAMPLE} (held out)")
    return torch.stack(crops), labels


def preview_sheet(contents: torch.Tensor, labels: Sequence[str], outputs: torch.Tensor, style_names: Sequence[str],
                  title: str, tile: int) -> Image.Image:
    """Rows of contents, each beside its stylisation in every style (``outputs``: contents x styles, in order)."""
    from inceptionism.io.sheets import contact_sheet

    def pil(t: torch.Tensor) -> Image.Image:
        arr = (t.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
        return Image.fromarray(arr).resize((tile, tile), Image.LANCZOS)

    tiles, names = [], []
    per_row = len(style_names)
    for r, (content, label) in enumerate(zip(contents, labels)):
        tiles.append(pil(content))
        names.append(label)
        for c, style in enumerate(style_names):
            tiles.append(pil(outputs[r * per_row + c]))
            names.append(style)
    return contact_sheet(tiles, names, columns=per_row + 1, title=title)


def lr_schedule(config: TrainConfig) -> Callable[[int], float]:
    """The learning rate's factor at each step."""
    if config.schedule == "constant":
        return lambda step: 1.0
    return warmup_cosine(config.steps, max_warmup=200, floor=0.1)


def _style_network(config: TrainConfig, styles: Sequence[torch.Tensor], device: torch.device) -> torch.nn.Module:
    """The network a run starts from: Magenta's transformer with each painting's embedding from its predictor
    (``init="magenta"``, all of it learned), or our own from random weights."""
    if config.init == "magenta":
        from inceptionism.style.magenta import FineTunedStyleNetwork, load_arbitrary

        net: torch.nn.Module = FineTunedStyleNetwork.from_arbitrary(load_arbitrary(device), list(styles)).to(device)
        return net.requires_grad_(True)
    return StyleNetwork(len(styles), config.width, skip=config.skip).to(device)


def _resumed_step(output: Path, net: torch.nn.Module, opt: Any, schedule: Any, check: dict[str, str]) -> int:
    """The step a stopped run reached, its weights and optimiser loaded; other paintings or loss: one clear error."""
    loaded, _ = load_model(output)
    net.load_state_dict(loaded.state_dict())
    net.requires_grad_(True)
    state = load_state(output, opt, schedule)
    if state.meta.get("styles") != check["styles"]:
        raise ConfigError(f"cannot resume {output}: it was trained on other style images")
    if state.meta.get("loss", check["loss"]) != check["loss"]:  # (checkpoints from before the layers were recorded)
        raise ConfigError(f"cannot resume {output}: it was trained with another loss ({state.meta['loss']})")
    log.info("resuming %s at step %d", output, state.step)
    return state.step


def _save(output: Path, net: torch.nn.Module, style_infos: Sequence[StyleInfo], training: dict[str, Any], opt: Any,
          check: dict[str, str], schedule: Any, step: int) -> None:
    """The checkpoint at ``step``: the model file and the training state beside it."""
    save_model(output, net, style_infos, {**training, "step": step})
    save_state(output, opt, step, check, schedule)


class _StyleRun:
    """One run as the loop and the watcher see it: the loss of a batch (each picture in a random style), and the
    preview sheet with the loss on its held-out picture."""

    def __init__(self, *, net: torch.nn.Module, model: torch.nn.Module, loss_fn: Any, styles: int, compute: Any,
                 device: torch.device, contents: Any, content_labels: list[str], names: list[str], output: Path,
                 steps: int, tile: int, rng: torch.Generator):
        self.net, self.model, self.loss_fn, self.styles, self.compute, self.device = net, model, loss_fn, styles, compute, device
        self.contents, self.content_labels, self.names, self.output, self.steps = contents, content_labels, names, output, steps
        self.tile, self.rng = tile, rng

    def loss_of(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        batch = batch.to(self.device)
        index = torch.randint(self.styles, (batch.shape[0],), generator=self.rng).to(self.device)
        # bfloat16 compute, float32 weights, optimiser state and loss
        with autocast_to(self.compute, self.device):
            parts = self.loss_fn.parts(self.model(batch, F.one_hot(index, self.styles).float()).float(),
                                       self.loss_fn.content_features(batch), index)
        return parts.total.float(), {"content": parts.content.detach(), "style": parts.style.detach(),
                                     "tv": parts.tv.detach()}

    @torch.no_grad()
    def preview(self, step: int) -> tuple[Image.Image, dict[str, float]]:
        """The sheet at ``step``, and the loss on its pictures (the cat is never trained on: held out)."""
        n, device, compute, net = self.styles, self.device, self.compute, self.net
        net.eval()
        try:
            x = self.contents.to(device).repeat_interleave(n, 0)  # each content once per style, in order
            index = torch.arange(n, device=device).repeat(len(self.contents))
            outputs = []
            for i in range(0, len(x), 8):
                with autocast_to(compute, device):
                    outputs.append(net(x[i:i + 8], F.one_hot(index[i:i + 8], n).float()).float())
            out = torch.cat(outputs)
            held = slice(len(x) - n, len(x))  # the last row: the shipped picture
            with autocast_to(compute, device):
                parts = self.loss_fn.parts(out[held], self.loss_fn.content_features(x[held]), index[held])
        finally:
            net.train()
        sheet = preview_sheet(self.contents, self.content_labels, out, self.names,
                              f"{self.output.name}: step {step} of {self.steps}", tile=self.tile)
        return sheet, {"loss": float(parts.total), "content": float(parts.content), "style": float(parts.style)}


def train(
    network: Network,
    styles: Sequence[torch.Tensor],
    style_infos: Sequence[StyleInfo],
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: TrainConfig = TrainConfig(),
    *,
    resume: bool = False,
    callback: Callable[[TrainStep], None] | None = None,
    dist: Dist | None = None,
    preview_every: int | None = None,
    log_dir: str | None = None,
) -> torch.nn.Module:
    """Train a network on ``styles`` over the images under ``data``; writes ``output`` (and its state).

    The run is watched (:mod:`inceptionism.training.watch`): a row per step in
    ``NAME.log.csv``, a preview sheet (every training content crop's row x every style)
    in ``NAME.previews/`` every ``preview_every`` steps (default: every checkpoint,
    within the preview budget; 0: never) with the loss on those pictures as held-out
    figures, and TensorBoard files under ``log_dir`` when given.

    In a distributed run (``dist``, by default what torchrun set; the process group
    joined by :func:`inceptionism.training.distributed.start` on the loss network's
    device) each process takes its share of every batch, and rank 0 writes the files.
    """
    if not styles:
        raise ConfigError("at least one style image is needed")
    output = Path(output)
    dist = dist or distributed.current()
    device = next(network.parameters()).device
    per_rank = distributed.share(config.batch_size, dist)
    seed_everything(config.seed)
    net = _style_network(config, styles, device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lr_schedule(config))
    content_layers, style_layers = config.loss_layers(network)
    layers = f"{network.name}: content {','.join(content_layers)}; style {','.join(style_layers)}"
    check = {"styles": ",".join(s.sha256 for s in style_infos), "loss": layers}
    start = _resumed_step(output, net, opt, schedule, check) if resume else 0
    dataset = ContentCrops(data, config.image_size, config.seed)
    compute = autocast_dtype(config.precision, device, network.spec)  # the loss network's gradients decide
    with autocast_to(compute, device):
        loss_fn = TrainLoss(network, style_targets(styles, config, device), config, content_layers, style_layers)
    # the model records what "auto" meant on this machine
    training = {**config.to_dict(), "precision": "fp32" if compute is None else "bf16", "content_layers": list(content_layers), "style_layers": list(style_layers),
                "loss_model": network.name, "data": os.fspath(data),
                "processes": dist.world_size}
    names = [s.name for s in style_infos]
    contents, content_labels = preview_contents(dataset, config.image_size) if dist.main else (None, [])
    run = _StyleRun(net=net, model=distributed.wrap(net, dist, device), loss_fn=loss_fn, styles=len(styles),
                    compute=compute, device=device, contents=contents, content_labels=content_labels, names=names,
                    output=output, steps=config.steps, tile=min(192, config.image_size),
                    # each process draws the styles of its own share of the batch
                    rng=torch.Generator().manual_seed(config.seed + start + 1_000_003 * dist.rank))
    save = functools.partial(_save, output, net, style_infos, training, opt, check, schedule) if dist.main \
        else (lambda step: None)
    watch = Watch(output, steps=config.steps, start_step=start, resume=resume, terms=("content", "style", "tv"),
                  held_out=("val_loss", "val_content", "val_style"), checkpoint_every=config.checkpoint_every,
                  preview_every=preview_every, preview=run.preview, log_dir=log_dir,
                  settings={"command": "train-style", "training": training,
                            "sheet": {"rows": content_labels, "columns": ["content", *names]}}) if dist.main else None
    net.train()
    with distributed.finishing(net, watch, dist, dataset, "training images"):
        fit(optimizer=opt, loss_of=run.loss_of, steps=config.steps, start_step=start, save=save, output=os.fspath(output),
            checkpoint_every=config.checkpoint_every, callback=chain(watch, callback) if dist.main else None,
            scheduler=schedule, clip_grad=config.clip_grad, agree=distributed.agree(dist, device),
            batches=distributed.rank_batches(dataset, dist, device, per_rank=per_rank, workers=config.workers,
                                             seed=config.seed, start=start))
    return net
