"""What watching a training run costs: the same run with its log and previews, and with neither.

    python -m benchmarks.watch_cost                      # train-style and train-dream, two runs of each kind
    python -m benchmarks.watch_cost --which style --steps 200 --every 50

*Watched* is a run at the defaults: a row per step in ``NAME.log.csv`` and a preview sheet at
every checkpoint, within the 5% budget (:mod:`inceptionism.training.watch`). *Unwatched* is the
same run with the watcher replaced by one that does nothing (no log, no preview). The runs
alternate (unwatched, watched, unwatched, watched...) so that a noisy machine weighs on both;
the ratio of their median times is printed. Checkpoints come every ``--every`` steps
(train-style's default is 500 of 2,000 steps: four previews; at ``--steps 100 --every 25`` a
preview comes twenty times as often, so the figure is an upper bound of the default's).
The pictures are scikit-image's, cut into crops (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from PIL import Image

PICTURES = ("chelsea", "astronaut", "coffee", "rocket", "camera", "brick", "grass", "gravel", "horse")


class _Unwatched:
    """A watcher that watches nothing (the baseline)."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.previews: list[Path] = []

    def __call__(self, step: Any) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def unwatched(module: Any) -> Iterator[None]:
    kept = module.Watch
    module.Watch = _Unwatched
    try:
        yield
    finally:
        module.Watch = kept


def _crops(folder: Path, names: tuple[str, ...], per: int, size: int, seed: int = 0) -> None:
    import skimage.data

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        arr = np.asarray(getattr(skimage.data, name)())
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        image = Image.fromarray(arr[..., :3].astype(np.uint8))
        w, h = image.size
        for i in range(per):
            side = rng.randint(min(w, h) // 2, min(w, h))
            x, y = rng.randint(0, w - side), rng.randint(0, h - side)
            image.crop((x, y, x + side, y + side)).resize((size, size)).save(folder / f"{name}_{i:02d}.jpg")


def _timed(run: Any) -> tuple[float, int]:
    started = time.perf_counter()
    previews = run()
    return time.perf_counter() - started, previews


def _report(name: str, times: dict[str, list[float]], previews: int, steps: int) -> None:
    watched, bare = statistics.median(times["watched"]), statistics.median(times["unwatched"])
    print(f"{name}: {steps} steps; unwatched {', '.join(f'{t:.1f}' for t in times['unwatched'])} s, watched "
          f"{', '.join(f'{t:.1f}' for t in times['watched'])} s ({previews} previews a run): watched/unwatched "
          f"{watched / bare:.3f} (cost {100 * (watched / bare - 1):+.1f}%)")


def style(args: argparse.Namespace, work: Path) -> None:
    import inceptionism.style.train as module
    from inceptionism.io.images import load_image
    from inceptionism.models import get_model
    from inceptionism.style.model_file import describe_style
    from inceptionism.style.train import TrainConfig, train

    data = work / "content"
    _crops(data, PICTURES, 4, 320)
    network = get_model("efficientnet_lite0")
    styles = [load_image(f"skimage:{n}").rgb for n in ("coffee", "rocket")]
    infos = [describe_style(f"skimage:{n}", s) for n, s in zip(("coffee", "rocket"), styles)]
    config = TrainConfig(steps=args.steps, checkpoint_every=args.every, image_size=args.image_size)
    times: dict[str, list[float]] = {"watched": [], "unwatched": []}
    previews = 0
    for r in range(args.repeats):
        for kind in ("unwatched", "watched"):
            out = work / f"style-{kind}-{r}.safetensors"

            def run() -> int:
                if kind == "unwatched":
                    with unwatched(module):
                        train(network, styles, infos, data, out, config)
                    return 0
                train(network, styles, infos, data, out, config)
                return len(list(out.with_name(out.name.removesuffix(".safetensors") + ".previews").glob("*.png")))

            took, made = _timed(run)
            times[kind].append(took)
            previews = max(previews, made)
    _report(f"train-style ({args.image_size} px crops, batch {config.batch_size}, checkpoint every {args.every})",
            times, previews, args.steps)


def dream(args: argparse.Namespace, work: Path) -> None:
    import inceptionism.dream.train as module
    from inceptionism.dream.train import DreamTrainConfig, train_dream

    data = work / "classes"
    for seed, name in enumerate(("brick", "grass", "coffee", "chelsea")):
        _crops(data / name, (name,), 24, 256, seed=seed)
    config = DreamTrainConfig(epochs=args.epochs, image_size=160, batch_size=16)
    times: dict[str, list[float]] = {"watched": [], "unwatched": []}
    previews, steps = 0, 0
    for r in range(args.repeats):
        for kind in ("unwatched", "watched"):
            out = work / f"dream-{kind}-{r}.safetensors"

            def run() -> int:
                nonlocal steps
                if kind == "unwatched":
                    with unwatched(module):
                        steps = train_dream(data, out, config, progress=False).step
                    return 0
                steps = train_dream(data, out, config, progress=False).step
                return len(list(out.with_name(out.name.removesuffix(".safetensors") + ".previews").glob("*.png")))

            took, made = _timed(run)
            times[kind].append(took)
            previews = max(previews, made)
    _report(f"train-dream (96 photos in 4 classes, 160 px, batch 16, {args.epochs} epochs, a checkpoint each)",
            times, previews, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--which", default="style,dream", help="style, dream, or both (default)")
    parser.add_argument("--steps", type=int, default=100, help="train-style steps a run (default 100)")
    parser.add_argument("--every", type=int, default=25, help="train-style checkpoint every N steps (default 25)")
    parser.add_argument("--image-size", type=int, default=256, help="train-style crop size (default 256)")
    parser.add_argument("--epochs", type=int, default=6, help="train-dream epochs a run (default 6)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each kind (default 2)")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        for which in args.which.split(","):
            {"style": style, "dream": dream}[which.strip()](args, Path(tmp))


if __name__ == "__main__":
    main()
