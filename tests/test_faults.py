"""Faults: a full disk while writing, and SIGTERM behaving like Ctrl-C (kept work, one line, resumable)."""

from __future__ import annotations

import errno
import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.cli import main
from inceptionism.io.images import read_metadata

FAST = ["--steps", "2", "--octaves", "1", "-q"]


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


class FullDisk:
    """Let ``room`` files be written, then fail the next writes half-way with ENOSPC."""

    def __init__(self, monkeypatch, room: int):
        self.room, self.calls = room, 0
        original = Path.write_bytes

        def write_bytes(path: Path, data: bytes) -> int:
            if ".part" in path.name:  # our atomic writes' temporary files
                self.calls += 1
                if self.calls > self.room:
                    with open(path, "wb") as f:
                        f.write(data[: len(data) // 2])
                    raise OSError(errno.ENOSPC, "No space left on device")
            return original(path, data)

        monkeypatch.setattr(Path, "write_bytes", write_bytes)


def _no_partials(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if ".part" in p.name], "a temporary file was left behind"
    for p in folder.rglob("*.png"):
        with Image.open(p) as im:
            im.load()  # every file there is whole


def test_a_full_disk_while_dreaming_many_images(photos, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        FullDisk(m, room=2)
        assert main(["dream", str(photos), "-o", str(out), *FAST]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "2 of 4 images are written" in lines[0]
    assert "--resume" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png"]
    _no_partials(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # room again: --resume does the rest, and leaves the finished ones as they were
    assert main(["dream", str(photos), "-o", str(out), "--resume", *FAST[:-1]]) == 0
    assert "2 written, 2 already done (--resume) of 4" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before
    assert len(list(out.iterdir())) == 4


def test_a_full_disk_while_writing_frames(tmp_path, capsys, monkeypatch):
    base = ["animate", "--noise", "48x40", "--frames", "5", "--every", "1", "-q", "-o", str(tmp_path / "zoom.gif")]
    with monkeypatch.context() as m:
        FullDisk(m, room=3)  # three frames fit
        assert main(base) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and "--resume" in err
    frames = tmp_path / "zoom.gif_frames"
    kept = sorted(p.name for p in frames.glob("frame_*.png"))
    assert kept == ["frame_00001.png", "frame_00002.png", "frame_00003.png"] and not (tmp_path / "zoom.gif").exists()
    _no_partials(frames)
    assert main([*base, "--resume"]) == 0
    with Image.open(tmp_path / "zoom.gif") as gif:
        assert gif.n_frames == 5


def _ctrl_c_in_force() -> None:
    """In the child, before it starts: Ctrl-C as a terminal gives it, whatever this suite was started with (a
    background job starts with SIGINT ignored, and a child inherits that: it would ignore the tests' SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: the commands a test started, with whether they lead a process group: none outlives its test
_STARTED: list[tuple[subprocess.Popen, bool]] = []


@pytest.fixture(autouse=True)
def _no_orphans():
    """A test that fails while its command still runs (an endless training) must not leave it running."""
    yield
    while _STARTED:
        proc, group = _STARTED.pop()
        if proc.poll() is None:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait(timeout=60)


def _start(args: list[str], cwd: Path, *, group: bool = False) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "inceptionism", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                            start_new_session=group, preexec_fn=_ctrl_c_in_force)
    _STARTED.append((proc, group))
    return proc


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not condition():
        if proc.poll() is not None:
            raise AssertionError(f"ended early: {proc.stderr.read()}")
        time.sleep(0.05)
    assert condition(), "the run never got that far"


def _terminate(proc: subprocess.Popen, signum: int = signal.SIGTERM, *, group: bool = False) -> str:
    if group:  # the process and its children (data workers) alike, as a terminal or a batch system does
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1 and lines[0].startswith("inceptionism: interrupted"), err
    return lines[0]


def test_sigterm_stops_dream_animate_and_video_keeping_finished_work(photos, tmp_path):
    from inceptionism.io.video import write_video

    out = tmp_path / "dreams"
    proc = _start(["dream", str(photos), "-o", str(out), "--steps", "40", "--octaves", "1", "-q"], tmp_path)
    _wait_for(lambda: out.is_dir() and any(out.glob("*.png")), proc)
    line = _terminate(proc)
    assert "of 4 images are written" in line and "--resume" in line
    _no_partials(out)

    frames = tmp_path / "frames"
    proc = _start(["animate", "--noise", "48x40", "--frames", "200", "--every", "3", "-q", "-o", str(frames)], tmp_path)
    _wait_for(lambda: (frames / "frame_00002.png").exists(), proc)
    line = _terminate(proc)
    assert "frames are kept in" in line and "--resume" in line
    _no_partials(frames)

    clip = tmp_path / "clip.mp4"
    rng = np.random.default_rng(0)
    write_video([(rng.random((32, 48, 3)) * 255).astype(np.uint8) for _ in range(60)], clip, 10)
    vframes = tmp_path / "vframes"
    proc = _start(["video", str(clip), "-o", str(vframes), "--steps", "5", "--octaves", "1", "-q"], tmp_path)
    _wait_for(lambda: (vframes / "frame_00002.png").exists(), proc)
    line = _terminate(proc)
    assert "frames are kept in" in line and "--resume" in line


def test_sigterm_stops_style_with_the_image_so_far_and_resume_finishes_it(tmp_path):
    from inceptionism.io.images import save_image, load_image

    content, style = tmp_path / "c.png", tmp_path / "s.png"
    save_image(load_image("skimage:chelsea").rgb, content)
    save_image(load_image("skimage:coffee").rgb, style)
    out = tmp_path / "out.png"
    args = ["style", str(content), "--style", str(style), "-o", str(out), "--size", "96", "--scales", "1",
            "--steps", "4000", "--save-every", "5", "-q"]
    proc = _start(args, tmp_path)
    _wait_for(lambda: (tmp_path / "out_00005.png").exists(), proc)
    line = _terminate(proc)
    assert "the image so far is in" in line and "--resume" in line
    state = read_metadata(out)["interrupted"]
    assert state["scale"] == 0 and state["step"] >= 5
    # --resume goes on from there: its next snapshot is past the step where it stopped
    following = tmp_path / f"out_{(state['step'] // 5 + 1) * 5:05d}.png"
    proc = _start([*args, "--resume"], tmp_path)
    _wait_for(following.exists, proc)
    _terminate(proc)
    assert read_metadata(out)["interrupted"]["step"] > state["step"]


def _train_style_args(tmp_path: Path, workers: int) -> tuple[list[str], Path]:
    """A tiny endless train-style run (random 40x40 pictures, one style) and the model it writes."""
    from inceptionism.io.images import save_image, load_image

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(data / f"{i}.png")
    save_image(load_image("skimage:coffee").rgb, tmp_path / "s.png")
    model = tmp_path / "m.safetensors"
    return ["train-style", "--style", str(tmp_path / "s.png"), "--data", str(data), "-o", str(model),
            "--image-size", "32", "--batch-size", "2", "--width", "8", "--init", "scratch",
            "--workers", str(workers), "--steps", "100000",
            "--checkpoint-every", "3", "-q"], model


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_whole_group_stops_training_with_data_workers_at_a_checkpoint(tmp_path, signum):
    from inceptionism.style.model_file import read_metadata as model_metadata

    args, model = _train_style_args(tmp_path, workers=2)
    proc = _start(args, tmp_path, group=True)
    _wait_for(model.exists, proc)
    time.sleep(0.5)  # well inside a step
    line = _terminate(proc, signum, group=True)  # the workers get it too: they used to die, and the run with them
    assert "the model and its training state are saved in" in line and "--resume" in line
    assert model_metadata(model)["training"]["step"] >= 3


def test_sigterm_stops_training_at_a_checkpoint_that_resumes(tmp_path):
    from inceptionism.style.model_file import read_metadata as model_metadata

    args, model = _train_style_args(tmp_path, workers=0)
    proc = _start(args, tmp_path)
    _wait_for(model.exists, proc)
    line = _terminate(proc)
    assert "the model and its training state are saved in" in line and "--resume" in line
    step = model_metadata(model)["training"]["step"]
    assert step >= 3
    assert main([*args[:-5], "--steps", str(step + 2), "--checkpoint-every", "0", "--resume", "-q"]) == 0
    assert model_metadata(model)["training"]["step"] == step + 2


def _broken_model_files(folder: Path) -> list[Path]:
    """What a new user hands over as a model file: empty, a picture or text renamed, random bytes, a bad header."""
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 32), (90, 20, 20)).save(jpeg, "JPEG")
    files = {"empty.pth": b"", "picture.pth": jpeg.getvalue(), "text.pth": b"hello world\n",
             "empty.safetensors": b"", "picture.safetensors": jpeg.getvalue(),
             "random.safetensors": bytes(random.Random(0).randrange(256) for _ in range(2000)),
             "short-header.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}",
             "huge-header.safetensors": (10**11).to_bytes(8, "little") + b"{}"}
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def _broken_recipes(folder: Path) -> list[Path]:
    """What ``dream --from`` may be handed: no image, an image without a recipe, damaged or foreign recipes."""
    from inceptionism.io.images import save_image

    made = []
    for name, recipe in {"foreign.png": {"command": "stylize"}, "wrong-kinds.png": {"command": "dream", "layers": 3},
                         "bad-config.png": {"command": "dream", "config": {"steps": "many"}},
                         "bad-range.png": {"command": "dream", "config": {"octave_scale": 0.5}}}.items():
        save_image(torch.rand(1, 3, 16, 16), folder / name, metadata=recipe)
        made.append(folder / name)
    Image.new("RGB", (16, 16)).save(folder / "plain.png")
    (folder / "text.png").write_bytes(b"not a picture")
    png = (folder / "foreign.png").read_bytes()
    (folder / "cut.png").write_bytes(png[: len(png) // 2])
    return made + [folder / "plain.png", folder / "text.png", folder / "cut.png"]


def _broken_captions(folder: Path) -> list[Path]:
    """What ``train-dream`` may be handed as captions: no header, junk, missing images, not objects, not UTF-8."""
    Image.new("RGB", (16, 16)).save(folder / "a.png")
    files = {"no-header.csv": b"a.png,a cat\n", "junk.csv": bytes(range(256)), "missing.csv": b"image,caption\nb.png,a dog\n",
             "list.jsonl": b'["a.png", "a cat"]\n', "latin1.jsonl": '{"image": "a.png", "caption": "caf\u00e9"}'.encode("latin-1"),
             "empty.jsonl": b"", "one.jsonl": b'{"image": "a.png", "caption": "just one"}\n'}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / n for n in files]


def _broken_keyframes(folder: Path) -> list[Path]:
    files = {"list.json": b"[1, 2]", "junk.json": b"{zoom", "binary.json": bytes(range(128, 256)),
             "param.json": b'{"0": {"colour": 1}}', "zero-zoom.json": b'{"3": {"zoom": 0}}',
             "infinite.yaml": b"0: {zoom: .inf}", "frame.yaml": b".inf: {zoom: 1.1}", "layers.json": b'{"0": {"layers": 5}}'}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / n for n in files]


def _broken_videos(folder: Path) -> list[Path]:
    """Empty, text, random bytes, and a real clip cut after its first bytes (a JPEG renamed .mp4 is a real
    one-frame video to ffmpeg, so it is no broken file)."""
    from inceptionism.io.video import write_video

    write_video([np.full((24, 32, 3), 120, np.uint8)] * 4, folder / "whole.mp4", 4)
    clip = (folder / "whole.mp4").read_bytes()
    (folder / "whole.mp4").unlink()
    files = {"empty.mp4": b"", "text.mp4": b"hello\n", "cut.mp4": clip[:200],
             "random.mp4": bytes(random.Random(1).randrange(256) for _ in range(4000))}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / n for n in files]


def _file_commands(tmp_path: Path) -> dict[str, tuple[Callable[[Path], list[Path]], Callable[[Path, Path], list[str]]]]:
    """Each command that takes a file: its corpus of broken files, and its command line for one of them."""
    style = tmp_path / "style.png"
    Image.new("RGB", (32, 32), (20, 90, 200)).save(style)
    data = tmp_path / "photos"
    data.mkdir(exist_ok=True)
    for i in range(2):
        Image.new("RGB", (32, 32), (60 * i, 60, 60)).save(data / f"p{i}.png")

    def resumed(bad: Path, out: Path) -> Path:
        """A broken model where a train-* --resume looks for its model."""
        target = out.with_suffix(".safetensors")
        target.write_bytes(bad.read_bytes())
        return target

    return {
        "dream --weights": (_broken_model_files, lambda bad, out: ["dream", "skimage:coffee", "--weights", str(bad),
                                                                    "--steps", "1", "-o", str(out)]),
        "dream --from": (_broken_recipes, lambda bad, out: ["dream", "--from", str(bad), "--steps", "1", "-o", str(out)]),
        "stylize --model": (_broken_model_files, lambda bad, out: ["stylize", "skimage:coffee", "--model", str(bad),
                                                                    "--style-index", "0", "-o", str(out)]),
        "info": (_broken_model_files, lambda bad, out: ["info", str(bad)]),
        "export": (_broken_model_files, lambda bad, out: ["export", str(bad), "-o", str(out.with_suffix(".onnx"))]),
        "topics": (_broken_model_files, lambda bad, out: ["topics", str(bad)]),
        "web --style-model": (_broken_model_files, lambda bad, out: ["web", "--style-model", str(bad)]),
        "web --dream-model": (_broken_model_files, lambda bad, out: ["web", "--dream-model", str(bad)]),
        "train-dream": (_broken_captions, lambda bad, out: ["train-dream", str(bad), "-o", str(out.with_suffix(".safetensors")),
                                                            "--steps", "1", "-q"]),
        "train-dream --resume": (_broken_model_files, lambda bad, out: [
            "train-dream", str(data.parent / "captions.csv"), "-o", str(resumed(bad, out)), "--resume", "--steps", "1", "-q"]),
        "train-style --resume": (_broken_model_files, lambda bad, out: [
            "train-style", "--style", str(style), "--data", str(data), "-o", str(resumed(bad, out)), "--resume",
            "--steps", "1", "-q"]),
        "animate --keyframes": (_broken_keyframes, lambda bad, out: [
            "animate", "skimage:coffee", "--keyframes", str(bad), "--frames", "4", "--every", "1", "-o",
            str(out.with_suffix(".gif")), "-q"]),
        "video": (_broken_videos, lambda bad, out: ["video", str(bad), "-o", str(out.with_suffix(".mp4")), "-q"]),
    }


def _outputs(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("out*")}


@pytest.mark.parametrize("command", ["dream --weights", "dream --from", "stylize --model", "info", "export", "topics",
                                     "web --style-model", "web --dream-model", "train-dream", "train-dream --resume",
                                     "train-style --resume", "animate --keyframes", "video"])
def test_every_command_answers_a_broken_file_in_one_line_and_writes_nothing(tmp_path, capfd, command):
    from inceptionism.cli import main as run

    corpus, argv_for = _file_commands(tmp_path)[command]
    folder = tmp_path / "broken"
    folder.mkdir()
    if command == "train-dream --resume":
        (tmp_path / "captions.csv").write_text("image,caption\nphotos/p0.png,a cat\nphotos/p1.png,a dog\n")
    for bad in corpus(folder):
        out = tmp_path / "runs" / bad.name / "out.png"
        out.parent.mkdir(parents=True)
        argv = argv_for(bad, out)
        before = _outputs(out.parent)
        capfd.readouterr()
        code = run(argv)
        err = capfd.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1, (command, bad.name, err[-500:])
        assert len(lines) == 1 and lines[0].startswith("inceptionism: error:"), (command, bad.name, err[-800:])
        assert "Traceback" not in err
        assert _outputs(out.parent) == before, (command, bad.name, "an output was written")


def test_a_broken_model_file_is_one_line_from_a_real_process(tmp_path):
    """The same, through the installed command (its interpreter start-up and stderr as a user sees them)."""
    for bad in _broken_model_files(tmp_path)[:3]:
        out = tmp_path / "out.png"
        run = subprocess.run([sys.executable, "-m", "inceptionism", "dream", "skimage:coffee", "--weights", str(bad),
                              "--steps", "1", "-o", str(out)], capture_output=True, text=True, timeout=300)
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert run.returncode == 1 and len(lines) == 1 and lines[0].startswith("inceptionism: error:"), run.stderr[-500:]
        assert not out.exists()
