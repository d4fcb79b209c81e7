"""The `inceptionism` command on real files: dream, models, layers, info, --from, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.cli import build_parser, main
from inceptionism.cli.options import build_dream_config
from inceptionism.dream import DreamConfig

FAST = ["--steps", "2", "--octaves", "2", "-q"]


@pytest.fixture
def photo(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    arr = (rng.random((64, 96, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "photo.png")
    return tmp_path / "photo.png"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_defaults_equal_dataclass_defaults(tmp_path):
    args = build_parser().parse_args(["dream", "x.png", "-o", str(tmp_path / "o.png")])
    assert build_dream_config(args) == DreamConfig()
    help_text = build_parser()._subparsers._group_actions[0].choices["dream"].format_help()
    help_text = " ".join(help_text.split())
    for f in fields(DreamConfig):
        if f.name not in ("preserve_colors", "decorrelate"):  # on/off flags
            assert f"(default {f.default}" in help_text, f.name


def test_dream_writes_a_dreamed_png_with_its_recipe(capsys, photo, tmp_path):
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "dream", str(photo), "-o", str(out), "--seed", "4", *FAST)
    assert code == 0, err
    with Image.open(out) as im, Image.open(photo) as src:
        assert im.size == src.size
        diff = np.abs(np.asarray(im, dtype=float) - np.asarray(src, dtype=float)).mean()
    assert diff > 2
    code, text, _ = run(capsys, "info", str(out))
    assert code == 0
    assert "model: efficientnet_lite0" in text and "config.seed: 4" in text and "layers: ['blocks.4']" in text


def test_from_reproduces_the_image(capsys, photo, tmp_path):
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    assert run(capsys, "dream", str(photo), "-o", str(first), "--layer", "blocks.3:5=2", *FAST)[0] == 0
    assert run(capsys, "dream", "--from", str(first), "-o", str(again), "-q")[0] == 0
    a, b = (np.asarray(Image.open(p)) for p in (first, again))
    assert np.array_equal(a, b)
    # an option given with --from overrides the stored one
    assert run(capsys, "dream", "--from", str(first), "-o", str(again), "-q", "--seed", "9")[0] == 0
    assert not np.array_equal(a, np.asarray(Image.open(again)))
    # a changed input is pointed out
    Image.open(photo).transpose(Image.FLIP_LEFT_RIGHT).save(photo)
    code, _, err = run(capsys, "dream", "--from", str(first), "-o", str(again), "-q")
    assert code == 0 and "has changed since" in err


def test_several_inputs_into_a_folder_and_other_formats(capsys, photo, tmp_path):
    second = tmp_path / "second.jpg"
    Image.open(photo).save(second)
    code, _, err = run(capsys, "dream", str(photo), str(second), "-o", str(tmp_path / "dreams"), *FAST)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "dreams").iterdir()) == ["photo.png", "second.png"]
    for suffix in (".jpg", ".webp"):
        assert run(capsys, "dream", str(photo), "-o", str(tmp_path / f"o{suffix}"), *FAST)[0] == 0
        assert run(capsys, "info", str(tmp_path / f"o{suffix}"))[0] == 0


def test_noise_guide_and_class(capsys, photo, tmp_path):
    code, _, err = run(capsys, "dream", "--noise", "80x64", "-o", str(tmp_path / "n.png"), "--class", "espresso", *FAST)
    assert code == 0, err
    assert Image.open(tmp_path / "n.png").size == (80, 64)
    code, _, err = run(capsys, "dream", str(photo), "-o", str(tmp_path / "g.png"), "--guide", "skimage:coffee", *FAST)
    assert code == 0, err


def test_models_and_layers(capsys):
    code, text, _ = run(capsys, "models")
    assert code == 0
    assert "efficientnet_lite0  embedded" in text and "googlenet" in text and "vgg19" in text
    code, text, _ = run(capsys, "layers")
    assert code == 0
    assert any(line.startswith("blocks.4 ") and "stage4" in line and "112x14x14" in line for line in text.splitlines())
    code, text, _ = run(capsys, "layers", "--model", "vgg16")
    line = next(line for line in text.splitlines() if line.startswith("features.21 "))
    assert "conv4_3" in line and "512x28x28" in line


@pytest.mark.parametrize("argv, message", [
    (["dream", "{tmp}/missing.png", "-o", "{tmp}/o.png"], "no such file"),
    (["dream", "{photo}", "-o", "{tmp}/nowhere/o.png"], "does not exist"),
    (["dream", "{photo}", "-o", "{tmp}/o.gif"], "unsupported output format"),
    (["dream", "{photo}", "-o", "{photo}"], "overwrite the input"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--model", "nonet"], "unknown model"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--layer", "blocks.44"], "closest"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--layer", "blocks.4:5000"], "out of range"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--layer", "blocks.4:x"], "bad channel"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--steps", "-3"], "steps"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--device", "cuda:7"], "cuda"),
    (["dream", "--noise", "big", "-o", "{tmp}/o.png"], "WIDTHxHEIGHT"),
    (["dream", "-o", "{tmp}/o.png"], "no input"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--weights", "{tmp}/none.pth"], "no such checkpoint"),
    (["dream", "{photo}", "-o", "{tmp}/o.png", "--class", "zzzz"], "no class"),
    (["info", "{photo}"], "no inceptionism metadata"),
])
def test_bad_input_is_one_clear_line(capsys, photo, tmp_path, argv, message):
    argv = [a.format(tmp=tmp_path, photo=photo) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("inceptionism: error:"), err
    assert "Traceback" not in err
    if "-o" in argv:
        target = Path(argv[argv.index("-o") + 1])
        assert target == photo or not target.exists()


def test_main_leaves_the_logging_set_up_as_it_found_it(capsys):
    import logging

    logger = logging.getLogger("inceptionism")
    before = (logger.handlers[:], logger.level, logger.propagate)
    run(capsys, "models")
    assert (logger.handlers[:], logger.level, logger.propagate) == before


def test_usage_errors_are_one_line_with_status_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["dream", "x.png", "-o", "y.png", "--steps", "many"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--steps" in err


def test_the_installed_command_prints_no_traceback(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    proc = subprocess.run([sys.executable, "-m", "inceptionism", "dream", str(tmp_path / "bad.png"), "-o",
                           str(tmp_path / "o.png")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "cannot read image" in proc.stderr


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's read-only /sys")
def test_an_unwritable_destination_is_one_clear_line(capsys, photo):
    code, _, err = run(capsys, "dream", str(photo), "-o", "/sys/kernel/dream.png", *FAST)
    assert code == 1 and "cannot write" in err and len(err.strip().splitlines()) == 1


def test_a_library_warning_is_one_line_of_ours_once(capsys, monkeypatch):
    import importlib
    import warnings

    module = importlib.import_module("inceptionism.cli.main")

    def noisy(args):
        for _ in range(3):
            warnings.warn("something a library says\nover two lines", UserWarning)
        return 0

    parser = build_parser()
    monkeypatch.setattr(module, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["models"].set_defaults(func=noisy)
    assert module.main(["models"]) == 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["inceptionism: warning: something a library says over two lines"]


def test_sweep_takes_every_option_of_the_dream_it_compares(capsys, tmp_path):
    choices = build_parser()._subparsers._group_actions[0].choices
    options = lambda name: {o for a in choices[name]._actions for o in a.option_strings}  # noqa: E731
    # --max-side: a sweep's cells are already made small (--cell)
    missing = options("dream") - options("sweep") - {"--noise", "--from", "--quality", "--resume", "--devices",
                                                     "--max-side"}
    assert not missing, missing
    out = tmp_path / "grid.png"
    code = main(["sweep", "skimage:chelsea", "-o", str(out), "--steps", "1,2", "--octaves", "1", "--fp32", "--seed",
                 "3", "--jitter", "4", "--cell", "48", "-q"])
    assert code == 0
    from inceptionism.io.images import read_metadata

    config = read_metadata(out)["config"]
    assert config["precision"] == "fp32" and config["seed"] == 3 and config["jitter"] == 4


def test_max_side_shrinks_the_input_and_the_recipe_repeats_it(capsys, tmp_path):
    from PIL import Image

    from inceptionism.io.images import read_metadata

    out, again = tmp_path / "small.png", tmp_path / "again.png"
    assert main(["dream", "skimage:chelsea", "-o", str(out), "--max-side", "90", "--steps", "1", "--octaves", "1",
                 "-q"]) == 0
    assert Image.open(out).size == (90, 60) and read_metadata(out)["max_side"] == 90
    assert main(["dream", "--from", str(out), "-o", str(again), "-q"]) == 0
    assert (np.asarray(Image.open(again)) == np.asarray(Image.open(out))).all()
    capsys.readouterr()
    assert main(["dream", "skimage:chelsea", "-o", str(tmp_path / "x.png"), "--max-side", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-side must be at least 16" in err and not (tmp_path / "x.png").exists()


def test_from_reproduces_bit_for_bit_with_the_thread_count_the_recipe_records(tmp_path):
    """The README's reproducibility statement: the same picture across thread counts, the same bits with
    the same count, and ``--from`` computes with the recorded one."""
    import torch
    from PIL import Image

    from inceptionism.io.images import read_metadata

    before = torch.get_num_threads()
    one, again = tmp_path / "one.png", tmp_path / "again.png"
    try:
        torch.set_num_threads(1)
        assert main(["dream", "skimage:chelsea", "-o", str(one), "--max-side", "160", "--steps", "4", "--octaves", "2",
                     "--device", "cpu", "-q"]) == 0
        assert read_metadata(one)["threads"] == 1
        torch.set_num_threads(2)
        assert main(["dream", "--from", str(one), "-o", str(again), "-q"]) == 0
        assert torch.get_num_threads() == 1  # the recipe's count
    finally:
        torch.set_num_threads(before)
    assert (np.asarray(Image.open(again)) == np.asarray(Image.open(one))).all()
