"""train-dream throughput: images per second of fine-tuning, with and without reading the files.

The default backbone (embedded EfficientNet-Lite0) with its default fine-tuned
blocks, 224 px, batches of 32: the training step alone (random tensors), and the
whole loop reading JPEGs with the data workers (augmentation included).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inceptionism.dream.train import LabelledImages, build_network, freeze, soft_cross_entropy
from inceptionism.models import get_model_spec
from inceptionism.precision import autocast, autocast_dtype
from inceptionism.training.data import batches


def _setup(device: torch.device, classes: int = 10, precision: str = "fp32"):
    spec = get_model_spec("efficientnet_lite0")
    net = build_network(spec, classes, progress=False)
    blocks, head, _ = freeze(spec, net, None)
    net = net.to(device).to(memory_format=torch.channels_last).train()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    opt = torch.optim.AdamW([{"params": head}, {"params": blocks, "lr": 1e-4}], lr=1e-3)
    mean, std = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in spec.mean_std)
    compute = autocast_dtype(precision, device, spec)

    def step(images: torch.Tensor, targets: torch.Tensor) -> None:
        x = ((images.to(device) - mean) / std).contiguous(memory_format=torch.channels_last)
        with autocast(compute, device):
            logits = net(x).float()
        opt.zero_grad(set_to_none=True)
        soft_cross_entropy(logits, targets.to(device)).backward()
        opt.step()

    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_images_per_s(device: torch.device, size: int = 224, batch: int = 32, steps: int = 3,
                      precision: str = "fp32") -> float:
    step = _setup(device, precision=precision)
    x = torch.rand(batch, 3, size, size)
    y = torch.nn.functional.one_hot(torch.arange(batch) % 10, 10).float()
    step(x, y)
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    _sync(device)
    return batch * steps / (time.perf_counter() - started)


def loop_images_per_s(device: torch.device, size: int = 224, batch: int = 32, steps: int = 3, workers: int = 2,
                      precision: str = "fp32") -> float:
    step = _setup(device, precision=precision)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i in range(batch * 2):
            path = Path(folder) / f"{i}.jpg"
            Image.fromarray((rng.random((320, 400, 3)) * 255).astype(np.uint8)).save(path, quality=90)
            files.append(path)
        targets = torch.nn.functional.one_hot(torch.arange(len(files)) % 10, 10).float()
        data = LabelledImages(files, targets, size, train=True, name=folder, seed=0)
        stream = batches(data, batch_size=batch, workers=workers, seed=0)
        step(*next(stream))  # warm-up: workers start, first batch
        _sync(device)
        started = time.perf_counter()
        for _ in range(steps):
            step(*next(stream))
        _sync(device)
        rate = batch * steps / (time.perf_counter() - started)
        del stream
    return rate if math.isfinite(rate) else 0.0
