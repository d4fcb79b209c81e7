"""Animations: zoom loop, movies, resume, video in/out with sound, schedules, sweeps."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.animate.frames import FrameStore
from inceptionism.animate.loop import transform, zoom_loop
from inceptionism.animate.schedule import Schedule, load_keyframes, parse_ramp
from inceptionism.cli import main
from inceptionism.dream import DreamConfig
from inceptionism.errors import ConfigError, OutputError
from inceptionism.io.images import load_image, save_image
from inceptionism.io.video import probe_video, read_video
from inceptionism.objectives import from_addresses


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_sixty_frame_zoom_gif_and_mp4(capsys, tmp_path):
    args = ["skimage:chelsea", "--frames", "60", "--every", "1", "--zoom", "1.04", "--fps", "10", "-q"]
    small = tmp_path / "cat.png"

    img = load_image("skimage:chelsea").rgb
    save_image(torch.nn.functional.interpolate(img, size=(170, 256), mode="area"), small)
    args[0] = str(small)
    code, err = run(capsys, "animate", *args, "-o", str(tmp_path / "zoom.gif"))
    assert code == 0, err
    with Image.open(tmp_path / "zoom.gif") as gif:
        assert gif.n_frames == 60 and gif.size == (256, 170)
        assert gif.info["duration"] == 100  # 10 fps
        gif.seek(59)
        last = np.asarray(gif.convert("RGB"), dtype=float)
    first = np.asarray(Image.open(small).convert("RGB"), dtype=float)
    assert np.abs(last - first).mean() > 20  # sixty frames deep into the zoom, nothing like the start
    # the same frames make an MP4 at once (--resume finds them all)
    code, err = run(capsys, "animate", *args, "--resume", "-o", str(tmp_path / "zoom.mp4"))
    assert code == 0, err
    info = probe_video(tmp_path / "zoom.mp4")
    assert (info.frames, info.size, info.fps) == (60, (256, 170), 10.0)


def test_reverse_and_boomerang_order_the_frames(capsys, tmp_path):
    base = ["--noise", "64x48", "--frames", "3", "--every", "1", "-q", "--fps", "10"]
    assert run(capsys, "animate", *base, "-o", str(tmp_path / "f.gif"))[0] == 0
    frames = [np.asarray(Image.open(tmp_path / "f.gif_frames" / f"frame_0000{i}.png")) for i in (1, 2, 3)]
    assert run(capsys, "animate", *base, "--resume", "--boomerang", "-o", str(tmp_path / "f.webm"))[0] == 0
    assert probe_video(tmp_path / "f.webm").frames == 4  # 1 2 3 2
    assert run(capsys, "animate", *base, "--resume", "--reverse", "-o", str(tmp_path / "f.gif"))[0] == 0
    with Image.open(tmp_path / "f.gif") as gif:
        got = np.asarray(gif.convert("RGB"), dtype=float)
    assert np.abs(got - frames[2]).mean() < np.abs(got - frames[0]).mean()


def test_each_movie_keeps_its_own_frames_folder(capsys, tmp_path):
    """A GIF, then an MP4 with other settings, of the same name: two folders, no refusal."""
    base = ["--noise", "48x40", "--frames", "2", "--every", "1", "-q"]
    assert run(capsys, "animate", *base, "-o", str(tmp_path / "zoom.gif"))[0] == 0
    code, err = run(capsys, "animate", *base, "--zoom", "1.03", "-o", str(tmp_path / "zoom.mp4"))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoom.gif", "zoom.gif_frames", "zoom.mp4", "zoom.mp4_frames"]
    gif = json.loads((tmp_path / "zoom.gif_frames" / "recipe.json").read_text())
    mp4 = json.loads((tmp_path / "zoom.mp4_frames" / "recipe.json").read_text())
    assert gif["schedule"] != mp4["schedule"]
    # --resume toward a third format with the GIF's settings reuses the GIF's frames
    assert run(capsys, "animate", *base, "--resume", "-o", str(tmp_path / "zoom.webm"))[0] == 0
    assert not (tmp_path / "zoom.webm_frames").exists() and probe_video(tmp_path / "zoom.webm").frames == 2


class _Interrupt(Exception):
    pass


def test_resume_after_an_interruption_equals_an_uninterrupted_run(lite0, tmp_path):
    start = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    schedule = Schedule({"zoom": 1.05, "rotate": 1.0, "pan_x": 1.0, "pan_y": 0.0, "step_size": 0.01,
                         "layers": ("blocks.3",)})
    objective = from_addresses(["blocks.3"])
    config = DreamConfig(octaves=1, seed=3)

    def loop(store, callback=None):
        return zoom_loop(lite0, start, schedule, config, frames=6, every=2, store=store,
                         objective_for=lambda layers: objective, callback=callback)

    loop(FrameStore(tmp_path / "whole", {"r": 1}, resume=False))

    def stop_at_three(n, total):
        if n == 3:
            raise _Interrupt

    broken = FrameStore(tmp_path / "broken", {"r": 1}, resume=False)
    with pytest.raises(_Interrupt):
        loop(broken, stop_at_three)
    assert broken.last() == 3
    from inceptionism.io.images import read_metadata

    assert read_metadata(broken.path(2)) == {"r": 1, "frame": 2}
    with pytest.raises(OutputError, match="--resume"):
        FrameStore(tmp_path / "broken", {"r": 1}, resume=False)
    with pytest.raises(ConfigError, match="differ"):
        FrameStore(tmp_path / "broken", {"r": 2}, resume=True)
    loop(FrameStore(tmp_path / "broken", {"r": 1}, resume=True))
    for n in range(1, 7):
        a = np.asarray(Image.open(tmp_path / "whole" / f"frame_{n:05d}.png"))
        b = np.asarray(Image.open(tmp_path / "broken" / f"frame_{n:05d}.png"))
        assert np.array_equal(a, b), n


def test_cli_resume_after_a_killed_run(tmp_path):
    """The real command, killed mid-run, then resumed: same frames as a run never stopped."""
    import os
    import signal
    import sys
    import time

    common = ["--noise", "64x48", "--every", "2", "--frames", "5", "-q"]
    cmd = [sys.executable, "-m", "inceptionism", "animate", *common]
    subprocess.run(cmd + ["-o", str(tmp_path / "whole")], check=True, timeout=300)
    proc = subprocess.Popen(cmd + ["-o", str(tmp_path / "cut")], start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (tmp_path / "cut" / "frame_00002.png").exists():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = sorted(p.name for p in (tmp_path / "cut").glob("frame_*.png"))
    assert 2 <= len(kept) <= 5
    subprocess.run(cmd + ["-o", str(tmp_path / "cut"), "--resume"], check=True, timeout=300)
    for n in range(1, 6):
        name = f"frame_{n:05d}.png"
        assert np.array_equal(np.asarray(Image.open(tmp_path / "whole" / name)),
                              np.asarray(Image.open(tmp_path / "cut" / name))), name


def test_schedule_ramps_switches_and_keyframe_files(tmp_path):
    s = Schedule({"zoom": 1.0, "rotate": 0.0, "pan_x": 0.0, "pan_y": 0.0, "step_size": 0.01, "layers": ("a",)})
    s.set(0, "zoom", 1.02)
    s.set(10, "zoom", 1.08)
    s.set(5, "layers", ["b", "c:3"])
    assert s.at(0).zoom == pytest.approx(1.02) and s.at(5).zoom == pytest.approx(1.05)
    assert s.at(20).zoom == pytest.approx(1.08)
    assert s.at(4).layers == ("a",) and s.at(5).layers == ("b", "c:3") and s.at(9).layers == ("b", "c:3")
    (tmp_path / "k.json").write_text(json.dumps({"0": {"rotate": 0}, "4": {"rotate": 2, "layers": ["d"]}}))
    load_keyframes(tmp_path / "k.json", s)
    assert s.at(2).rotate == pytest.approx(1.0) and s.at(4).layers == ("d",)
    (tmp_path / "k.yaml").write_text("8:\n  pan_x: 4\n")
    load_keyframes(tmp_path / "k.yaml", s)
    assert s.at(4).pan_x == pytest.approx(2.0)
    (tmp_path / "bad.json").write_text('{"x": {"zoom": 1}}')
    with pytest.raises(ConfigError, match="not a frame number"):
        load_keyframes(tmp_path / "bad.json", s)
    with pytest.raises(ConfigError, match="unknown keyframe parameter"):
        s.set(1, "speed", 2)
    assert parse_ramp("1.02:1.08", "zoom") == (1.02, 1.08)
    with pytest.raises(ConfigError):
        parse_ramp("fast", "zoom")


def test_transform_zoom_rotate_pan():
    x = torch.rand(1, 3, 40, 60, generator=torch.Generator().manual_seed(0))
    assert torch.equal(transform(x), x)
    assert torch.allclose(transform(x, rotate=360.0), x, atol=1e-4)
    panned = transform(x, pan=(5.0, 0.0))
    assert torch.allclose(panned[..., 10:30, 10:50], x[..., 10:30, 15:55], atol=1e-4)
    ramp = torch.linspace(0, 1, 60).expand(1, 3, 40, 60).contiguous()
    zoomed = transform(ramp, zoom=2.0)
    centre = (zoomed[0, 0, 20, 29] + zoomed[0, 0, 20, 30]) / 2
    assert centre.item() == pytest.approx(0.5, abs=0.01)  # zooming about the centre keeps it
    slope = (zoomed[0, 0, 20, 40] - zoomed[0, 0, 20, 20]) / 20
    assert slope.item() == pytest.approx(0.5 / 59, rel=0.02)  # and magnifies by two


def test_video_keeps_frames_fps_and_sound(capsys, tmp_path, moving_clip):
    clip = moving_clip(tmp_path / "clip.mp4")
    source = probe_video(clip)
    assert source.has_audio and source.frames == 30
    code, err = run(capsys, "video", str(clip), "-o", str(tmp_path / "dream.mp4"), "--steps", "1", "--octaves", "1",
                    "--blend", "0.5", "--flow", "-q")
    assert code == 0, err
    out = probe_video(tmp_path / "dream.mp4")
    assert (out.frames, out.fps, out.size, out.has_audio) == (30, 10.0, (128, 96), True)
    first_in, first_out = next(read_video(clip)), next(read_video(tmp_path / "dream.mp4"))
    assert np.abs(first_in.astype(float) - first_out.astype(float)).mean() > 3  # dreamed


def test_video_errors(capsys, tmp_path):
    (tmp_path / "not.mp4").write_text("no video here")
    code, err = run(capsys, "video", str(tmp_path / "not.mp4"), "-o", str(tmp_path / "o.mp4"))
    assert code == 1 and "cannot read video" in err and len(err.strip().splitlines()) == 1
    code, err = run(capsys, "video", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4"))
    assert code == 1 and "no such file" in err


def test_sweep_makes_a_labelled_two_by_three_grid(capsys, tmp_path):
    from inceptionism.io.images import read_metadata
    src = tmp_path / "cat.png"

    save_image(torch.nn.functional.interpolate(load_image("skimage:chelsea").rgb, size=(64, 96), mode="area"), src)
    out = tmp_path / "grid.png"
    code, err = run(capsys, "sweep", str(src), "-o", str(out), "--layer", "blocks.2", "--layer", "blocks.5",
                    "--steps", "1,3,6", "--octaves", "1", "--cell", "96", "-q")
    assert code == 0, err
    meta = read_metadata(out)
    assert meta["axes"]["layer"] == ["blocks.2", "blocks.5"] and meta["axes"]["steps"] == [1, 3, 6]
    from scipy import ndimage

    sheet = np.asarray(Image.open(out).convert("RGB"))
    blobs, count = ndimage.label((sheet != 250).any(axis=2))
    boxes = [b for b in ndimage.find_objects(blobs) if (b[0].stop - b[0].start) * (b[1].stop - b[1].start) > 3000]
    assert len(boxes) == 6  # the six pictures; the labels are small glyphs
    assert len({b[0].start for b in boxes}) == 2 and len({b[1].start for b in boxes}) == 3


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_a_movie_carries_its_recipe_and_the_closing_line_says_where_its_frames_are(tmp_path, capsys, suffix):
    from inceptionism.cli import main

    movie = tmp_path / f"zoom{suffix}"
    assert main(["animate", "skimage:chelsea", "-o", str(movie), "--frames", "2", "--every", "1", "--seed", "5"]) == 0
    err = capsys.readouterr().err
    assert f"{movie}_frames" in err and "can be deleted" in err
    assert main(["info", str(movie)]) == 0
    text = capsys.readouterr().out
    assert "command: animate" in text and "frames: 2" in text and "config.seed: 5" in text
