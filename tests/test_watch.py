"""Training you can watch: the log CSV, preview sheets, TensorBoard files, curves, and their cost budget."""

from __future__ import annotations

import csv
import json
import sys
import time

import numpy as np
import pytest
from PIL import Image

from inceptionism.cli import main
from inceptionism.errors import ConfigError
from inceptionism.io.images import save_image
from inceptionism.training import TrainStep
from inceptionism.training.watch import Watch, log_path, previews_folder, read_log
from tests.test_style import small
from tests.test_train_dream import SIZE, make_collection

GAP = 6  # the contact sheet's gap between tiles (inceptionism.visualize.atlas)


def _rows(model) -> list[dict[str, str]]:
    with open(log_path(model), newline="") as f:
        return list(csv.DictReader(f))


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def _sheet_tiles(path, columns: int, rows: int, tile: int) -> list[np.ndarray]:
    """The tiles of a contact sheet laid out ``columns`` x ``rows`` with square tiles of ``tile`` pixels."""
    sheet = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    assert sheet.shape[1] == columns * (tile + GAP) + GAP
    row_h = (sheet.shape[0] - GAP) // rows  # title on top: measure rows from the bottom
    top = sheet.shape[0] - GAP - rows * row_h
    out = []
    for r in range(rows):
        for c in range(columns):
            y, x = top + GAP + r * row_h, GAP + c * (tile + GAP)
            out.append(sheet[y:y + tile, x:x + tile])
    return out


def _check_run(model, log_dir, steps: list[int], previews: list[int]) -> None:
    rows = _rows(model)
    assert [int(r["step"]) for r in rows] == steps
    assert all(float(r["loss"]) == float(r["loss"]) and float(r["lr"]) >= 0 and float(r["grad_norm"]) >= 0
               and float(r["seconds"]) > 0 for r in rows)
    assert [float(r["seconds"]) for r in rows] == sorted(float(r["seconds"]) for r in rows)
    assert sorted(p.name for p in previews_folder(model).iterdir()) == [f"step_{s:06d}.png" for s in previews]
    events = _events(log_dir / model.name.removesuffix(".safetensors"))
    assert [e.step for e in events.Scalars("train/loss")] == steps
    assert [e.step for e in events.Images("preview")] == previews
    assert all(e.width > 0 and e.height > 0 for e in events.Images("preview"))


def test_train_style_writes_previews_a_log_and_tensorboard_files_and_resume_appends(tmp_path, capsys):
    data = tmp_path / "photos"
    data.mkdir()
    for name in ("astronaut", "coffee"):
        save_image(small(f"skimage:{name}", (80, 96)), data / f"{name}.png")
    styles = []
    for name in ("rocket", "camera"):
        styles.append(tmp_path / f"{name}.png")
        save_image(small(f"skimage:{name}", (48, 48)), styles[-1])
    out, logs = tmp_path / "two.safetensors", tmp_path / "runs"
    command = ["train-style", "--style", str(styles[0]), "--style", str(styles[1]), "--data", str(data), "-o", str(out),
               "--image-size", "64", "--batch-size", "2", "--workers", "0", "--preview-every", "10",
               "--log-dir", str(logs), "-q"]
    assert main([*command, "--steps", "20"]) == 0
    _check_run(out, logs, list(range(1, 21)), [10, 20])
    rows = _rows(out)
    assert all(float(r["content"]) >= 0 and float(r["style"]) >= 0 and float(r["tv"]) >= 0 for r in rows)
    assert [r["step"] for r in rows if r["val_loss"]] == ["10", "20"]  # measured on the held-out picture
    sheet = previews_folder(out) / "step_000020.png"
    meta = json.loads(Image.open(sheet).text["inceptionism"])
    assert meta["step"] == 20 and meta["command"] == "train-style" and meta["training"]["image_size"] == 64
    assert meta["sheet"] == {"rows": ["astronaut.png", "coffee.png", "chelsea (held out)"],
                             "columns": ["content", "rocket", "camera"]}
    tiles = _sheet_tiles(sheet, 3, 3, 64)
    assert all(t.std() > 0.03 for t in tiles)  # none blank
    for r in range(3):  # each stylisation differs from its content, and the two styles from each other
        content, a, b = tiles[3 * r: 3 * r + 3]
        assert np.abs(a - content).mean() > 0.03 and np.abs(b - content).mean() > 0.03
        assert np.abs(a - b).mean() > 0.01
    assert main([*command, "--steps", "30", "--resume"]) == 0
    _check_run(out, logs, list(range(1, 31)), [10, 20, 30])
    # the log draws as curves, and info says what it holds
    assert main(["info", str(out), "--curves", "-o", str(tmp_path / "curves.png")]) == 0
    curves = np.asarray(Image.open(tmp_path / "curves.png").convert("L"))
    assert curves.shape[1] > 800 and curves.std() > 10
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    said = capsys.readouterr().out
    assert "log: " in said and "30 steps" in said and "3 previews" in said


def test_train_dream_writes_previews_a_log_and_tensorboard_files_and_resume_appends(tmp_path):
    root = make_collection(tmp_path / "photos", captions=None, folders=True, per_kind=6)
    out, logs = tmp_path / "kinds.safetensors", tmp_path / "runs"
    command = ["train-dream", str(root), "-o", str(out), "--image-size", str(SIZE), "--batch-size", "4",
               "--workers", "0", "--val", "0.2", "--preview-every", "10", "--log-dir", str(logs), "-q"]
    assert main([*command, "--steps", "20"]) == 0
    _check_run(out, logs, list(range(1, 21)), [10, 20])
    rows = _rows(out)
    held = [r for r in rows if r["val_accuracy"]]
    assert held and held[-1]["step"] == "20" and 0 <= float(held[-1]["val_accuracy"]) <= 1
    events = _events(logs / "kinds")
    assert "held_out/accuracy" in events.Tags()["scalars"]
    sheet = previews_folder(out) / "step_000010.png"
    meta = json.loads(Image.open(sheet).text["inceptionism"])
    assert meta["sheet"] == {"tiles": ["dots", "moss", "stripes"], "columns": 3}
    tiles = _sheet_tiles(sheet, 3, 1, 128)
    assert all(t.std() > 0.03 for t in tiles)  # a picture in every tile, and three different ones
    assert np.abs(tiles[0] - tiles[1]).mean() > 0.03 and np.abs(tiles[1] - tiles[2]).mean() > 0.03
    assert main([*command, "--steps", "24", "--resume"]) == 0
    _check_run(out, logs, list(range(1, 25)), [10, 20, 24])


def _step(n: int, seconds: float = 0.1) -> TrainStep:
    return TrainStep(n, 10, 1.0 / n, 1e-3, {}, 4.0, {"a": 0.5}, 2.0, seconds)


def test_default_previews_keep_within_the_budget_and_explicit_ones_do_not(tmp_path):
    def slow_preview(step: int):
        time.sleep(0.05)
        return Image.new("RGB", (8, 8), "red"), {"loss": 2.0}

    with Watch(tmp_path / "a.safetensors", steps=10, checkpoint_every=1, terms=("a",), held_out=("val_loss",),
               preview=slow_preview) as watch:
        for n in range(1, 11):
            watch(_step(n))  # 1 s of training in all: one 0.05 s preview is the 5% budget
    assert [p.name for p in watch.previews] == ["step_000001.png"] and watch.skipped_previews == 9
    # a preview estimated to cost more than the budget is not made at all, even the first (a short run)
    with Watch(tmp_path / "e.safetensors", steps=10, checkpoint_every=5, preview=slow_preview,
               preview_cost=lambda: 0.2) as watch:
        for n in range(1, 11):
            watch(_step(n))
    assert watch.previews == [] and watch.skipped_previews == 2
    with Watch(tmp_path / "f.safetensors", steps=10, checkpoint_every=5, preview=slow_preview,
               preview_cost=lambda: 0.01) as watch:
        for n in range(1, 11):
            watch(_step(n))
    assert [p.name for p in watch.previews] == ["step_000005.png"]  # then the real cost (0.05 s) counts
    with Watch(tmp_path / "b.safetensors", steps=10, checkpoint_every=1, preview_every=3, preview=slow_preview) as watch:
        for n in range(1, 11):
            watch(_step(n))
    assert [p.name for p in watch.previews] == ["step_000003.png", "step_000006.png", "step_000009.png",
                                                "step_000010.png"]
    with Watch(tmp_path / "c.safetensors", steps=10, checkpoint_every=1, preview_every=0, preview=slow_preview) as watch:
        for n in range(1, 11):
            watch(_step(n))
    assert watch.previews == [] and not previews_folder(tmp_path / "c.safetensors").exists()
    assert len(read_log(log_path(tmp_path / "c.safetensors"))) == 10


def test_a_failing_preview_does_not_stop_the_run(tmp_path, caplog):
    def broken(step: int):
        raise RuntimeError("out of memory")

    with Watch(tmp_path / "p.safetensors", steps=4, preview_every=2, preview=broken) as watch:
        for n in range(1, 5):
            watch(_step(n))
    assert watch.previews == [] and len(read_log(log_path(tmp_path / "p.safetensors"))) == 4
    assert "the preview failed (out of memory); training goes on" in caplog.text


def test_resuming_drops_the_rows_past_the_checkpoint_and_continues_the_clock(tmp_path):
    model = tmp_path / "m.safetensors"
    with Watch(model, steps=10, terms=("a",)) as watch:
        for n in range(1, 8):  # interrupted after step 7, the last checkpoint at 5
            watch(_step(n))
    before = read_log(log_path(model))
    with Watch(model, steps=10, start_step=5, resume=True, terms=("a",)) as watch:
        for n in range(6, 11):
            watch(_step(n))
    rows = read_log(log_path(model))
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert rows[:5] == before[:5] and rows[5]["seconds"] >= before[4]["seconds"]
    with Watch(model, steps=3) as watch:  # a fresh run (not resumed) starts its own log
        watch(_step(1))
    assert [r["step"] for r in read_log(log_path(model))] == [1]


def test_bad_asks_are_one_line(tmp_path, capsys, monkeypatch):
    model = tmp_path / "none.safetensors"
    model.write_bytes(b"")
    assert main(["info", str(model), "--curves"]) == 1
    assert "no training log" in capsys.readouterr().err
    assert main(["info", str(model), "-o", str(tmp_path / "c.png")]) == 1
    assert "add --curves" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train-style", "--style", "x.png", "--data", "d", "-o", "m.safetensors", "--preview-every", "-1"])
    assert "0 (never) or more" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if TensorBoard were not installed
    with pytest.raises(ConfigError, match=r"pip install 'inceptionism\[tensorboard\]'"):
        Watch(tmp_path / "t.safetensors", steps=1, log_dir=str(tmp_path / "runs"))
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    from inceptionism.training.curves import draw_curves

    with pytest.raises(ConfigError, match=r"pip install 'inceptionism\[plot\]'"):
        draw_curves([{"step": 1, "loss": 1.0}], "t")


def test_held_out_fractions_get_their_own_axis_beside_the_losses():
    pytest.importorskip("matplotlib")
    from inceptionism.training.curves import curves_figure

    rows = [{"step": s, "loss": 3.0 / s} for s in range(1, 41)]
    for s, (loss, accuracy) in {10: (2.4, 0.31), 20: (1.9, 0.52), 40: (1.2, 0.77)}.items():
        rows[s - 1].update(val_loss=loss, val_accuracy=accuracy)
    training, held, fractions = curves_figure(rows, "t").axes
    assert [line.get_label() for line in held.get_lines()] == ["loss"]
    assert [line.get_label() for line in fractions.get_lines()] == ["accuracy (right axis)"]
    assert fractions.get_ylim() == pytest.approx((0, 1.02)) and held.get_ylim()[0] > 1.0  # neither squeezed
    only = curves_figure([{k: v for k, v in r.items() if k != "val_loss"} for r in rows], "t")
    assert len(only.axes) == 2 and only.axes[1].get_ylim() == pytest.approx((0, 1.02))  # no second axis for one kind
