"""Style transfer: optimisation, training, resume, mixing, tiling, ONNX, the commands."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inceptionism.cli import main
from inceptionism.errors import ConfigError, ModelError
from inceptionism.io.images import load_image, save_image
from inceptionism.style import StyleConfig, stylize_optimize
from inceptionism.style.gatys import match_colors, scale_sizes
from inceptionism.style.model_file import describe_style, load_model, read_metadata, stylize_image
from inceptionism.style.network import StyleNetwork, mix_weights
from inceptionism.style.train import TrainConfig, TrainLoss, train


def small(name: str, size=(48, 64)) -> torch.Tensor:
    return F.interpolate(load_image(name).rgb, size=size, mode="bilinear", antialias=True)


@pytest.fixture(scope="module")
def styles():
    return [small("skimage:coffee"), small("skimage:rocket")]


def test_optimisation_lowers_the_loss_and_keeps_the_size(lite0, styles):
    content = small("skimage:chelsea", (60, 90))
    result = stylize_optimize(lite0, content, styles[:1], StyleConfig(size=90, steps=15, scales=1))
    assert result.image.shape == (1, 3, 60, 90)
    assert result.losses[-1] < 0.7 * result.losses[0]
    lbfgs = stylize_optimize(lite0, content, styles[:1], StyleConfig(size=90, steps=4, scales=1, optimizer="lbfgs"))
    assert lbfgs.losses[-1] < lbfgs.losses[0]


def test_blended_styles_and_colour_preservation(lite0, styles):
    content = small("skimage:chelsea", (48, 72))
    config = StyleConfig(size=72, steps=5, scales=1)
    a = stylize_optimize(lite0, content, styles, config, style_weights=[1.0, 0.0]).image
    b = stylize_optimize(lite0, content, styles[:1], config).image
    assert torch.allclose(a, b, atol=1e-5)  # a zero weight leaves that style out
    with pytest.raises(ConfigError):
        stylize_optimize(lite0, content, styles, config, style_weights=[1.0])
    kept = stylize_optimize(lite0, content, styles[:1], StyleConfig(size=72, steps=5, scales=1,
                                                                     preserve_colors="luminance")).image
    assert (kept.mean(dim=(2, 3)) - content.mean(dim=(2, 3))).abs().max() < 0.08
    matched = match_colors(styles[0], content)
    assert torch.allclose(matched.mean(dim=(2, 3)), content.mean(dim=(2, 3)), atol=0.03)


def test_scales_double_up_to_the_size():
    assert scale_sizes(768, 1024, 384, 0, 32) == [(144, 192), (288, 384)]
    assert scale_sizes(768, 1024, 1024, 3, 32) == [(192, 256), (384, 512), (768, 1024)]


@pytest.fixture
def data_folder(tmp_path):
    folder = tmp_path / "data" / "nested"
    folder.mkdir(parents=True)
    for i, name in enumerate(["chelsea", "coffee", "astronaut"]):
        save_image(small(f"skimage:{name}", (64, 64)), folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"not an image")
    return tmp_path / "data"


TINY = dict(image_size=32, batch_size=2, lr=5e-3, width=8, workers=0, init="scratch")


def _infos(styles):
    return [describe_style(f"style{i}", s) for i, s in enumerate(styles)]


def test_training_lowers_the_loss(lite0, styles, data_folder, tmp_path):
    config = TrainConfig(steps=25, **TINY)
    torch.manual_seed(config.seed)
    untrained = StyleNetwork(2, config.width)
    trained = train(lite0, styles, _infos(styles), data_folder, tmp_path / "m.safetensors", config)
    loss = TrainLoss(lite0, [F.interpolate(s, size=(32, 32)) for s in styles], config,
                     lite0.spec.content_layers, lite0.spec.style_layers)
    batch = small("skimage:chelsea", (32, 32)).repeat(2, 1, 1, 1)
    index = torch.tensor([0, 1])
    mix = F.one_hot(index, 2).float()
    with torch.no_grad():
        before = loss(untrained.eval()(batch, mix), batch, index).item()
        after = loss(trained(batch, mix), batch, index).item()
    assert after < 0.8 * before


def test_resume_continues_the_step_count_and_optimiser(lite0, styles, data_folder, tmp_path):
    out = tmp_path / "r.safetensors"
    train(lite0, styles, _infos(styles), data_folder, out, TrainConfig(steps=3, **TINY))
    assert read_metadata(out)["training"]["step"] == 3
    seen = []
    train(lite0, styles, _infos(styles), data_folder, out, TrainConfig(steps=5, **TINY), resume=True,
          callback=lambda s: seen.append(s.step))
    assert seen == [4, 5] and read_metadata(out)["training"]["step"] == 5
    from safetensors.torch import load_file

    from inceptionism.training import state_path

    state = load_file(state_path(out))
    assert any(k.endswith(".exp_avg") for k in state) and float(state["0.step"]) == 5
    with pytest.raises(ConfigError, match="other style"):
        train(lite0, styles[::-1], _infos(styles[::-1]), data_folder, out, TrainConfig(steps=6, **TINY), resume=True)
    with pytest.raises(ConfigError, match="another loss.*content blocks.2; style bn1,blocks.1,blocks.2,blocks.3"):
        train(lite0, styles, _infos(styles), data_folder, out, TrainConfig(steps=6, style_layers=("bn1",), **TINY),
              resume=True)


def test_the_loader_reads_folders_recursively_and_skips_broken_files(data_folder, caplog):
    from inceptionism.style.train import ContentCrops

    dataset = ContentCrops(data_folder, 32)
    assert len(dataset) == 4
    broken = next(i for i, p in enumerate(dataset.files) if p.name == "broken.jpg")
    item = dataset[broken]
    assert item.shape == (3, 32, 32) and "skipping unreadable training image" in caplog.text


def test_flat_crops_are_drawn_again_because_their_gradient_overflows(tmp_path, monkeypatch):
    from inceptionism.style.train import ContentCrops

    # through every instance norm a flat picture's gradient is multiplied by 1/sqrt(eps) (a trained network: NaN)
    net = StyleNetwork(2, 8)

    def largest_gradient(image):
        net.zero_grad()
        (net(image, mix_weights(2, index=0)) * torch.linspace(0, 1, 32)).sum().backward()
        return max(float(p.grad.abs().max()) for p in net.parameters())

    assert largest_gradient(torch.full((1, 3, 32, 32), 0.5)) > 1e10 * largest_gradient(torch.rand(1, 3, 32, 32))
    page = np.full((96, 96, 3), 255, np.uint8)
    page[:40, :40] = np.random.default_rng(0).integers(0, 256, (40, 40, 3))  # a white page, texture in a corner
    page = Image.fromarray(page)
    page.save(tmp_path / "page.png")
    blank = Image.fromarray(np.full((64, 64, 3), 90, np.uint8))
    dataset = ContentCrops(tmp_path, 32)  # (sample() takes the decoded picture)
    crops = [dataset.sample(0, page, random.Random(seed)) for seed in range(60)]
    assert min(float(c.std()) for c in crops) >= ContentCrops.FLAT_STD
    flat = dataset.sample(0, blank, random.Random(0))  # flat all over: still a crop
    assert flat.shape == (3, 32, 32) and float(flat.std()) == 0.0
    monkeypatch.setattr(ContentCrops, "FLAT_TRIES", 1)  # (as before: this page gives flat crops)
    assert any(float(dataset.sample(0, page, random.Random(seed)).std()) < ContentCrops.FLAT_STD for seed in range(60))


def test_a_one_hot_mix_is_that_style_and_mixes_differ(tmp_path):
    net = StyleNetwork(3, 8).eval()
    for p in net.parameters():  # distinct styles
        p.data.normal_(0, 0.5) if p.ndim == 2 else None
    x = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        one_hot = net(x, mix_weights(3, mix=[0.0, 1.0, 0.0]))
        by_index = net(x, mix_weights(3, index=1))
        mixed = net(x, mix_weights(3, mix=[1.0, 1.0, 0.0]))
    assert torch.equal(one_hot, by_index) and one_hot.shape == x.shape
    assert (mixed - by_index).abs().mean() > 1e-3
    with pytest.raises(ConfigError, match="out of range"):
        mix_weights(3, index=3)
    with pytest.raises(ConfigError, match="3 styles"):
        mix_weights(3, mix=[1.0, 1.0])


def test_tiled_stylisation_matches_untiled_closely():
    torch.manual_seed(0)
    net = StyleNetwork(1, 8).eval()
    x = F.interpolate(load_image("skimage:chelsea").rgb, size=(150, 225), mode="bilinear", antialias=True)
    mix = mix_weights(1, index=0)
    whole = stylize_image(net, x, mix, tile=None)
    assert torch.equal(stylize_image(net, x, mix, tile=256), whole)  # fits in one tile: the same
    tiled = stylize_image(net, x, mix, tile=96, overlap=32)
    assert tiled.shape == whole.shape and torch.isfinite(tiled).all()
    # close to the untiled result (the rest is each tile's narrower context at its borders) ...
    assert (tiled - whole).abs().mean() < 0.06
    # ... and no tile's tone off: mean colours of 25 px blocks agree
    assert (F.avg_pool2d(tiled, 25) - F.avg_pool2d(whole, 25)).abs().mean() < 0.02


def test_onnx_export_matches_pytorch(styles, tmp_path):
    pytest.importorskip("onnxruntime")
    from inceptionism.style.export import export_onnx
    from inceptionism.style.model_file import save_model

    torch.manual_seed(0)
    save_model(tmp_path / "m.safetensors", StyleNetwork(2, 8), _infos(styles), {"step": 0})
    check = export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    assert check.max_abs_error < 1e-3 and (tmp_path / "m.onnx").stat().st_size > 10_000


def test_style_train_stylize_info_export_commands(capsys, styles, data_folder, tmp_path):
    for i, s in enumerate(styles):
        save_image(s, tmp_path / f"s{i}.png")
    content = tmp_path / "c.png"
    save_image(small("skimage:chelsea", (40, 60)), content)
    code = main(["style", str(content), "--style", str(tmp_path / "s0.png"), "--style", str(tmp_path / "s1.png"),
                 "--style-weights", "0.7,0.3", "--size", "60", "--steps", "3", "-o", str(tmp_path / "o.png"), "-q"])
    assert code == 0 and Image.open(tmp_path / "o.png").size == (60, 40)
    model = tmp_path / "m.safetensors"
    code = main(["train-style", "--style", str(tmp_path / "s0.png"), "--style", str(tmp_path / "s1.png"), "--data",
                 str(data_folder), "-o", str(model), "--steps", "2", "--image-size", "32", "--batch-size", "2",
                 "--width", "8", "--init", "scratch", "--workers", "0", "-q"])
    assert code == 0
    training = read_metadata(model)["training"]
    assert training["style_layers"] == ["bn1", "blocks.1", "blocks.2", "blocks.3"] and training["clip_grad"] == 10.0
    # the loss layers and clipping are part of the recipe, recorded for the benchmark to rebuild the same loss
    layers_model = tmp_path / "l.safetensors"
    code = main(["train-style", "--style", str(tmp_path / "s0.png"), "--data", str(data_folder), "-o", str(layers_model),
                 "--steps", "1", "--image-size", "32", "--batch-size", "2", "--width", "8", "--init", "scratch",
                 "--workers", "0",
                 "--style-layers", "bn1, blocks.1", "--clip-grad", "0", "-q"])
    assert code == 0
    training = read_metadata(layers_model)["training"]
    assert training["style_layers"] == ["bn1", "blocks.1"] and training["content_layers"] == ["blocks.2"]
    assert training["clip_grad"] is None
    assert TrainConfig.from_dict(training).style_layers == ("bn1", "blocks.1")
    code = main(["stylize", str(content), "--model", str(model), "--mix", "1,1", "-o", str(tmp_path / "st.png"), "-q"])
    assert code == 0 and Image.open(tmp_path / "st.png").size == (60, 40)
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "2 styles" in text and "style 0: s0" in text and "trained: 2 of 2 steps" in text
    # bad input: one line, non-zero
    for argv, message in [
        (["stylize", str(content), "--model", str(model), "--style-index", "5", "-o", str(tmp_path / "x.png")], "out of range"),
        (["stylize", str(content), "--model", str(content), "--style-index", "0", "-o", str(tmp_path / "x.png")], "not a readable .safetensors file"),
        (["style", str(content), "--style", str(content), "--style-weights", "1,2", "-o", str(tmp_path / "x.png")], "2 values for 1"),
        (["train-style", "--style", str(content), "--data", str(tmp_path / "nope"), "-o", str(tmp_path / "n.safetensors")], "no such folder"),
        (["train-style", "--style", str(content), "--data", str(data_folder), "-o", str(model)], "--resume"),
        (["train-style", "--style", str(content), "--data", str(data_folder), "-o", str(tmp_path / "n.safetensors"),
          "--style-layers", "blocks.99"], "unknown layer"),
        (["train-style", "--style", str(content), "--data", str(data_folder), "-o", str(tmp_path / "n.safetensors"),
          "--clip-grad", "-1"], "clip_grad must be positive"),
    ]:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(ModelError):
        load_model(tmp_path / "missing.safetensors")


def test_the_quality_benchmark_scores_a_model_against_optimisation(styles, data_folder, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    for i, s in enumerate(styles):
        save_image(s, tmp_path / f"s{i}.png")
    model = tmp_path / "m.safetensors"
    assert main(["train-style", "--style", str(tmp_path / "s0.png"), "--style", str(tmp_path / "s1.png"), "--data",
                 str(data_folder), "-o", str(model), "--steps", "1", "--image-size", "32", "--batch-size", "2",
                 "--width", "8", "--init", "scratch", "--workers", "0", "--style-layers", "bn1,blocks.1", "-q"]) == 0
    root = Path(__file__).resolve().parents[1]
    run = [sys.executable, "-m", "benchmarks.style_quality", "--model", str(model), "--styles-dir", str(tmp_path),
           "--content", "skimage:chelsea", "--size", "48", "--iterations", "4"]
    out = subprocess.run(run, cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "style bn1,blocks.1;" in out.stdout  # the loss the model was trained with, from its metadata
    rows = [line for line in out.stdout.splitlines() if line.startswith("chelsea")]
    assert len(rows) == 2 and "fast_vs_opt_iterations: " in out.stdout and "style_separation_ratio: " in out.stdout
    # a network trained one step is no better than one iteration of optimisation, and its styles barely differ
    assert "fast_vs_opt_iterations: 1\n" in out.stdout
    assert float(out.stdout.split("style_separation_ratio: ")[1]) < 0.2
    other = subprocess.run(run + ["--style-layers", "bn1"], cwd=root, capture_output=True, text=True, timeout=300)
    assert other.returncode == 0 and "style bn1;" in other.stdout, other.stderr


def test_half_precision_export_is_half_the_size_and_stylises_alike(capsys, styles, tmp_path):
    from inceptionism.style.model_file import save_model

    torch.manual_seed(0)
    full = tmp_path / "m.safetensors"
    save_model(full, StyleNetwork(2, 8), _infos(styles), {"step": 0})
    assert main(["export", str(full), "-o", str(tmp_path / "h.safetensors")]) == 0
    assert "half precision" in capsys.readouterr().out
    assert (tmp_path / "h.safetensors").stat().st_size < 0.6 * full.stat().st_size
    net, meta = load_model(tmp_path / "h.safetensors")
    assert next(net.parameters()).dtype == torch.float32 and len(meta["styles"]) == 2
    x, mix = torch.rand(1, 3, 40, 50), mix_weights(2, index=1)
    assert (net(x, mix) - load_model(full)[0](x, mix)).abs().max() < 2 / 255
    assert main(["export", str(full), "-o", str(full)]) == 1  # never over its source
    assert "overwrite" in capsys.readouterr().err


def test_the_shipped_model_stylises_with_no_model_option(capsys, tmp_path):
    from inceptionism.style.shipped import shipped_model_path

    meta = load_model(shipped_model_path())[1]
    assert len(meta["styles"]) >= 3
    assert main(["styles"]) == 0
    listing = capsys.readouterr().out
    assert all(s["name"] in listing for s in meta["styles"])
    content = tmp_path / "c.png"
    save_image(small("skimage:chelsea", (60, 90)), content)
    outs = []
    for index in (0, 1):
        out = tmp_path / f"s{index}.png"
        assert main(["stylize", str(content), "--style-index", str(index), "-o", str(out), "-q"]) == 0
        outs.append(np.asarray(Image.open(out).convert("RGB"), dtype=float))
    before = np.asarray(Image.open(content).convert("RGB"), dtype=float)
    assert outs[0].shape == before.shape
    # a painting's look, not the photo; and each style its own
    assert np.abs(outs[0] - before).mean() > 15 and np.abs(outs[0] - outs[1]).mean() > 10
