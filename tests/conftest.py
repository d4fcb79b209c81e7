"""Shared fixtures: a tiny seeded CNN for the algorithms, the embedded model for real behaviour."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from inceptionism.models import ModelSpec, Network, get_model
from inceptionism.models.spec import IMAGENET_MEAN_STD

SHARED_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def _tiny_net(num_classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes),
    )


TINY_SPEC = ModelSpec(
    name="tiny",
    description="a tiny seeded CNN for tests",
    build=_tiny_net,
    load_default=lambda progress=True: _tiny_net().state_dict(),
    weights_status=lambda: "embedded",
    mean_std=IMAGENET_MEAN_STD,
    layers=("0", "2", "4", "8"),
    default_layers=("2",),
    classifier="8",  # the Linear (7 is the Flatten before it)
    num_classes=10,
    aliases={"conv2": "2", "relu3": "5", "logits": "8"},
    min_size=16,
)


@pytest.fixture
def tiny() -> Network:
    return Network(TINY_SPEC, _tiny_net(), categories=tuple(f"class{i}" for i in range(10)), weights="random")


@pytest.fixture(scope="session")
def lite0() -> Network:
    """The embedded default model with its real ImageNet weights."""
    return get_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def chelsea() -> torch.Tensor:
    from inceptionism.io.images import load_image

    return load_image("skimage:chelsea").rgb


@pytest.fixture
def small_cat(chelsea: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.interpolate(chelsea, size=(96, 144), mode="bilinear", antialias=True)


@pytest.fixture
def shared_image():
    def get(name: str) -> Path:
        path = SHARED_IMAGES / name
        if not path.is_file():
            pytest.skip(f"{path} is not here (the shared/ folder is beside the checkout)")
        return path

    return get


@pytest.fixture
def moving_clip():
    """Makes a short clip of a real scene panning sideways (chelsea), with a tone as its sound."""

    def make(path: Path, *, seconds: float = 3, fps: int = 10, audio: bool = True, size: tuple[int, int] = (96, 128),
             step: int = 3) -> Path:
        import subprocess

        import numpy as np

        from inceptionism.io.images import load_image
        from inceptionism.io.video import ffmpeg_exe, write_video

        cat = (load_image("skimage:chelsea").rgb[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        h, w = size
        frames = [np.ascontiguousarray(cat[100:100 + h, 60 + step * i: 60 + w + step * i])
                  for i in range(round(seconds * fps))]
        silent = path.with_name("silent" + path.suffix)
        write_video(frames, silent, fps)
        if audio:
            subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(silent), "-f", "lavfi", "-i",
                            f"sine=frequency=440:duration={seconds}", "-c:v", "copy", "-c:a", "aac", "-shortest",
                            str(path)], check=True)
        else:
            silent.rename(path)
        return path

    return make


# Under pytest-xdist (the default run: two workers), one torch thread a worker and in the processes tests start,
# so the two workers share the two cores instead of four threads fighting over them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("INCEPTIONISM_SKIP_BROWSER") == "1":
            pytest.skip("INCEPTIONISM_SKIP_BROWSER=1: no browser on this machine")
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see the README's test set-up)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


# -- the checkout stays clean ------------------------------------------------------------
_REPO = Path(__file__).resolve().parents[1]


def _git_status() -> set[str] | None:
    """``git status --porcelain`` of the checkout as a set of lines, or None where there is no git or no checkout."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (_REPO / ".git").exists():
        return None
    proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=_REPO, capture_output=True,
                          text=True)
    return set(proc.stdout.splitlines()) if proc.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._git_before = _git_status()


def pytest_sessionfinish(session, exitstatus):
    """A test run that leaves anything new or changed in the checkout fails, naming what it left."""
    before = getattr(session.config, "_git_before", None)
    after = _git_status()
    if before is None or after is None:
        return
    left = sorted(after - before)
    if left:
        import sys

        print(f"\nthe test run left these in the checkout (git status): {left}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
