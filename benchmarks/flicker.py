"""Temporal coherence of `inceptionism video` (no coherence, --blend, --flow), of `stylize` on a video
(each frame on its own, and --flow), and of the web's Live tab (each frame on its own, and steadied).

    python -m benchmarks.flicker

Makes a 3-second clip (skimage's cat, panning sideways, with a tone), dreams it
three ways and stylises it two ways (The Starry Night from ../shared/images, else
built-in style 0) with the real commands, paints it as the Live tab does (the same
painting through Magenta's arbitrary network at 320 px, :mod:`inceptionism.animate.live`)
with and without the steadying blend, and prints for each output:

- flicker: mean absolute difference between consecutive frames (0-255), the
  plain measure; it also counts the scene's own motion;
- warp error: the same after moving the previous output frame along the optical
  flow of the source, i.e. the change that the motion does not explain.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clip(folder: Path, seconds: int = 3, fps: int = 10) -> Path:
    from inceptionism.io.images import load_image
    from inceptionism.io.video import ffmpeg_exe, write_video

    cat = (load_image("skimage:chelsea").rgb[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    frames = [np.ascontiguousarray(cat[40:232, 20 + 3 * i: 276 + 3 * i]) for i in range(seconds * fps)]
    write_video(frames, folder / "silent.mp4", fps)
    clip = folder / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(folder / "silent.mp4"), "-f", "lavfi",
                    "-i", f"sine=frequency=440:duration={seconds}", "-c:v", "copy", "-c:a", "aac", "-shortest",
                    str(clip)], check=True)
    return clip


def flicker(path: Path) -> float:
    from inceptionism.io.video import read_video

    frames = [f.astype(np.float64) for f in read_video(path)]
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(frames, frames[1:])]))


def warp_error(path: Path, source: Path, margin: int = 8) -> float:
    from inceptionism.animate.loop import flow_warp
    from inceptionism.io.video import read_video

    src, out = list(read_video(source)), list(read_video(path))
    errors = []
    for t in range(1, len(out)):
        moved = flow_warp(out[t - 1], src[t - 1], src[t]).astype(np.float64)
        m = slice(margin, -margin)
        errors.append(np.abs(out[t].astype(np.float64)[m, m] - moved[m, m]).mean())
    return float(np.mean(errors))


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live-only", action="store_true", help="only the Live tab's two rows (and the source's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = make_clip(folder)
        print(f"{'run':<8}{'flicker':>9}{'warp error':>12}{'seconds':>9}")
        print(f"{'source':<8}{flicker(clip):>9.2f}{warp_error(clip, clip):>12.2f}{'':>9}")
        painting = Path(__file__).resolve().parents[2] / "shared" / "images" / "starry_night.jpg"
        style = ["--style", str(painting)] if painting.is_file() else ["--style-index", "0"]
        runs = [("none", ["video", "--steps", "5", "--octaves", "2"]),
                ("blend", ["video", "--steps", "5", "--octaves", "2", "--blend", "0.5"]),
                ("flow", ["video", "--steps", "5", "--octaves", "2", "--blend", "0.5", "--flow"]),
                ("stylize", ["stylize", *style]),
                ("st+flow", ["stylize", *style, "--flow"])]
        for name, (command, *extra) in [] if args.live_only else runs:
            out = folder / f"{name}.mp4"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "inceptionism", command, str(clip), "-o", str(out), "-q", *extra],
                           check=True)
            elapsed = time.perf_counter() - t
            print(f"{name:<8}{flicker(out):>9.2f}{warp_error(out, clip):>12.2f}{elapsed:>9.0f}", flush=True)
        source = folder / "live-source.mp4"  # the clip as the Live tab sees it: 320 px on the long side
        for name, steady in (("live", 0.0), ("live+st", 0.5)):
            out = folder / f"{name}.mp4"
            t = time.perf_counter()
            live(clip, painting if painting.is_file() else None, steady, out, source)
            elapsed = time.perf_counter() - t
            print(f"{name:<8}{flicker(out):>9.2f}{warp_error(out, source):>12.2f}{elapsed:>9.0f}", flush=True)


def live(clip: Path, painting: Path | None, steady: float, out: Path, source: Path) -> None:
    """The clip painted frame by frame as the Live tab paints a camera (``steady``: its blend; 0 for none)."""
    import torch

    from inceptionism.animate.live import LiveStyle, to_frame, to_tensor, working_size
    from inceptionism.io.images import load_image
    from inceptionism.io.video import read_video, write_video
    from inceptionism.style import magenta

    net = magenta.load_arbitrary("cpu")
    embedding = magenta.embed_styles(net, [load_image(str(painting) if painting else "skimage:coffee").rgb])
    painter = LiveStyle(net, embedding, steady=steady)
    frames = list(read_video(clip))
    size = working_size(*frames[0].shape[:2], painter.side)
    with torch.inference_mode():
        write_video([painter(f) for f in frames], out, 10)
    write_video([to_frame(to_tensor(f, size)) for f in frames], source, 10)


if __name__ == "__main__":
    main()
