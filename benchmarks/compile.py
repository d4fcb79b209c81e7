"""torch.compile on the CPU: is it worth adopting for the default dream and for stylize?

    python -m benchmarks.compile

For each workload, eager and ``torch.compile``d (inductor, default mode) are timed
alternately after the compiled one's warm-up, which is reported on its own (the
first call compiles; a second process would start from the on-disk cache).

- dream step: the embedded EfficientNet-Lite0 to ``blocks.4`` at 512x512, forward and
  backward to the input, as ``gradient_step`` does (float32: ``auto`` on the CPU);
- stylize: Magenta's arbitrary network on a 1024x768 image (``auto`` precision).
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def _time(run: Callable[[], object]) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def compare(name: str, eager: Callable[[], object], compiled: Callable[[], object], reps: int = 5) -> dict[str, float]:
    eager()
    warm = _time(compiled)
    compiled()
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(reps):
        times["eager"].append(_time(eager))
        times["compiled"].append(_time(compiled))
    e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
    print(f"{name:<34}{e * 1000:>10.0f}{c * 1000:>12.0f}{e / c:>9.2f}{warm:>12.1f}", flush=True)
    return {"eager": e, "compiled": c, "warmup": warm}


def main() -> None:
    from inceptionism.models import get_model
    from inceptionism.precision import autocast_dtype
    from inceptionism.style import magenta

    print(f"# torch.compile on the CPU, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'workload':<34}{'eager ms':>10}{'compiled ms':>12}{'speedup':>9}{'warm-up s':>12}")
    net = get_model("efficientnet_lite0")
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(0))

    class ToBlocks4(torch.nn.Module):
        """The dream's forward: the network from its input to blocks.4 (where the extractor would stop)."""

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            body = net.net
            h = body.bn1(body.conv_stem(net.normalize(image)))
            for block in body.blocks[:5]:
                h = block(h)
            return h

    def step(model: torch.nn.Module) -> Callable[[], object]:
        def run() -> object:
            image = x.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(model(image).float().pow(2).mean(), image)
            return grad
        return run

    eager_net = ToBlocks4()
    dream = compare("dream step (lite0 blocks.4, 512^2)", step(eager_net), step(torch.compile(eager_net)))

    arbitrary = magenta.load_arbitrary()
    embedding = magenta.embed_styles(arbitrary, [torch.rand(1, 3, 256, 256)])
    photo = torch.rand(1, 3, 768, 1024)
    compute = autocast_dtype("auto", "cpu")
    compiled_arbitrary = torch.compile(arbitrary)

    def styl(model: torch.nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad(), torch.autocast("cpu", dtype=compute or torch.float32, enabled=compute is not None):
                return model(photo, embedding)
        return run

    stylize = compare("stylize (arbitrary, 1024x768)", styl(arbitrary), styl(compiled_arbitrary))
    print()
    print(f"compile_dream_speedup: {dream['eager'] / dream['compiled']:.2f}")
    print(f"compile_stylize_speedup: {stylize['eager'] / stylize['compiled']:.2f}")
    print(f"compile_warmup_s: {dream['warmup']:.0f}, {stylize['warmup']:.0f}")


if __name__ == "__main__":
    main()
