"""Many items on Ray: the same bytes as the sequential run, bad items reported, dead workers retried, resume."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.cli import main

ray = pytest.importorskip("ray")

FAST = ["--steps", "2", "--octaves", "1", "-q"]


@pytest.fixture(scope="module")
def local_ray():
    import logging

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        arr = (rng.random((40 + 4 * i, 56, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / ("more" if i % 2 else ".") / f"p{i}.png")
    return folder


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


@pytest.fixture
def one_thread():
    """Ray workers use as many torch threads as their CPUs (1 here); the sequential run must too to match bit for bit."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_without_ray_the_option_says_how_to_install(monkeypatch, capsys, photos, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["dream", str(photos), "-o", str(tmp_path / "out"), "--ray", *FAST]) == 1
    err = capsys.readouterr().err
    assert "pip install 'inceptionism[cluster]'" in err and len(err.strip().splitlines()) == 1


def test_dream_on_ray_equals_the_sequential_run_and_reports_bad_items(local_ray, one_thread, capsys, photos, tmp_path):
    assert main(["dream", str(photos), "-o", str(tmp_path / "seq"), *FAST]) == 0
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    code = main(["dream", str(photos), "-o", str(tmp_path / "ray"), "--ray", "--ray-workers", "2", *FAST])
    err = capsys.readouterr().err
    assert code == 1 and "broken.png: cannot read image" in err and "4 written, 1 failed of 5" in err
    sequential, spread = _outputs(tmp_path / "seq"), _outputs(tmp_path / "ray")
    assert sorted(spread) == ["more/p1.png", "more/p3.png", "p0.png", "p2.png"]
    assert spread == sequential  # bit for bit
    # --resume skips what is done with this recipe, and redoes what another recipe made
    (tmp_path / "ray" / "p2.png").unlink()
    code = main(["dream", str(photos), "-o", str(tmp_path / "ray"), "--ray", "--resume", *FAST[:-1]])
    err = capsys.readouterr().err
    assert "1 written, 3 already done (--resume), 1 failed of 5" in err
    assert _outputs(tmp_path / "ray") == sequential
    code = main(["dream", str(photos), "-o", str(tmp_path / "ray"), "--resume", "--steps", "3", "--octaves", "1"])
    assert "4 written, 1 failed of 5" in capsys.readouterr().err


def test_stylize_sweep_and_video_on_ray(local_ray, one_thread, capsys, photos, tmp_path):
    from inceptionism.io.video import write_video
    from inceptionism.style.model_file import describe_style, save_model
    from inceptionism.style.network import StyleNetwork

    torch.manual_seed(0)
    model = tmp_path / "m.safetensors"
    save_model(model, StyleNetwork(2, 8), [describe_style(f"s{i}", torch.rand(1, 3, 16, 16)) for i in range(2)],
               {"step": 0})
    base = ["stylize", str(photos), "--model", str(model), "--mix", "0.3,0.7", "-q"]
    assert main([*base, "-o", str(tmp_path / "st-seq")]) == 0
    assert main([*base, "-o", str(tmp_path / "st-ray"), "--ray"]) == 0
    assert _outputs(tmp_path / "st-ray") == _outputs(tmp_path / "st-seq") and len(_outputs(tmp_path / "st-ray")) == 4

    image = photos / "p0.png"
    base = ["sweep", str(image), "--steps", "1,2", "--octaves", "1", "--layer", "blocks.2", "--layer", "blocks.3", "-q"]
    assert main([*base, "-o", str(tmp_path / "seq.png")]) == 0
    assert main([*base, "-o", str(tmp_path / "ray.png"), "--ray"]) == 0
    assert (tmp_path / "seq.png").read_bytes() == (tmp_path / "ray.png").read_bytes()

    clip = tmp_path / "clip.mp4"
    rng = np.random.default_rng(1)
    write_video([(rng.random((32, 48, 3)) * 255).astype(np.uint8) for _ in range(5)], clip, 5)
    base = ["video", str(clip), "--steps", "1", "--octaves", "1", "-q"]
    assert main([*base, "-o", str(tmp_path / "seq-frames")]) == 0
    assert main([*base, "-o", str(tmp_path / "ray-frames"), "--ray"]) == 0
    seq, spread = _outputs(tmp_path / "seq-frames"), _outputs(tmp_path / "ray-frames")
    assert len(spread) == 5 and spread == seq
    capsys.readouterr()
    assert main([*base, "--blend", "0.5", "-o", str(tmp_path / "b"), "--ray"]) == 1
    assert "previous dream" in capsys.readouterr().err


class _FlakyRunner:
    """Kills its own process on item 'boom': once (a marker file remembers), or every time."""

    def __init__(self, marker: str, always: bool):
        self.marker, self.always = marker, always

    def run(self, key, payload):
        if key == "boom" and (self.always or not os.path.exists(self.marker)):
            Path(self.marker).touch()
            os._exit(1)
        return f"{key}:{payload}"


class _FlakyJob:
    def __init__(self, marker: str, always: bool = False):
        self.marker, self.always = marker, always

    def setup(self):
        return _FlakyRunner(self.marker, self.always)


@pytest.mark.parametrize("always", [False, True])
def test_a_dead_worker_is_restarted_and_its_items_retried(local_ray, tmp_path, always):
    import ray.cloudpickle

    from inceptionism import cluster

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    connection = cluster.connect(None)
    results = {}
    items = [(k, (lambda k: lambda: k.upper())(k)) for k in ("a", "b", "boom", "c", "d")]
    summary = cluster.run_items(_FlakyJob(str(tmp_path / "died"), always), items,
                                lambda status, key, value: results.setdefault(key, (status, value)),
                                connection=connection, workers=2, max_retries=1)
    assert (tmp_path / "died").exists()  # a worker really died
    assert {k: v for k, v in results.items() if k != "boom"} == {k: ("ok", f"{k}:{k.upper()}") for k in "abcd"}
    if always:
        assert results["boom"][0] == "error" and "died" in results["boom"][1] and summary.done == 4
    else:
        assert results["boom"] == ("ok", "boom:BOOM") and summary.done == 5
