"""Style transfer throughput: feed-forward stylisation, optimisation, training.

Untrained weights (timing does not depend on them); the loss network is the
embedded EfficientNet-Lite0.
"""

from __future__ import annotations

import time

import torch

from inceptionism.models import get_model
from inceptionism.precision import autocast, autocast_dtype
from inceptionism.style import StyleConfig, stylize_optimize
from inceptionism.style.model_file import stylize_image
from inceptionism.style.network import StyleNetwork, mix_weights
from inceptionism.style.train import TrainConfig, TrainLoss


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_ms(run, device: torch.device, reps: int) -> float:
    """The best of ``reps`` timed calls of ``run`` (after one warm-up call), in milliseconds."""
    run()
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        run()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return best * 1000


def stylize_ms(size: int | tuple[int, int], device: torch.device, reps: int = 3, precision: str = "fp32") -> float:
    """Milliseconds to stylise one ``size`` x ``size`` (or (height, width)) image (tiled above 1024)."""
    net = StyleNetwork(2).eval().requires_grad_(False).to(device)
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)
    mix = mix_weights(2, index=0, device=device)
    compute = autocast_dtype(precision, device)
    return _best_ms(lambda: stylize_image(net, x, mix, autocast=compute), device, reps)


def optimisation_its(size: int, device: torch.device, steps: int = 30, precision: str = "fp32") -> float:
    """Gatys optimisation iterations per second at ``size`` (one scale, Adam)."""
    net = get_model(device=device)
    content = torch.rand(1, 3, size * 3 // 4, size, generator=torch.Generator().manual_seed(0))
    style = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    stylize_optimize(net, content, [style], StyleConfig(size=size, steps=3, scales=1, precision=precision))  # warm-up
    _sync(device)
    t = time.perf_counter()
    stylize_optimize(net, content, [style], StyleConfig(size=size, steps=steps, scales=1, precision=precision))
    _sync(device)
    return steps / (time.perf_counter() - t)


def training_steps_per_s(device: torch.device, image_size: int = 256, batch: int = 4, steps: int = 5,
                         precision: str = "fp32") -> float:
    """Training steps per second (batch of ``batch`` crops of ``image_size``), data loading excluded."""
    loss_net = get_model(device=device)
    config = TrainConfig(image_size=image_size, batch_size=batch)
    styles = [torch.rand(1, 3, image_size, image_size).to(device) for _ in range(2)]
    loss_fn = TrainLoss(loss_net, styles, config, loss_net.spec.content_layers, loss_net.spec.style_layers)
    net = StyleNetwork(2).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, image_size, image_size).to(device)
    index = torch.arange(batch, device=device) % 2
    mix = torch.nn.functional.one_hot(index, 2).float()

    compute = autocast_dtype(precision, device, loss_net.spec)

    def step() -> None:  # as train-style does it: autocast forward, float32 loss and weights
        opt.zero_grad(set_to_none=True)
        with autocast(compute, device):
            loss = loss_fn(net(x, mix).float(), x, index).float()
        loss.backward()
        opt.step()

    step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - t)


def arbitrary_ms(size: tuple[int, int], device: torch.device, reps: int = 3, precision: str = "auto",
                 stroke_scale: float = 1.0) -> float:
    """Milliseconds to stylise one image of ``size`` (height, width) with any painting: Magenta's arbitrary network
    (the painting's embedding computed once, as `stylize` does; the loading of the network not counted)."""
    from inceptionism.style import magenta
    from inceptionism.style.model_file import stylize_with_strokes

    net = magenta.load_arbitrary(device)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, *size, generator=g).to(device)
    embedding = magenta.embed_styles(net, [torch.rand(1, 3, 256, 320, generator=g)])
    compute = autocast_dtype(precision, device)

    return _best_ms(lambda: stylize_with_strokes(net, x, embedding, stroke_scale=stroke_scale, autocast=compute),
                    device, reps)


def shipped_ms(size: tuple[int, int], device: torch.device, reps: int = 3, precision: str = "auto") -> float:
    """Milliseconds for `stylize --style-index 0` of one image of ``size`` (height, width) with the network that
    ships (loading not counted)."""
    from inceptionism.style.model_file import load_model
    from inceptionism.style.shipped import shipped_model_path

    net, _ = load_model(shipped_model_path(), device)
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0)).to(device)
    mix = mix_weights(net.styles, index=0, device=device)
    compute = autocast_dtype(precision, device)
    return _best_ms(lambda: stylize_image(net, x, mix, autocast=compute), device, reps)
