"""Dream step time: inceptionism against a deliberately plain implementation.

The plain reference is what most DeepDream ports do: a forward hook on the layer,
a forward pass through the *whole* network, fp32, NCHW, no compilation, batch norm
left as it is. Both sides use untrained weights (timing does not depend on them),
the same layer, the same step arithmetic. Each runs in a worker process of its own
(so neither inherits the other's allocator state) and the workers are timed
alternately, one step at a time, so that machine noise hits both alike.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from inceptionism.dream.loop import gradient_step
from inceptionism.models import get_model, get_model_spec
from inceptionism.objectives import from_addresses
from inceptionism.precision import autocast_dtype


class PlainDream:
    """One DeepDream step the way most ports write it."""

    def __init__(self, name: str, layer: str, device: torch.device):
        spec = get_model_spec(name)
        self.net = spec.build().eval().to(device)
        for p in self.net.parameters():
            p.requires_grad_(False)
        path = spec.aliases.get(layer, layer)
        self.module = dict(self.net.named_modules())[path]
        mean, std = spec.mean_std
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)

    def step(self, x: torch.Tensor, step_size: float = 0.01) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        out: dict[str, torch.Tensor] = {}
        handle = self.module.register_forward_hook(lambda m, i, o: out.__setitem__("a", o))
        try:
            self.net((x - self.mean) / self.std)
        finally:
            handle.remove()
        loss = out["a"].pow(2).mean()
        (g,) = torch.autograd.grad(loss, x)
        return (x + step_size * g / (g.abs().mean() + 1e-8)).clamp(0, 1).detach()


class OursDream:
    """One step of inceptionism's loop on its optimised network, at a precision ("auto", "bf16", "fp32")."""

    def __init__(self, name: str, layer: str, device: torch.device, precision: str = "auto"):
        self.net = get_model(name, weights="random", device=device)
        self.objective = from_addresses([layer])
        self.objective.prepare(self.net)
        self.extractor = self.net.extractor(self.objective.addresses()).__enter__()
        self.autocast = autocast_dtype(precision, device, self.net.spec)

    def step(self, x: torch.Tensor, step_size: float = 0.01) -> torch.Tensor:
        out, _ = gradient_step(x, self.objective, self.extractor, step_size, (3, 5), autocast=self.autocast)
        return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    model: str
    size: int
    plain_ms: float
    fp32_ms: float  # ours in float32
    ours_ms: float  # ours at --precision auto
    ours_flops: float

    @property
    def speedup(self) -> float:
        return self.plain_ms / self.ours_ms

    @property
    def speedup_fp32(self) -> float:
        return self.plain_ms / self.fp32_ms


def time_step(step: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, device: torch.device) -> float:
    _sync(device)
    t = time.perf_counter()
    step(x.clone())
    _sync(device)
    return (time.perf_counter() - t) * 1000


def step_flops(ours: OursDream, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    # The same forward and backward as a step; FlopCounterMode cannot watch autograd.grad.
    # oneDNN's fused convolution + clamp has no FLOP formula: count with the pairs
    # unfused (the same convolutions, then the clamp as its own operation).
    fusions = [m.fusion for m in ours.net.modules() if getattr(m, "clamp", None) is not None
               and hasattr(m, "fusion") and m.fusion.on]
    leaf = x.clone().requires_grad_(True)
    try:
        for fusion in fusions:
            fusion.on = False
        with FlopCounterMode(display=False) as counter:
            ours.objective(ours.extractor(leaf)).backward()
    finally:
        for fusion in fusions:
            fusion.on = True
    return float(counter.get_total_flops())


def _worker(conn, impl: str, name: str, layer: str, size: int, device: str) -> None:
    """One implementation in a process of its own: answers 'time' and 'flops' until 'stop'."""
    dev = torch.device(device)
    runner = PlainDream(name, layer, dev) if impl == "plain" else \
        OursDream(name, layer, dev, "fp32" if impl == "fp32" else "auto")
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
    time_step(runner.step, x, dev)  # warm-up (allocator, oneDNN/cuDNN kernel choice)
    conn.send("ready")
    while True:
        request = conn.recv()
        if request == "time":
            conn.send(time_step(runner.step, x, dev))
        elif request == "flops":
            conn.send(step_flops(runner, x))  # type: ignore[arg-type]
        else:
            return


def compare(name: str, layer: str, size: int, device: torch.device, reps: int) -> Timing:
    """Median step times of the plain port, ours in float32 and ours at auto precision, each in its own process."""
    ctx = multiprocessing.get_context("spawn")
    workers = {}
    try:
        for key in ("plain", "fp32", "ours"):  # one at a time: each warms up alone
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, key, name, layer, size, str(device)), daemon=True)
            proc.start()
            if parent.recv() != "ready":
                raise RuntimeError(f"benchmark worker {key} failed")
            workers[key] = (proc, parent)
        times: dict[str, list[float]] = {key: [] for key in workers}
        for _ in range(reps):
            for key, (_, conn) in workers.items():
                conn.send("time")
                times[key].append(conn.recv())
        workers["ours"][1].send("flops")
        flops = workers["ours"][1].recv()
    finally:
        for proc, conn in workers.values():
            try:
                conn.send("stop")
            except OSError:
                pass
            proc.join(timeout=30)
    median = {key: statistics.median(v) for key, v in times.items()}
    return Timing(name, size, median["plain"], median["fp32"], median["ours"], flops)


def _best_rate(run: Callable[[], object], flops: float, device: torch.device, reps: int) -> float:
    run()
    best = 0.0
    for _ in range(reps):
        _sync(device)
        t = time.perf_counter()
        run()
        _sync(device)
        best = max(best, flops / (time.perf_counter() - t))
    return best


def matmul_flops_per_s(device: torch.device, sizes: tuple[int, ...] = (1024, 2048), reps: int = 8,
                       dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Peak measured matmul throughput by library, in ``dtype`` (what the dream steps compute in).

    The best over a few sizes and repetitions: on a shared machine a single timing
    is often far below what the hardware does. On the CPU both of torch's GEMMs are
    measured, MKL's (``torch.mm``) and oneDNN's (a 1x1 convolution is a matrix
    product): MKL takes a slow path on AMD processors, so ``torch.mm`` alone can
    understate what the machine does by a fifth or more. The fraction uses the best.
    """
    rates = {"torch.mm": 0.0}
    for n in sizes:
        a = torch.rand(n, n, device=device, dtype=dtype)
        b = torch.rand(n, n, device=device, dtype=dtype)
        rates["torch.mm"] = max(rates["torch.mm"], _best_rate(lambda: torch.mm(a, b), 2 * n**3, device, reps))
    if device.type == "cpu":
        rates["oneDNN 1x1 conv"] = 0.0
        for n in sizes:
            x = torch.rand(1, n, 32, 32, dtype=dtype).contiguous(memory_format=torch.channels_last)
            w = torch.rand(n, n, 1, 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
            rate = _best_rate(lambda: torch.nn.functional.conv2d(x, w), 2 * n * n * 32 * 32, device, reps)
            rates["oneDNN 1x1 conv"] = max(rates["oneDNN 1x1 conv"], rate)
    return rates


def default_layer(name: str) -> str:
    return get_model_spec(name).default_layers[0]


def fresh_net(name: str) -> nn.Module:  # pragma: no cover - helper for interactive use
    return get_model_spec(name).build().eval()
