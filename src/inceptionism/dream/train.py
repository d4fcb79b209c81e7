"""Train a dream model on your own collection: labels from folders, or topics from captions.

The famous dreams were made on networks trained on a person's own pictures, the
Barcelona and Miró ones on Instagram posts with their captions as the only labels
(Gomez et al., CVPR 2017). This fine-tunes a registry backbone (ImageNet weights,
a new head) on a folder of photos:

- **folders**: one subfolder per class (torchvision's ``ImageFolder`` convention),
  trained with cross-entropy, validated by accuracy;
- **captions**: each image with its text (a sidecar ``.txt``, or a CSV/JSONL with
  ``image`` and ``caption``), turned into K LDA topics (:mod:`.topics`); the
  network learns each image's topic mix with a soft-target cross-entropy and is
  validated by top-topic agreement (its most likely topic is the caption's).

The last ``train_blocks`` stages of the backbone are fine-tuned (batch-norm
statistics stay frozen, which suits small collections and small batches) at a
tenth of the head's learning rate, with a warm-up then cosine decay. Data
workers, checkpoints, ``resume`` and the graceful Ctrl-C are
:mod:`inceptionism.training`'s. The result dreams with ``--weights MODEL``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from inceptionism.dream.topics import CAPTION_FILES, Topics, fit_topics, read_caption_file, read_sidecars, sidecar_of
from inceptionism.errors import ConfigError, param
from inceptionism.configs import LABELS, DreamTrainConfig  # noqa: F401 - re-exported
from inceptionism.models import get_model_spec
from inceptionism.models.dream_file import CLASSES, TOPICS, Collection, load_dream_model, save_dream_model, topic_label
from inceptionism.models.spec import ModelSpec, load_state_into
from inceptionism.precision import autocast as autocast_to
from inceptionism.precision import autocast_dtype
from inceptionism.training import ImageFiles, TrainStep, distributed, find_images, fit, load_state, save_state
from inceptionism.training import seed_everything, warmup_cosine
from inceptionism.training.data import IMAGE_SUFFIXES, walk_images
from inceptionism.training.distributed import Dist
from inceptionism.training.watch import Watch, chain

log = logging.getLogger(__name__)

# -- the collection ----------------------------------------------------------------
@dataclass
class LabelledCollection:
    """Images with their targets: one-hot classes, or topic mixes."""

    images: list[Path]
    targets: torch.Tensor  # N x K, rows sum to 1
    collection: Collection
    #: a fingerprint of the images and labels, checked on resume
    fingerprint: str
    topics: Topics | None = None
    #: pictures left out because no caption goes with them (a folder of sidecars; counted in the closing line)
    uncaptioned: tuple[Path, ...] = ()


def _fingerprint(images: Sequence[Path], labels: Sequence[str]) -> str:
    h = hashlib.sha256()
    for image, label in zip(images, labels):
        h.update(f"{image}\0{label}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def detect_labels(data: Path) -> str:
    """``captions`` for a CSV/JSONL or a folder of images with sidecar captions, ``folders`` for class folders."""
    if data.is_file():
        if data.suffix.lower() in CAPTION_FILES:
            return "captions"
        raise ConfigError(f"{data}: give a folder of images or a captions file (.csv, .jsonl)")
    if not data.is_dir():
        raise ConfigError(f"{data}: no such folder or captions file")
    for name in ("captions.csv", "captions.jsonl"):
        if (data / name).is_file():
            return "captions"
    images = walk_images(data)
    if not images:
        raise ConfigError(f"{data}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if any(sidecar_of(p) is not None for p in images):
        return "captions"
    return "folders"


def read_folders(data: Path) -> LabelledCollection:
    """One subfolder per class; its images (recursively) are that class."""
    classes = sorted(p.name for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))  # links too
    images, labels = [], []
    for index, name in enumerate(classes):
        found = walk_images(data / name)
        images += found
        labels += [index] * len(found)
    used = sorted({classes[i] for i in labels})
    if not images:
        raise ConfigError(f"{data}: holds no images in class folders (one subfolder per class: {data}/CLASS/photo.jpg)")
    if len(used) < 2:
        raise ConfigError(f"{data}: a single class ({used[0]}): a classifier needs at least two class folders")
    empty = sorted(set(classes) - set(used))
    if empty:
        log.warning("class folders without images are left out: %s", ", ".join(empty))
        remap = {classes.index(c): i for i, c in enumerate(used)}
        labels = [remap[i] for i in labels]
    targets = F.one_hot(torch.tensor(labels), len(used)).float()
    return LabelledCollection(images, targets, Collection(CLASSES, tuple(used)),
                              _fingerprint(images, [used[i] for i in labels]))


def read_captions(data: Path, k: int, seed: int) -> LabelledCollection:
    """Images with captions (sidecars, or a CSV/JSONL), their LDA topics as targets."""
    lacking: list[Path] = []
    if data.is_file():
        items = read_caption_file(data)
    else:
        table = next((data / n for n in ("captions.csv", "captions.jsonl") if (data / n).is_file()), None)
        items, lacking = (read_caption_file(table), []) if table else read_sidecars(find_images(data))
    if len(items) < 2:
        raise ConfigError(f"{data}: topics need at least two captioned images")
    topics = fit_topics([i.caption for i in items], k, seed=seed)
    words = topics.top_words()
    collection = Collection(TOPICS, tuple(topic_label(i, w) for i, w in enumerate(words)),
                            tuple(tuple(w) for w in words), topics.vocabulary, torch.from_numpy(topics.topic_word))
    images = [i.image for i in items]
    if lacking:
        log.warning("%d pictures have no caption and are left out: %s", len(lacking),
                    ", ".join(p.name for p in lacking[:5]) + (" ..." if len(lacking) > 5 else ""))
    return LabelledCollection(images, torch.from_numpy(topics.doc_topic), collection,
                              _fingerprint(images, [i.caption for i in items]), topics, tuple(lacking))


def read_collection(data: str | os.PathLike[str], config: DreamTrainConfig) -> LabelledCollection:
    path = Path(data)
    kind = detect_labels(path) if config.labels == "auto" else config.labels
    if kind == "captions":
        return read_captions(path, config.topics, config.seed)
    if path.is_file() or not path.is_dir():
        raise ConfigError(f"{path}: class labels need a folder with one subfolder per class")
    return read_folders(path)


def split(collection: LabelledCollection, val: float, seed: int) -> tuple[list[int], list[int]]:
    """Training and held-out indices; classes are split one by one, so each keeps its share."""
    rng = random.Random(seed)
    groups: dict[int, list[int]] = {}
    keys = collection.targets.argmax(1).tolist() if collection.collection.kind == CLASSES else [0] * len(collection.images)
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    train, held = [], []
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        n = round(val * len(members)) if val > 0 else 0
        if val > 0 and n == 0 and len(members) >= 3:
            n = 1
        held += members[:n]
        train += members[n:]
    return sorted(train), sorted(held)


class LabelledImages(ImageFiles):
    """(image, target) pairs: random resized crops, flips and a mild colour jitter for training."""

    def __init__(self, images: Sequence[Path], targets: torch.Tensor, size: int, *, train: bool, name: str, seed: int):
        # decoded no larger than the crops need: the shorter side at least twice the crop
        super().__init__(images, name=name, seed=seed, min_side=2 * size)
        self.targets, self.size, self.train = targets, size, train
        from torchvision.transforms import v2

        if train:
            self.transform = v2.Compose([
                v2.RandomResizedCrop(size, scale=(0.35, 1.0), antialias=True),
                v2.RandomHorizontalFlip(),
                v2.ColorJitter(0.2, 0.2, 0.2, 0.02),
            ])
        else:
            self.transform = v2.Compose([v2.Resize(round(size * 1.14), antialias=True), v2.CenterCrop(size)])

    def sample(self, index: int, image: Image.Image, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.transform(image)
        arr = np.asarray(image, dtype=np.float32) / 255.0
        return torch.from_numpy(arr).permute(2, 0, 1).contiguous(), self.targets[index]


# -- the network ---------------------------------------------------------------------
def backbone_blocks(spec: ModelSpec, net: nn.Module) -> list[list[nn.Module]]:
    """The backbone's stages in forward order, each a list of modules (the classifier not included)."""
    modules = dict(net.named_modules())
    if spec.blocks:
        return [[modules[p] for p in group] for group in spec.blocks]
    head = spec.classifier.split(".")[0]
    return [[m] for name, m in net.named_children() if name != head]


def freeze(spec: ModelSpec, net: nn.Module, train_blocks: int | str | None) -> tuple[list[nn.Parameter], list[nn.Parameter], int]:
    """Freeze all but the last ``train_blocks`` stages and the head; (block params, head params, stages)."""
    blocks = backbone_blocks(spec, net)
    n = len(blocks) if train_blocks == "all" else (spec.fine_tune_blocks if train_blocks is None else int(train_blocks))
    n = min(n, len(blocks))
    net.requires_grad_(False)
    head = net.get_submodule(spec.classifier)
    head.requires_grad_(True)
    head_ids = {id(p) for p in head.parameters()}
    trained: list[nn.Parameter] = []
    for group in blocks[len(blocks) - n:]:
        for module in group:
            module.requires_grad_(True)
            trained += [p for p in module.parameters() if id(p) not in head_ids]
    return list(dict.fromkeys(trained)), list(head.parameters()), n


def _frozen_batchnorm(net: nn.Module) -> None:
    """Batch norm keeps its ImageNet statistics: training mode elsewhere (dropout), eval mode here."""
    for module in net.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            module.eval()


def build_network(spec: ModelSpec, classes: int, *, progress: bool = True) -> nn.Module:
    """The backbone with its pretrained weights and a new head of ``classes`` outputs."""
    net = spec.build(num_classes=classes)
    state = spec.load_default(progress=progress)
    head = spec.classifier + "."
    state = {k: v for k, v in state.items() if not k.startswith(head)}
    missing = net.load_state_dict({k: v for k, v in state.items() if not k.startswith(spec.ignore_prefixes)},
                                  strict=False).missing_keys
    unexpected = [k for k in missing if not k.startswith(head)]
    if unexpected:
        raise ConfigError(f"the {spec.name} weights do not fit its architecture ({', '.join(unexpected[:3])})")
    # The new head starts at zero: every class equally likely (the loss starts at ln C). The architectures'
    # own initialisations scale by the number of outputs (timm's EfficientNet: uniform within 1/sqrt(C)),
    # which for six classes gives logits of several units on 1280 features: a head trained alone
    # (--train-blocks 0) spent its whole run undoing that (held-out accuracy 0.39 on the clip-art).
    classifier = net.get_submodule(spec.classifier)
    with torch.no_grad():
        for p in classifier.parameters(recurse=False):
            p.zero_()
    return net


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against target distributions (one-hot classes or topic mixes)."""
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


@dataclass
class DreamTrainResult:
    """What a training run ends with (the model is in its file)."""

    step: int
    images: int
    held_out: int
    skipped: int
    #: the validation figure and its chance level (accuracy, or top-topic agreement)
    metric: str
    value: float | None
    chance: float | None
    #: pictures left out for want of a caption
    uncaptioned: int = 0


#: what a preview sheet of a dream model shows: its most common classes or topics, each rendered from nothing
#: (``visualize``) at this size and number of steps: a glimpse, cheap enough to make at every checkpoint
PREVIEW_TILES = 8
PREVIEW_SIZE = 128
PREVIEW_STEPS = 48


def preview_targets(collection: Collection, targets: torch.Tensor, train: Sequence[int]) -> list[tuple[int, str]]:
    """The classes or topics a preview shows: the most common in the training set (at most
    :data:`PREVIEW_TILES`), in their own order, each with its label (a topic's top words)."""
    weight = targets[list(train)].sum(0)
    chosen = sorted(torch.argsort(weight, descending=True, stable=True)[:PREVIEW_TILES].tolist())
    if collection.kind == CLASSES:
        return [(i, collection.names[i]) for i in chosen]
    return [(i, f"{i}: {' '.join(collection.top_words[i][:3])}") for i in chosen]


def preview_sheet(spec: ModelSpec, net: nn.Module, collection: Collection, shown: Sequence[tuple[int, str]],
                  title: str, seed: int, steps: int = PREVIEW_STEPS) -> Image.Image:
    """What the network has learned so far: each of ``shown`` rendered from nothing, labelled."""
    import copy

    from inceptionism.configs import VisualizeConfig
    from inceptionism.models.network import Network
    from inceptionism.models.optimize import fold_batchnorm
    from inceptionism.objectives import build_objective
    from inceptionism.visualize import render
    from inceptionism.io.sheets import contact_sheet

    frozen = copy.deepcopy(net).float().eval()  # the training copy is left as it is
    frozen, _ = fold_batchnorm(frozen)
    device = next(net.parameters()).device
    network = Network(spec, frozen, categories=collection.names, weights="in training",
                      collection=collection).to(device)
    side = max(PREVIEW_SIZE, network.min_size)
    config = VisualizeConfig(width=side, height=side, steps=steps, seed=seed)
    tiles = []
    for index, _ in shown:
        objective, _ = build_objective(network, **({"class_value": index} if collection.kind == CLASSES
                                                   else {"topic": index}))
        picture = render(network, objective, config).images[0]
        arr = (picture.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        tiles.append(Image.fromarray(arr))
    return contact_sheet(tiles, [label for _, label in shown], columns=min(4, len(tiles)), title=title)


def chance_level(targets: torch.Tensor, train: Sequence[int], held: Sequence[int]) -> float:
    """The held-out figure of always answering the training set's most common top label."""
    if not held:
        return float("nan")
    top = targets.argmax(1)
    common = torch.bincount(top[list(train)], minlength=targets.shape[1]).argmax()
    return float((top[list(held)] == common).float().mean())


def _split_sets(labelled: LabelledCollection, config: DreamTrainConfig, name: str) -> tuple[Any, Any, Any, Any]:
    """The training and held-out indices and their datasets (enough training images for one batch, or one line)."""
    train_idx, held_idx = split(labelled, config.val, config.seed)
    if len(train_idx) < config.batch_size:
        raise ConfigError(f"only {len(train_idx)} training images (after holding out {len(held_idx)} for validation), "
                          f"fewer than {param('batch_size', config.batch_size)}: lower it")
    train_set = LabelledImages([labelled.images[i] for i in train_idx], labelled.targets[train_idx],
                               config.image_size, train=True, name=name, seed=config.seed)
    held_set = LabelledImages([labelled.images[i] for i in held_idx], labelled.targets[held_idx],
                              config.image_size, train=False, name=name, seed=config.seed) if held_idx else None
    return train_idx, held_idx, train_set, held_set


def _optimiser(head_params: list[Any], block_params: list[Any], config: DreamTrainConfig, steps: int) -> tuple[Any, Any]:
    """AdamW with the fine-tuned blocks at a tenth of the head's rate, under a warm-up and cosine schedule."""
    groups = [{"params": head_params, "lr": config.lr}]
    if block_params:
        groups.append({"params": block_params, "lr": config.lr / 10})
    opt = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(steps, max_warmup=100))


def _resumed_step(output: Path, net: nn.Module, spec: Any, opt: Any, schedule: Any, check: dict[str, Any],
                  labelled: LabelledCollection) -> int:
    """The step a run stopped at, its weights and optimiser loaded; a run of other data is one clear error."""
    state, stored, _ = load_dream_model(output)
    load_state_into(net, spec, state, source=os.fspath(output))
    saved = load_state(output, opt, schedule)
    if saved.meta != check:
        changed = sorted(k for k in set(check) | set(saved.meta) if check.get(k) != saved.meta.get(k))
        raise ConfigError(f"cannot resume {output}: {', '.join(changed)} differ from the run that made it "
                          "(other images, captions, seed or backbone)")
    if stored.kind == TOPICS and not torch.allclose(stored.topic_word, labelled.collection.topic_word, atol=1e-5):
        raise ConfigError(f"cannot resume {output}: the topics fitted now differ from the stored ones "
                          "(another scikit-learn version?)")
    return saved.step


class _Run:
    """One training run as the loop and the watcher see it: the loss of a batch, the held-out figures, the
    checkpoint, and the preview sheets."""

    def __init__(self, *, spec: Any, net: nn.Module, model: nn.Module, config: DreamTrainConfig, device: torch.device,
                 compute: Any, collection: Any, train_set: Any, held_set: Any, output: Path, optimizer: Any,
                 schedule: Any, check: dict[str, Any], training: dict[str, Any], dist: Dist, steps: int,
                 shown: list[tuple[int, str]]):
        self.spec, self.net, self.model, self.config, self.device, self.compute = spec, net, model, config, device, compute
        self.collection, self.train_set, self.held_set, self.output = collection, train_set, held_set, output
        self.optimizer, self.schedule, self.check, self.training = optimizer, schedule, check, training
        self.dist, self.steps, self.shown = dist, steps, shown
        self.mean, self.std = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in spec.mean_std)
        self.metric = "accuracy" if collection.kind == CLASSES else "topic_agreement"
        #: the latest held-out figures
        self.last: dict[str, float] = {}

    def forward(self, images: torch.Tensor, through: nn.Module) -> torch.Tensor:
        x = ((images.to(self.device, non_blocking=True) - self.mean) / self.std).contiguous(
            memory_format=torch.channels_last)
        with autocast_to(self.compute, self.device):
            return through(x).float()

    def loss_of(self, batch: Any) -> torch.Tensor:
        images, targets = batch
        return soft_cross_entropy(self.forward(images, self.model), targets.to(self.device))

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        if self.held_set is None:
            return {}
        self.net.eval()
        hits, total, losses = 0, 0, []
        loader = torch.utils.data.DataLoader(self.held_set, batch_size=self.config.batch_size,
                                             num_workers=self.config.workers)
        for images, targets in loader:
            logits = self.forward(images, self.net).float()  # the module itself: only rank 0 evaluates
            targets = targets.to(self.device)
            losses.append(float(soft_cross_entropy(logits, targets)) * len(targets))
            hits += int((logits.argmax(1) == targets.argmax(1)).sum())
            total += len(targets)
        self.net.train()
        _frozen_batchnorm(self.net)
        self.last.update({self.metric: hits / total, "loss": sum(losses) / total})
        return dict(self.last)

    def save(self, step: int) -> None:
        if not self.dist.main:
            return
        figures = {f"val_{k}": round(v, 4) for k, v in self.last.items()}
        save_dream_model(self.output, {k: v.float() for k, v in self.net.state_dict().items()},
                         backbone=self.spec.name, collection=self.collection,
                         training={**self.training, "step": step, "skipped_images": len(self.train_set.skipped()),
                                   **figures})
        save_state(self.output, self.optimizer, step, self.check, self.schedule)

    def preview(self, step: int) -> tuple[Image.Image, dict[str, float]]:
        sheet = preview_sheet(self.spec, self.net, self.collection, self.shown,
                              f"{self.output.name}: step {step} of {self.steps}", self.config.seed)
        return sheet, {}

    def preview_cost(self) -> float:
        """A preview's seconds, from one tile of two steps (scaled up: a little over, never under)."""
        import time

        started = time.perf_counter()
        preview_sheet(self.spec, self.net, self.collection, self.shown[:1], "", self.config.seed, steps=2)
        return (time.perf_counter() - started) * len(self.shown) * PREVIEW_STEPS / 2


def train_dream(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: DreamTrainConfig = DreamTrainConfig(),
    *,
    backbone: str = "efficientnet_lite0",
    device: torch.device | str = "cpu",
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[TrainStep], None] | None = None,
    dist: Dist | None = None,
    preview_every: int | None = None,
    log_dir: str | None = None,
) -> DreamTrainResult:
    """Fine-tune ``backbone`` on the collection at ``data``; writes ``output`` (and its training state).

    The run is watched (:mod:`inceptionism.training.watch`): a row per step in
    ``NAME.log.csv`` (the held-out figures at each epoch's end), a preview sheet of the
    most common classes or topics rendered from nothing in ``NAME.previews/`` every
    ``preview_every`` steps (default: every checkpoint, within the preview budget; 0:
    never), and TensorBoard files under ``log_dir`` when given.

    In a distributed run (``dist``, by default what torchrun set, with the process
    group joined on ``device``) each process takes its share of every batch; rank 0
    validates and writes the files.
    """
    device = torch.device(device)
    output = Path(output)
    dist = dist or distributed.current()
    spec = get_model_spec(backbone)
    per_rank = distributed.share(config.batch_size, dist)
    seed_everything(config.seed)
    labelled = read_collection(data, config)
    train_idx, held_idx, train_set, held_set = _split_sets(labelled, config, os.fspath(data))
    steps_per_epoch = len(train_idx) // config.batch_size
    steps = config.steps or config.epochs * steps_per_epoch
    net = build_network(spec, labelled.collection.count, progress=progress)
    block_params, head_params, unfrozen = freeze(spec, net, config.train_blocks)
    net = net.to(device).to(memory_format=torch.channels_last)
    opt, schedule = _optimiser(head_params, block_params, config, steps)
    check = {"fingerprint": labelled.fingerprint, "seed": config.seed, "val": config.val,
             "backbone": spec.name, "labels": labelled.collection.kind}
    start = _resumed_step(output, net, spec, opt, schedule, check, labelled) if resume else 0
    # bfloat16 compute where the device has it (config.precision); weights, optimiser state and loss stay float32
    compute = autocast_dtype(config.precision, device, spec)
    training = {**config.to_dict(), "precision": "fp32" if compute is None else "bf16", "backbone": spec.name,
                "data": os.fspath(Path(data).resolve()),
                "images": len(labelled.images), "held_out": len(held_idx), "unfrozen_blocks": unfrozen,
                "steps_total": steps, "processes": dist.world_size}
    run = _Run(spec=spec, net=net, model=distributed.wrap(net, dist, device), config=config, device=device,
               compute=compute, collection=labelled.collection, train_set=train_set, held_set=held_set, output=output,
               optimizer=opt, schedule=schedule, check=check, training=training, dist=dist, steps=steps,
               shown=preview_targets(labelled.collection, labelled.targets, train_idx))
    checkpoint_every = config.checkpoint_every or steps_per_epoch
    watch = Watch(output, steps=steps, start_step=start, resume=resume, held_out=(f"val_{run.metric}", "val_loss"),
                  checkpoint_every=checkpoint_every, preview_every=preview_every, preview=run.preview, log_dir=log_dir,
                  preview_cost=run.preview_cost,
                  settings={"command": "train-dream", "training": training,
                            "sheet": {"tiles": [label for _, label in run.shown], "columns": min(4, len(run.shown))}}) \
        if dist.main else None
    net.train()
    _frozen_batchnorm(net)
    with distributed.finishing(net, watch, dist, train_set, "images", also=held_set) as skipped:
        step = fit(optimizer=opt, loss_of=run.loss_of, steps=steps, start_step=start, save=run.save,
                   output=os.fspath(output), checkpoint_every=checkpoint_every, scheduler=schedule,
                   evaluate=run.evaluate if dist.main else None, eval_every=steps_per_epoch,
                   callback=chain(watch, callback) if dist.main else None, agree=distributed.agree(dist, device),
                   batches=distributed.rank_batches(train_set, dist, device, per_rank=per_rank,
                                                    workers=config.workers, seed=config.seed, start=start))
    return DreamTrainResult(step, len(labelled.images), len(held_idx), len(skipped), run.metric, run.last.get(run.metric),
                            chance_level(labelled.targets, train_idx, held_idx) if held_idx else None,
                            len(labelled.uncaptioned))
