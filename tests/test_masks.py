"""Dreams where you want them: masks (whole-image and per-layer) and Laplacian-pyramid normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.cli import main
from inceptionism.dream import DreamConfig, dream
from inceptionism.dream.loop import lap_normalize
from inceptionism.io.images import read_metadata
from inceptionism.objectives import build_objective

FAST = ["--steps", "4", "--octaves", "2", "-q"]


@pytest.fixture
def photo(tmp_path, chelsea) -> Path:
    small = torch.nn.functional.interpolate(chelsea, size=(100, 150), mode="bilinear", antialias=True)
    path = tmp_path / "photo.png"
    Image.fromarray((small[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)
    return path


def _mask(path: Path, size: tuple[int, int], fill) -> Path:
    """A mask of ``size`` (w, h): ``fill(x)`` is the grey level (0-255) of column x."""
    w, h = size
    arr = np.array([[fill(x) for x in range(w)]] * h, dtype=np.uint8)
    Image.fromarray(arr, "L").save(path)
    return path


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def test_a_masked_dream_leaves_black_bit_equal_changes_white_and_fades_grey(tmp_path, photo):
    # three bands, at twice the image's size (a mask of another size is resized): black, grey, white
    mask = _mask(tmp_path / "bands.png", (300, 200), lambda x: 0 if x < 100 else (128 if x < 200 else 255))
    out = tmp_path / "out.png"
    assert main(["dream", str(photo), "--mask", str(mask), "-o", str(out), *FAST]) == 0
    before, after = _pixels(photo), _pixels(out)
    change = np.abs(after - before).mean(axis=(0, 2))
    assert (after[:, :48] == before[:, :48]).all()  # black: untouched, bit for bit (away from the resized edge)
    assert change[105:] .mean() > 3  # white: dreamed
    assert 0.2 * change[105:].mean() < change[52:97].mean() < 0.8 * change[105:].mean()  # grey: in between
    assert read_metadata(out)["masks"] == [[-1, str(mask)]]


def test_invert_mask_swaps_the_regions_and_from_repeats_a_masked_dream(tmp_path, photo):
    mask = _mask(tmp_path / "left.png", (150, 100), lambda x: 255 if x < 75 else 0)
    out, again = tmp_path / "out.png", tmp_path / "again.png"
    assert main(["dream", str(photo), "--mask", str(mask), "--invert-mask", "-o", str(out), *FAST]) == 0
    before, after = _pixels(photo), _pixels(out)
    assert (after[:, :70] == before[:, :70]).all() and np.abs(after[:, 80:] - before[:, 80:]).mean() > 3
    assert main(["dream", "--from", str(out), "-o", str(again), "-q"]) == 0
    assert (_pixels(again) == after).all()


def test_per_layer_masks_dream_each_region_with_its_own_layer(lite0, small_cat):
    left = torch.zeros(1, 1, 96, 144)
    left[..., :72] = 1
    config = DreamConfig(steps=6, octaves=1, jitter=0)
    deep, _ = build_objective(lite0, ["blocks.5"])
    shallow, _ = build_objective(lite0, ["blocks.2"])
    both, _ = build_objective(lite0, ["blocks.5", "blocks.2"], masks={0: left, 1: 1 - left})
    change = {name: dream(lite0, small_cat, obj, config).image - small_cat
              for name, obj in (("deep", deep), ("shallow", shallow), ("both", both))}

    def corr(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])

    lhs, rhs = (slice(None), slice(None), slice(None), slice(8, 64)), (slice(None), slice(None), slice(None), slice(80, 136))
    assert corr(change["both"][lhs], change["deep"][lhs]) > corr(change["both"][lhs], change["shallow"][lhs]) + 0.2
    assert corr(change["both"][rhs], change["shallow"][rhs]) > corr(change["both"][rhs], change["deep"][rhs]) + 0.2


def _high_frequency_share(x: torch.Tensor, cutoff: float = 0.25) -> float:
    """The share of ``x``'s spectral energy above ``cutoff`` cycles per pixel (0.5 is Nyquist)."""
    power = torch.fft.rfft2(x.float().mean(1)).abs().pow(2)[0]
    fy = torch.fft.fftfreq(x.shape[-2])[:, None]
    fx = torch.fft.rfftfreq(x.shape[-1])[None]
    return float(power[(fy**2 + fx**2).sqrt() > cutoff].sum() / power.sum())


def test_the_laplacian_normalised_gradient_has_less_high_frequency_energy(lite0, small_cat):
    objective, _ = build_objective(lite0, None)
    x = small_cat.clone().requires_grad_(True)
    with lite0.extractor(objective.addresses()) as extract:
        objective(extract(x)).backward()
    grad = x.grad.detach()
    assert _high_frequency_share(lap_normalize(grad, 4)) < 0.7 * _high_frequency_share(grad)
    plain = dream(lite0, small_cat, objective, DreamConfig(steps=6, octaves=2)).image - small_cat
    lap = dream(lite0, small_cat, objective, DreamConfig(steps=6, octaves=2, lap_norm=4)).image - small_cat
    assert lap.abs().mean() > 0.01  # it still dreams
    assert _high_frequency_share(lap) < 0.6 * _high_frequency_share(plain)


def test_lap_normalize_keeps_shape_and_scale_at_odd_sizes():
    g = torch.randn(1, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    for levels in (1, 4, 12):
        out = lap_normalize(g, levels)
        assert out.shape == g.shape and torch.isfinite(out).all()
    smooth = torch.nn.functional.interpolate(torch.randn(1, 3, 5, 7), size=(37, 53), mode="bicubic")
    assert _high_frequency_share(lap_normalize(g + smooth)) < _high_frequency_share(g + smooth)


def test_masks_work_in_animate_video_and_sweep(tmp_path, photo):
    mask = _mask(tmp_path / "right.png", (150, 100), lambda x: 255 if x >= 75 else 0)
    frames = tmp_path / "frames"
    assert main(["animate", str(photo), "-o", str(frames) + "/", "--frames", "2", "--every", "2", "--zoom", "1",
                 "--mask", str(mask), "-q"]) == 0
    first = _pixels(sorted(frames.glob("*.png"))[0])
    assert (first[:, :70] == _pixels(photo)[:, :70]).all() and np.abs(first[:, 80:] - _pixels(photo)[:, 80:]).mean() > 1
    sheet = tmp_path / "sheet.png"
    assert main(["sweep", str(photo), "-o", str(sheet), "--mask", str(mask), "--steps", "1,2", "--octaves", "1",
                 "-q"]) == 0


def test_a_video_keeps_its_frames_outside_the_mask_even_when_blending(tmp_path, moving_clip):
    from inceptionism.io.video import probe_video, read_video

    clip = moving_clip(tmp_path / "clip.mp4", seconds=0.4, audio=False)
    w, h = probe_video(clip).size
    mask = _mask(tmp_path / "right.png", (w, h), lambda x: 255 if x >= w // 2 else 0)
    out = tmp_path / "dreamed"
    assert main(["video", str(clip), "-o", str(out) + "/", "--mask", str(mask), "--blend", "0.5", *FAST]) == 0
    for frame, path in zip(read_video(clip), sorted(out.glob("*.png"))):
        dreamed = _pixels(path)
        assert (dreamed[:, : w // 2 - 4] == frame[:, : w // 2 - 4]).all()


@pytest.mark.parametrize("case", ["aspect", "black", "not-an-image", "empty", "lap-zero", "two-whole", "animate-layer"])
def test_bad_masks_and_lap_norm_are_one_line_and_write_nothing(tmp_path, photo, capsys, case):
    out = tmp_path / "out.png"
    good = _mask(tmp_path / "good.png", (150, 100), lambda x: 255)
    args = {
        "aspect": ["--mask", str(_mask(tmp_path / "square.png", (100, 100), lambda x: 255))],
        "black": ["--mask", str(_mask(tmp_path / "black.png", (150, 100), lambda x: 0))],
        "not-an-image": ["--mask", str(tmp_path / "text.png")],
        "empty": ["--mask", str(tmp_path / "empty.png")],
        "lap-zero": ["--lap-norm", "0"],
        "two-whole": ["--mask", str(good), "--mask", str(good)],
    }.get(case)
    (tmp_path / "text.png").write_text("not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    capsys.readouterr()
    if case == "animate-layer":
        argv = ["animate", str(photo), "-o", str(tmp_path / "z.gif"), "--layer", "blocks.3", "--mask", str(good), "-q"]
    else:
        argv = ["dream", str(photo), "-o", str(out), *args, *FAST]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "error" in err[0], err
    assert not out.exists() and not (tmp_path / "z.gif").exists()
    if case == "black":
        assert "nothing would change" in err[0]
