"""Styles where you want them (regions) and how strongly (strength)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.cli import main
from inceptionism.configs import StyleConfig
from inceptionism.io.images import read_metadata
from inceptionism.style import stylize_optimize
from inceptionism.style.gatys import gram
from inceptionism.style.regions import blend_regions, masked_gram, toward_identity


def _stripes(h: int = 96, w: int = 96) -> torch.Tensor:
    y = torch.arange(h)[:, None].expand(h, w)
    red = ((y // 6) % 2).float()
    return torch.stack([red, 0.1 * torch.ones(h, w), 1 - red])[None]


def _dots(h: int = 96, w: int = 96) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    spot = ((((y % 12) - 6) ** 2 + ((x % 12) - 6) ** 2) < 12).float()
    return torch.stack([0.2 + 0.6 * spot, 0.8 * spot + 0.1, 0.1 * torch.ones(h, w)])[None]


def _region_losses(lite0, image: torch.Tensor, masks: list[torch.Tensor], styles: list[torch.Tensor]) -> np.ndarray:
    """losses[r, s]: how far region r of ``image`` is from style s (Gram distance, summed over the style layers)."""
    layers = list(lite0.spec.style_layers or lite0.spec.default_layers)
    with lite0.extractor(layers) as extract, torch.no_grad():
        feats = extract(image)
        targets = [{a: gram(f) for a, f in extract(s).items()} for s in styles]
        out = np.zeros((len(masks), len(styles)))
        for r, m in enumerate(masks):
            for s, t in enumerate(targets):
                for a in layers:
                    mm = torch.nn.functional.adaptive_avg_pool2d(m, feats[a].shape[-2:])
                    out[r, s] += float((masked_gram(feats[a], mm) - t[a]).pow(2).mean() / t[a].pow(2).mean())
    return out


def test_two_regional_styles_each_lower_their_own_regions_loss_more(lite0, small_cat):
    h, w = small_cat.shape[-2:]
    top = torch.zeros(1, 1, h, w)
    top[..., : h // 2, :] = 1
    masks, styles = [top, 1 - top], [_stripes(), _dots()]
    config = StyleConfig(size=144, steps=40, scales=1, init="content")
    result = stylize_optimize(lite0, small_cat, styles, config, regions=masks).image
    before = _region_losses(lite0, small_cat, masks, styles)
    after = _region_losses(lite0, result, masks, styles)
    drop = (before - after) / before  # drop[r, s]: how much region r moved toward style s
    assert drop[0, 0] > drop[1, 0] + 0.1, drop  # the stripes went to the top
    assert drop[1, 1] > drop[0, 1] + 0.1, drop  # the dots to the bottom


def test_what_no_region_covers_keeps_the_content():
    content = torch.rand(1, 3, 40, 60, generator=torch.Generator().manual_seed(0))
    styled = torch.zeros_like(content)
    left = torch.zeros(1, 1, 40, 60)
    left[..., :20] = 1
    out = blend_regions(content, [styled], [left])
    assert torch.equal(out[..., 30:], content[..., 30:])  # bit for bit, past the feathered edge
    assert out[..., :12].abs().max() < 1e-6


def _picture(path: Path, w: int = 120, h: int = 80) -> Path:
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    Image.fromarray((0.7 * base + 0.3 * rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _mask(path: Path, w: int, h: int, x0: int, x1: int) -> Path:
    arr = np.zeros((h, w), np.uint8)
    arr[:, x0:x1] = 255
    Image.fromarray(arr, "L").save(path)
    return path


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def test_stylize_regions_paint_each_region_and_keep_the_rest(tmp_path):
    photo = _picture(tmp_path / "photo.png")
    left, middle = _mask(tmp_path / "left.png", 120, 80, 0, 40), _mask(tmp_path / "mid.png", 240, 160, 80, 160)
    out, one, two = tmp_path / "out.png", tmp_path / "one.png", tmp_path / "two.png"
    assert main(["stylize", str(photo), "--style-index", "0", "--region", str(left), "--style-index", "2",
                 "--region", str(middle), "-o", str(out), "-q"]) == 0
    assert main(["stylize", str(photo), "--style-index", "0", "-o", str(one), "-q"]) == 0
    assert main(["stylize", str(photo), "--style-index", "2", "-o", str(two), "-q"]) == 0
    got, p = _pixels(out), _pixels(photo)
    assert (got[:, 92:] == p[:, 92:]).all()  # uncovered: the photo, bit for bit
    assert np.abs(got[:, :32] - _pixels(one)[:, :32]).mean() < 2  # left: style 0
    assert np.abs(got[:, 48:72] - _pixels(two)[:, 48:72]).mean() < 2  # middle: style 2
    assert np.abs(_pixels(one)[:, :32] - _pixels(two)[:, :32]).mean() > 10  # two styles that differ
    assert len(read_metadata(out)["regions"]) == 2


def test_stylize_regions_with_paintings(tmp_path):
    photo = _picture(tmp_path / "photo.png")
    painting = tmp_path / "painting.png"
    Image.fromarray((_stripes(64, 64)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(painting)
    left = _mask(tmp_path / "left.png", 120, 80, 0, 60)
    out = tmp_path / "out.png"
    assert main(["stylize", str(photo), "--style", str(painting), "--region", str(left), "-o", str(out), "-q"]) == 0
    got, p = _pixels(out), _pixels(photo)
    assert (got[:, 72:] == p[:, 72:]).all() and np.abs(got[:, :48] - p[:, :48]).mean() > 10


@pytest.mark.parametrize("by", ["norms", "fade"])
def test_strength_moves_a_network_from_the_photo_to_the_style(tmp_path, by):
    photo = _picture(tmp_path / "photo.png")
    outputs = {}
    for s in ("0", "0.3", "0.7", "1"):
        out = tmp_path / f"s{s}.png"
        assert main(["stylize", str(photo), "--style-index", "0", "--strength", s, "--strength-by", by,
                     "-o", str(out), "-q"]) == 0
        outputs[s] = _pixels(out)
    to_style = {s: np.abs(o - outputs["1"]).mean() for s, o in outputs.items()}
    assert to_style["0"] > to_style["0.3"] > to_style["0.7"] > 0, to_style
    if by == "fade":
        assert np.abs(outputs["0"] - _pixels(photo)).max() <= 1  # nothing of the style is left
    else:  # the photo's own style: painted, but far nearer the photo's colours than the style's
        assert np.abs(outputs["0"].mean((0, 1)) - _pixels(photo).mean((0, 1))).max() < \
            np.abs(outputs["1"].mean((0, 1)) - _pixels(photo).mean((0, 1))).max()


def test_toward_identity_weakens_the_conditional_norms_of_our_own_network():
    from inceptionism.style.network import StyleNetwork, mix_weights

    torch.manual_seed(0)
    net = StyleNetwork(2, 8, 1)
    with torch.no_grad():
        for m in net.modules():
            if hasattr(m, "scale"):
                m.scale.uniform_(0.2, 3.0)
                m.shift.uniform_(-1, 1)
    assert toward_identity(net, 1.0) is net
    zero = toward_identity(net, 0.0)
    x, mix = torch.rand(1, 3, 32, 32), mix_weights(2, index=1)
    identity = StyleNetwork(2, 8, 1)
    identity.load_state_dict(net.state_dict())
    with torch.no_grad():
        for m in identity.modules():
            if hasattr(m, "scale"):
                m.scale.fill_(1.0)
                m.shift.zero_()
        assert torch.allclose(zero(x, mix), identity(x, mix), atol=1e-6)
        half = toward_identity(net, 0.5)(x, mix)
        assert (half - net(x, mix)).abs().mean() < (identity(x, mix) - net(x, mix)).abs().mean()
    assert min(float(m.scale.min()) for m in net.modules() if hasattr(m, "scale")) >= 0.2  # the original is untouched


@pytest.mark.parametrize("case", ["before-style", "missing", "two", "aspect", "weights", "strength-by", "mixed-nets"])
def test_bad_regions_are_one_line_and_write_nothing(tmp_path, capsys, case):
    photo = _picture(tmp_path / "photo.png")
    painting = _picture(tmp_path / "painting.png", 64, 64)
    left = _mask(tmp_path / "left.png", 120, 80, 0, 60)
    square = _mask(tmp_path / "square.png", 80, 80, 0, 40)
    out = tmp_path / "out.png"
    p, m = str(painting), str(left)
    argv = {
        "before-style": ["style", str(photo), "--region", m, "--style", p],
        "missing": ["style", str(photo), "--style", p, "--region", m, "--style", p],
        "two": ["stylize", str(photo), "--style", p, "--region", m, "--region", m],
        "aspect": ["stylize", str(photo), "--style", p, "--region", str(square)],
        "weights": ["style", str(photo), "--style", p, "--region", m, "--style", p, "--region", m,
                    "--style-weights", "1,2"],
        "strength-by": ["stylize", str(photo), "--style", p, "--strength-by", "fade"],
        "mixed-nets": ["stylize", str(photo), "--style-index", "0", "--region", m, "--style-index", "9", "--region", m],
    }[case]
    capsys.readouterr()
    code = main([*argv, "-o", str(out), "-q", *(["--steps", "1"] if argv[0] == "style" else [])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("inceptionism: error:"), err
    assert not out.exists()
