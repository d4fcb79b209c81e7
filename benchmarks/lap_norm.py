"""What ``--lap-norm`` does to a dream: its high-frequency share, and what it costs.

    python -m benchmarks.lap_norm [--size 448] [--levels 4] [--runs 3]

For each model, the same dream (chelsea, same seed and jitter) with the plain
normalisation and with the Laplacian one; printed: the share of the change's
spectral energy above 1/4 and 1/8 cycles per pixel (Nyquist is 1/2), the mean
change per pixel, and the time of the Laplacian run over the plain one, measured
alternately. The default model is measured at a shallow, a middle and a deep
layer; ``--googlenet`` adds GoogLeNet's inception4c with its trained weights
(torchvision downloads them on first use). With random weights GoogLeNet's
gradients are under 1e-8, below the plain normalisation's epsilon, so an
untrained network says nothing here.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from inceptionism.dream import DreamConfig, dream
from inceptionism.io.images import load_image
from inceptionism.models import get_model
from inceptionism.objectives import build_objective

MODELS = [("efficientnet_lite0", None, ["blocks.2"]), ("efficientnet_lite0", None, ["blocks.4"]),
          ("efficientnet_lite0", None, ["blocks.6"])]


def high_frequency_share(change: torch.Tensor, cutoff: float) -> float:
    power = torch.fft.rfft2(change.float().mean(1)).abs().pow(2)[0]
    fy = torch.fft.fftfreq(change.shape[-2])[:, None]
    fx = torch.fft.rfftfreq(change.shape[-1])[None]
    return float(power[(fy**2 + fx**2).sqrt() > cutoff].sum() / power.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=448, help="long side of the picture (default 448)")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--googlenet", action="store_true", help="add GoogLeNet's inception4c (downloads its weights)")
    args = parser.parse_args()
    models = MODELS + ([("googlenet", None, ["inception4c"])] if args.googlenet else [])
    torch.set_num_threads(torch.get_num_threads())
    cat = load_image("skimage:chelsea").rgb
    h, w = cat.shape[-2:]
    image = F.interpolate(cat, size=(round(args.size * h / w), args.size), mode="bilinear", antialias=True)
    print(f"chelsea at {image.shape[-1]}x{image.shape[-2]}, 10 steps x 3 octaves, lap-norm {args.levels} levels")
    print(f"{'model (layers)':34s} {'normalisation':>13s} {'HF>1/4':>7s} {'HF>1/8':>7s} {'change':>7s} {'time':>7s}")
    for name, weights, layers in models:
        net = get_model(name, weights=weights, device="cpu")
        objective, _ = build_objective(net, layers)
        configs = {"plain": DreamConfig(steps=10, octaves=3, precision="fp32"),
                   "laplacian": DreamConfig(steps=10, octaves=3, precision="fp32", lap_norm=args.levels)}
        times: dict[str, list[float]] = {k: [] for k in configs}
        changes: dict[str, torch.Tensor] = {}
        for _ in range(args.runs):
            for key, config in configs.items():
                start = time.perf_counter()
                changes[key] = dream(net, image, objective, config).image - image
                times[key].append(time.perf_counter() - start)
        base = statistics.median(times["plain"])
        for key, change in changes.items():
            ratio = statistics.median(times[key]) / base
            print(f"{name + ' (' + ', '.join(layers) + ')':34s} {key:>13s} {high_frequency_share(change, 0.25):7.3f} "
                  f"{high_frequency_share(change, 0.125):7.3f} {change.abs().mean().item():7.4f} {ratio:6.2f}x")


if __name__ == "__main__":
    main()
