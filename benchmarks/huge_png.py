"""A tiny file that claims a huge picture: the peak memory and time of reading it.

    python -m benchmarks.huge_png            # 17,000 x 17,000 (289 MP) in an 870 KB PNG
    python -m benchmarks.huge_png --side 8000

Reading peaks at no more than the picture's 8-bit decode plus its float32 copy plus
300 MB (io.images.reading_bytes), and a picture whose reading would not fit in the
memory available is refused before it is decoded. Printed: the peak resident memory
of a fresh process over its start-up, beside that bound.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import resource, sys, time
from inceptionism.io.images import load_image
load_image("skimage:chelsea")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
try:
    load_image(sys.argv[1]); outcome = "read"
except Exception as exc:
    outcome = "refused: " + str(exc)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base, outcome)
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.huge_png")
    ap.add_argument("--side", type=int, default=17000)
    args = ap.parse_args(argv)
    from PIL import Image

    from inceptionism.io.images import reading_bytes

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huge.png"
        Image.MAX_IMAGE_PIXELS = None
        Image.new("RGB", (args.side, args.side), (30, 120, 200)).save(path)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
        seconds, peak, outcome = out.stdout.split(" ", 2)
        bound = reading_bytes(args.side, args.side, "RGB")
        print(f"{args.side}x{args.side} ({args.side ** 2 / 1e6:.0f} MP) in a {path.stat().st_size / 1e3:.0f} KB PNG: "
              f"{outcome.strip()} in {float(seconds):.1f} s, peak {int(peak) / 2**30:.2f} GB over start-up "
              f"(bound: {bound / 2**30:.2f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
