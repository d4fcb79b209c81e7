"""Start-up: whole commands against ``python -c "import torch"``, run alternately, medians.

    python -m benchmarks.startup [--runs 5] [--photo ../shared/images/tubingen.jpg]

No torch program starts faster than the import of torch, so each command's median
is printed as a ratio to that one's, measured in the same rounds (these machines
are noisy: every round runs each command once, in turn).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def commands(folder: Path, photo: str | None) -> dict[str, list[str]]:
    tool = [shutil.which("inceptionism") or "inceptionism"]
    found = {
        "import torch": [sys.executable, "-c", "import torch"],
        "--help": [*tool, "--help"],
        "dream --help": [*tool, "dream", "--help"],
        "dream --steps 0": [*tool, "dream", "skimage:chelsea", "-o", str(folder / "d.png"), "--steps", "0", "-q"],
    }
    if photo:
        found["stylize 1024x768"] = [*tool, "stylize", photo, "--style-index", "0", "-o", str(folder / "s.png"), "-q"]
        painting = Path(photo).with_name("starry_night.jpg")
        if painting.is_file():
            found["stylize --style 1024x768"] = [*tool, "stylize", photo, "--style", str(painting), "-o",
                                                 str(folder / "a.png"), "-q"]
    return found


def measure(runs: int, photo: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        todo = commands(Path(folder), photo)
        times: dict[str, list[float]] = {name: [] for name in todo}
        for name, argv in todo.items():  # warm the file cache once
            subprocess.run(argv, capture_output=True, check=True)
        for _ in range(runs):
            for name, argv in todo.items():
                started = time.perf_counter()
                subprocess.run(argv, capture_output=True, check=True)
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    default_photo = Path(__file__).resolve().parents[2] / "shared" / "images" / "tubingen.jpg"
    parser.add_argument("--photo", default=str(default_photo) if default_photo.is_file() else None,
                        help="a 1024x768 photo for the stylize figure (default: ../shared/images/tubingen.jpg)")
    args = parser.parse_args()
    medians = measure(args.runs, args.photo)
    base = medians["import torch"]
    print(f"{'command':<22}{'median s':>10}{'x import torch':>16}")
    for name, value in medians.items():
        print(f"{name:<22}{value:>10.2f}{value / base:>16.2f}")
    print()
    for name, value in medians.items():
        if name != "import torch":
            print(f"startup_{name.replace(' ', '_').replace('-', '').replace('x768', '')}: {value / base:.2f}")
    print(f"wall_stylize_style_s: {medians.get('stylize --style 1024x768', float('nan')):.2f}")


if __name__ == "__main__":
    main()
