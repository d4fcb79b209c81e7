"""Feature visualisation: parameterisations, transforms, the render loop, the command and its atlases."""

from __future__ import annotations

import json
import random
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.cli import build_parser, main
from inceptionism.cli.visualize import build_config
from inceptionism.configs import VisualizeConfig
from inceptionism.errors import ConfigError
from inceptionism.objectives import ClassLogit, Diversity, Layer, Neuron
from inceptionism.visualize import param, render, transforms

FAST = ["--size", "64", "--steps", "3", "-q"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- parameterisation ----------------------------------------------------------------
def test_a_fourier_picture_has_a_spectrum_that_falls_with_frequency():
    g = torch.Generator().manual_seed(0)
    _, make = param.fft_image(1, 128, 128, generator=g)
    with torch.no_grad():
        power = torch.fft.rfft2(make()).abs().pow(2).mean(dim=(0, 1))
    freqs = param.rfft2d_freqs(128, 128)
    low = power[(freqs > 0.02) & (freqs < 0.05)].mean()
    mid = power[(freqs > 0.1) & (freqs < 0.15)].mean()
    high = power[freqs > 0.4].mean()
    # amplitude ~ 1/f, so power ~ 1/f^2: each band well below the one before
    assert low > 4 * mid > 16 * high


def test_a_pixel_picture_has_a_flat_spectrum():
    g = torch.Generator().manual_seed(0)
    _, make = param.pixel_image(1, 128, 128, generator=g)
    with torch.no_grad():
        power = torch.fft.rfft2(make()).abs().pow(2).mean(dim=(0, 1))
    freqs = param.rfft2d_freqs(128, 128)
    low = power[(freqs > 0.02) & (freqs < 0.05)].mean()
    high = power[freqs > 0.4].mean()
    assert 0.5 < low / high < 2


def test_the_colour_matrix_is_the_square_root_of_the_colour_covariance_of_photos():
    """Lucid's matrix M is U sqrt(S) of ImageNet's RGB covariance: M M^T is that covariance. Photos of
    the world (skimage's) must share its principal axes: luminance first, by far the largest."""
    from inceptionism.io.images import load_image

    m = param.COLOR_CORRELATION_SVD_SQRT
    cov = m @ m.T
    # M's columns are orthogonal (an SVD's U scaled by sqrt(S)), so M M^T's eigenvectors are M's columns
    gram = m.T @ m
    assert torch.allclose(gram - torch.diag(gram.diagonal()), torch.zeros(3, 3), atol=2e-3)
    values, vectors = torch.linalg.eigh(cov)
    assert torch.allclose(values.flip(0), m.norm(dim=0).pow(2), atol=1e-3)
    pixels = torch.cat([load_image(f"skimage:{n}").rgb.reshape(3, -1) for n in ("chelsea", "astronaut", "coffee")], 1)
    photo_cov = torch.cov(pixels)
    photo_values, photo_vectors = torch.linalg.eigh(photo_cov)
    # the same principal axis (luminance), carrying most of the variance in both
    assert abs(torch.dot(photo_vectors[:, -1], vectors[:, -1])) > 0.95
    assert values[-1] / values.sum() > 0.8 and photo_values[-1] / photo_values.sum() > 0.8


def test_pictures_are_rgb_in_range():
    for kind in ("fft", "pixel"):
        params, make = param.image(kind, 2, 40, 56)
        with torch.no_grad():
            params[0].mul_(1000)  # far out: the sigmoid still keeps it in [0, 1]
            img = make()
        assert img.shape == (2, 3, 40, 56) and 0 <= img.min() and img.max() <= 1


# -- transforms ----------------------------------------------------------------------
def test_transforms_are_fixed_by_the_seed_and_move_the_picture():
    x = torch.rand(1, 3, 64, 64)
    t = transforms.named("standard")
    a, b = t(x, random.Random(3)), t(x, random.Random(3))
    assert torch.equal(a, b)
    c = t(x, random.Random(4))
    assert a.shape != c.shape or not torch.equal(a, c)
    assert torch.equal(transforms.named("none")(x, random.Random(0)), x)
    assert transforms.pad(5)(x, random.Random(0)).shape[-1] == 74
    assert transforms.jitter(8)(x, random.Random(0)).shape[-1] == 57
    with pytest.raises(ConfigError):
        transforms.named("wild")


# -- objectives -----------------------------------------------------------------------
def test_diversity_is_zero_apart_for_identical_pictures_and_rises_as_they_differ():
    same = {"l": torch.ones(2, 4, 5, 5)}
    rng = torch.Generator().manual_seed(0)
    other = {"l": torch.rand(2, 4, 5, 5, generator=rng)}
    other["l"][1, :2] = 0  # the second picture lacks two channels
    d = Diversity("l")
    assert d(same).item() == pytest.approx(-1.0)  # one other picture, cosine 1
    assert d(other).item() > d(same).item()


def test_a_neuron_reads_the_centre_only():
    act = torch.zeros(1, 3, 5, 7)
    act[0, 1, 2, 3] = 4.0
    assert Neuron("l", 1)({"l": act}).item() == 4.0
    act[0, 1, 0, 0] = 100.0
    assert Neuron("l", 1)({"l": act}).item() == 4.0


# -- the render loop -----------------------------------------------------------------
@pytest.mark.parametrize("objective", [ClassLogit(3, "8"), Layer("2", 5), Neuron("2", 5)],
                         ids=["class", "channel", "neuron"])
def test_rendering_raises_the_objective(tiny, objective):
    result = render(tiny, objective, VisualizeConfig(width=48, height=48, steps=25, seed=0, lr=0.5))
    assert result.images.shape == (1, 3, 48, 48)
    first, last = np.mean(result.objective[:3]), np.mean(result.objective[-3:])
    assert last > first + 0.05 * abs(first) + 1e-3


def test_same_seed_same_picture_other_seed_other_picture(tiny):
    config = VisualizeConfig(width=40, height=40, steps=4, seed=7)
    a = render(tiny, ClassLogit(1, "8"), config).images
    b = render(tiny, ClassLogit(1, "8"), config).images
    c = render(tiny, ClassLogit(1, "8"), VisualizeConfig(width=40, height=40, steps=4, seed=8)).images
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_diversity_makes_a_batch_differ(tiny):
    base = dict(width=40, height=40, steps=30, batch=3, seed=0, transforms="none")
    plain = render(tiny, ClassLogit(1, "8"), VisualizeConfig(**base))
    diverse = render(tiny, ClassLogit(1, "8"), VisualizeConfig(**base, diversity=50.0), diversity_at="2")
    with torch.no_grad(), tiny.extractor(["2"]) as extract:
        assert Diversity("2")(extract(diverse.images)).item() > Diversity("2")(extract(plain.images)).item()


def test_config_is_checked():
    for bad in (dict(width=0), dict(steps=-1), dict(lr=0), dict(param="svd"), dict(transforms="all"), dict(batch=0),
                dict(diversity=-1), dict(diversity=1.0, batch=1), dict(precision="fp8")):
        with pytest.raises(ConfigError):
            VisualizeConfig(**bad)


# -- real behaviour, the embedded model ------------------------------------------------
def test_a_class_from_nothing_is_what_the_model_sees(lite0):
    before = render(lite0, ClassLogit(130, "classifier"), VisualizeConfig(width=96, height=96, steps=0)).images
    after = render(lite0, ClassLogit(130, "classifier"), VisualizeConfig(width=96, height=96, steps=60)).images
    with torch.no_grad():
        p0, p1 = lite0(before).softmax(-1)[0, 130].item(), lite0(after).softmax(-1)[0, 130].item()
    assert p0 < 0.05 and p1 > 0.5, (p0, p1)
    u8 = (after * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    assert ((u8 == 0) | (u8 == 255)).float().mean() < 0.05  # not clipped to the bounds
    assert after.std() > 0.05  # not grey


# -- the command -----------------------------------------------------------------------
def test_cli_defaults_equal_dataclass_defaults(tmp_path):
    args = build_parser().parse_args(["visualize", "-o", str(tmp_path / "o.png")])
    assert build_config(args) == VisualizeConfig()
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["visualize"].format_help().split())
    for f in fields(VisualizeConfig):
        if f.name not in ("decorrelate", "height", "diversity", "precision"):  # a flag, one --size, off, shared text
            assert f"(default {f.default}" in text, f.name


def test_visualize_writes_a_picture_with_its_recipe_and_from_repeats_it(capsys, tmp_path):
    out, again = tmp_path / "ball.png", tmp_path / "again.png"
    code, _, err = run(capsys, "visualize", "--class", "tennis ball", "-o", str(out), "--seed", "3", *FAST)
    assert code == 0, err
    code, _, err = run(capsys, "visualize", "--from", str(out), "-o", str(again), "-q")
    assert code == 0, err
    with Image.open(out) as a, Image.open(again) as b:
        assert a.size == (64, 64)
        assert np.array_equal(np.asarray(a), np.asarray(b))
    code, text, _ = run(capsys, "info", str(out))
    assert "class: 852" in text and "config.seed: 3" in text


def test_a_batch_is_written_side_by_side_and_json_reports_it(capsys, tmp_path):
    out = tmp_path / "two.png"
    code, text, err = run(capsys, "visualize", "--neuron", "blocks.4:3", "--layer", "blocks.3:1=-0.5", "--batch", "2",
                          "--diversity", "10", "-o", str(out), "--json", *FAST)
    assert code == 0, err
    doc = json.loads(text)
    assert doc["ok"] and doc["command"] == "visualize"
    assert doc["outputs"][0]["width"] == 64 * 2 + 4 and doc["outputs"][0]["recipe"]["neurons"] == ["blocks.4:3"]


@pytest.mark.parametrize("argv, message", [
    (["--class", "flamingoo"], "closest: flamingo"),
    (["--batch", "1", "--diversity", "5"], "--batch 2 or more"),
    (["--size", "16"], "minimum of 32 px"),
    (["--layer", "blocks.4:5000"], "out of range"),
    (["--neuron", "blocks.4"], "LAYER:CHANNEL"),
    (["--word", "food"], "trained on captions"),
    (["--topic", "1"], "trained on captions"),
    (["--layer", "blocks.44"], "unknown layer"),
    (["--size", "12xq"], "--size takes"),
    (["--atlas", "topics"], "trained on captions"),
    (["--atlas", "blocks.4", "--channels", "0-500"], "out of range"),
    (["--atlas", "classes", "--class", "1"], "leave out"),
    (["--channels", "1-3"], "goes with --atlas"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_one_line_and_nothing_is_written(capsys, tmp_path, argv, message):
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "visualize", "-o", str(out), *argv, "-q")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists() and not (tmp_path / "out.tiles").exists()


def test_a_channel_atlas_resumes_tile_by_tile(capsys, tmp_path):
    out = tmp_path / "atlas.png"
    argv = ["visualize", "--atlas", "blocks.3", "--channels", "0-2", "--columns", "3", "-o", str(out), *FAST]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    tiles = sorted((tmp_path / "atlas.tiles").glob("*.png"))
    assert [t.name for t in tiles] == ["0000-blocks-3-0.png", "0001-blocks-3-1.png", "0002-blocks-3-2.png"]
    with Image.open(out) as sheet:
        assert sheet.width > 3 * 64 and sheet.height > 64
    # again without --resume: refused, nothing touched
    stamp = tiles[0].stat().st_mtime_ns
    code, _, err = run(capsys, *argv)
    assert code == 1 and "--resume" in err
    tiles[2].unlink()
    code, _, err = run(capsys, *argv, "--resume", "--json")
    assert code == 0, err
    assert tiles[0].stat().st_mtime_ns == stamp and tiles[2].is_file()
    # a tile made by another recipe is made again
    code, _, err = run(capsys, *argv[:-1], "--seed", "9", "-q", "--resume")
    assert code == 0 and tiles[0].stat().st_mtime_ns != stamp


def test_a_class_atlas_of_an_imagenet_model_takes_a_list(capsys, tmp_path):
    out = tmp_path / "classes.png"
    code, _, err = run(capsys, "visualize", "--atlas", "classes", "--classes", "flamingo,1", "-o", str(out),
                       "--columns", "1", *FAST)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "classes.tiles").glob("*.png"))
    assert names == ["0000-flamingo.png", "0001-goldfish.png"]
    with Image.open(out) as sheet:
        assert sheet.height > 2 * 64 > sheet.width - 64


# -- the same ideas in a dream -----------------------------------------------------------
def test_preconditioning_whitens_toward_low_frequencies_and_luminance():
    g = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    p = param.precondition(g)
    power = torch.fft.rfft2(p).abs().pow(2).mean(dim=(0, 1))
    freqs = param.rfft2d_freqs(64, 64)
    assert power[(freqs > 0.02) & (freqs < 0.06)].mean() > 10 * power[freqs > 0.4].mean()
    luminance = torch.tensor([1.0, 1.0, 1.0]) / 3 ** 0.5
    share = lambda t: (torch.einsum("c,bchw->bhw", luminance, t).pow(2).sum() / t.pow(2).sum()).item()  # noqa: E731
    assert share(p) > 0.6 > share(g)  # white noise has a third of its energy along luminance


def test_a_dream_toward_a_class_with_transforms_and_decorrelation(lite0, small_cat):
    from inceptionism.dream import DreamConfig, dream

    objective = ClassLogit(130, "classifier")
    config = DreamConfig(steps=6, octaves=2, transforms="standard", decorrelate=True, seed=2)
    a = dream(lite0, small_cat, objective, config)
    b = dream(lite0, small_cat, objective, config)
    plain = dream(lite0, small_cat, objective, DreamConfig(steps=6, octaves=2, seed=2))
    assert torch.equal(a.image, b.image)  # the transforms' draws come from the seed
    assert not torch.equal(a.image, plain.image)
    assert np.mean(a.objective[-3:]) > np.mean(a.objective[:3])
    with torch.no_grad():
        assert lite0(a.image).softmax(-1)[0, 130] > lite0(small_cat).softmax(-1)[0, 130]


def test_dream_takes_the_options_and_records_them(capsys, tmp_path):
    out = tmp_path / "d.png"
    code, _, err = run(capsys, "dream", "skimage:chelsea", "-o", str(out), "--class", "flamingo", "--transforms",
                       "strong", "--decorrelate", "--steps", "2", "--octaves", "1", "-q")
    assert code == 0, err
    code, text, _ = run(capsys, "info", str(out))
    assert "config.transforms: strong" in text and "config.decorrelate: True" in text


def test_lucids_recipe_the_benchmarks_peer_climbs_its_class_with_our_colour_matrix():
    """benchmarks.lucent_recipe (what ours is timed and judged beside) is Lucid's recipe: same colour matrix, and
    its steps raise the class's logit in timm's Lite0."""
    from benchmarks.lucent_recipe import _COLOR, render_class, timm_lite0

    assert torch.allclose(_COLOR, param.COLOR_CORRELATION_NORMALIZED)
    net = timm_lite0()
    start, after = render_class(net, 130, size=64, steps=0), render_class(net, 130, size=64, steps=6)
    assert start.shape == after.shape == (1, 3, 64, 64) and 0 <= after.min() and after.max() <= 1
    with torch.no_grad():
        logits = [net((x - 0.5) / 0.5)[0, 130].item() for x in (start, after)]
    assert logits[1] > logits[0] + 1.0
