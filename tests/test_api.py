"""The library in three lines: `import inceptionism as inc`, one call, a picture that shows itself and saves with
its recipe; the same bytes as the command line; any nn.Module; errors in Python's words."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import inceptionism as inc
from inceptionism.api import _defaults_of
from inceptionism.cli import main
from inceptionism.configs import DreamConfig, StylizeConfig, VisualizeConfig
from inceptionism.errors import InceptionismError
from inceptionism.io.images import read_metadata
from inceptionism.objectives import Layer, Neuron, objective

QUICK_DREAM = dict(steps=2, octaves=2, progress=False)


def test_import_inceptionism_does_not_import_torch():
    code = "import inceptionism, sys; inceptionism.__version__; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_one_line_functions_have_the_command_lines_defaults():
    for function, config in ((inc.dream, DreamConfig), (inc.visualize, VisualizeConfig),
                             (inc.stylize, StylizeConfig)):
        shared = _defaults_of(function, config)
        assert len(shared) >= 6, function
        assert {k: a for k, (a, _) in shared.items()} == {k: b for k, (_, b) in shared.items()}, function


def test_the_subpackages_are_the_functions_too():
    import inceptionism.dream.loop  # noqa: F401 - importing a subpackage must not hide the function
    import inceptionism.style.gatys  # noqa: F401
    import inceptionism.visualize.render  # noqa: F401
    import inceptionism.models.registry  # noqa: F401

    for name in ("dream", "visualize", "style", "models"):
        function = getattr(inc, name)
        assert callable(function)
        assert name == "models" or "progress" in __import__("inspect").signature(function).parameters


def test_visualize_a_flamingo_saves_with_its_recipe_and_equals_the_command_line(tmp_path, capsys):
    picture = inc.visualize("flamingo", steps=8, size=96, progress=False)
    assert picture.objective[-1] > picture.objective[0]
    assert picture.label == "flamingo" and picture.size == (96, 96)
    ours = picture.save(tmp_path / "f.png")
    assert read_metadata(ours)["class"] == 130
    assert main(["visualize", "--class", "flamingo", "--steps", "8", "--size", "96", "-q",
                 "-o", str(tmp_path / "cli.png")]) == 0
    assert ours.read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert main(["info", str(ours)]) == 0
    assert "class: 130" in capsys.readouterr().out


def test_dream_equals_the_command_line_byte_for_byte(tmp_path):
    picture = inc.dream("skimage:chelsea", "blocks.5:17=0.5", **QUICK_DREAM)
    assert picture.objective[-1] > picture.objective[0]
    picture.save(tmp_path / "py.jpg")
    assert main(["dream", "skimage:chelsea", "--layer", "blocks.5:17=0.5", "--steps", "2", "--octaves", "2", "-q",
                 "-o", str(tmp_path / "cli.jpg")]) == 0
    assert (tmp_path / "py.jpg").read_bytes() == (tmp_path / "cli.jpg").read_bytes()
    # and --from repeats the library's picture
    assert main(["dream", "--from", str(tmp_path / "py.jpg"), "-q", "-o", str(tmp_path / "again.jpg")]) == 0
    assert (tmp_path / "again.jpg").read_bytes() == (tmp_path / "py.jpg").read_bytes()


def test_stylize_equals_the_command_line_for_a_painting_and_a_built_in_style(tmp_path, shared_image):
    painting = shared_image("starry_night.jpg")
    inc.stylize("skimage:coffee", painting=str(painting), progress=False).save(tmp_path / "a.png")
    assert main(["stylize", "skimage:coffee", "--style", str(painting), "-q", "-o", str(tmp_path / "a_cli.png")]) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "a_cli.png").read_bytes()
    inc.stylize("skimage:coffee", style=1, strength=0.5, progress=False).save(tmp_path / "b.png")
    assert main(["stylize", "skimage:coffee", "--style-index", "1", "--strength", "0.5", "-q",
                 "-o", str(tmp_path / "b_cli.png")]) == 0
    assert (tmp_path / "b.png").read_bytes() == (tmp_path / "b_cli.png").read_bytes()


def test_a_style_by_name_and_the_list_of_styles():
    names = inc.styles()
    assert len(names) >= 29 and names[3] == "demo 0"
    by_name = inc.stylize("skimage:coffee", style=names[1], progress=False)
    by_index = inc.stylize("skimage:coffee", style=1, progress=False)
    assert torch.equal(by_name.tensor, by_index.tensor)
    with pytest.raises(InceptionismError, match="no style named 'demo 99'"):
        inc.stylize("skimage:coffee", style="demo 99", progress=False)


def test_pictures_show_themselves_and_convert(tmp_path):
    picture = inc.dream(np.full((48, 64, 3), 128, np.uint8), **QUICK_DREAM)
    png = picture._repr_png_()
    assert png.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(png)).size == (64, 48)
    assert picture.numpy().shape == (48, 64, 3) and picture.numpy().dtype == np.uint8
    assert picture.pil.size == (64, 48) and tuple(picture.tensor.shape) == (1, 3, 48, 64)
    assert "dream" in repr(picture) and picture.recipe["input"] is None
    batch = inc.visualize("blocks.4:3", batch=2, diversity=10.0, steps=4, size=48, progress=False)
    assert isinstance(batch, inc.Pictures) and len(batch) == 2 and batch[1].size == (48, 48)
    assert Image.open(io.BytesIO(batch._repr_png_())).size[0] > 96  # a labelled sheet
    saved = batch.save(tmp_path / "batch.png")
    assert Image.open(saved).size == (48 * 2 + 4, 48)


def test_inputs_as_a_notebook_holds_them_give_the_same_dream():
    from inceptionism.io.images import load_image

    rgb = load_image("skimage:astronaut").rgb[..., :64, :96]
    as_array = (rgb[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    pictures = [inc.dream(x, **QUICK_DREAM) for x in (as_array, Image.fromarray(as_array),
                                                      torch.from_numpy(as_array).permute(2, 0, 1).float() / 255)]
    assert torch.equal(pictures[0].tensor, pictures[1].tensor)
    assert torch.allclose(pictures[0].tensor, pictures[2].tensor, atol=1 / 255)


def test_lucent_tutorial_flows_rise():
    flows = {
        "channel": lambda: inc.visualize("blocks.4:17", steps=12, size=64, progress=False),
        "neuron": lambda: inc.visualize(neuron="blocks.4:17", steps=12, size=64, progress=False),
        "class": lambda: inc.visualize("tennis ball", steps=12, size=64, progress=False),
        "sum and negative": lambda: inc.visualize(Layer("blocks.4", 17) - 0.5 * Neuron("blocks.5", 3), steps=12,
                                                  size=64, progress=False),
        "pixel": lambda: inc.visualize("blocks.4:17", param="pixel", decorrelate=False, steps=12, size=64,
                                       progress=False),
    }
    for name, make in flows.items():
        picture = make()
        assert picture.objective[-1] > picture.objective[0], name

    @objective("blocks.5")
    def contrast(f):
        return f["blocks.5"][:, 3].mean() - f["blocks.5"][:, 7].mean()

    picture = inc.visualize(contrast, steps=12, size=64, progress=False)
    assert picture.objective[-1] > picture.objective[0]
    assert "contrast" in picture.recipe["objective"]


def test_a_torchvision_resnet_and_a_hand_written_cnn():
    import torchvision

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None)
    listed = inc.layers(resnet)
    assert listed[:4] == ["conv1", "bn1", "relu", "maxpool"] and "layer3" in listed and listed[-1] == "fc"
    dreamed = inc.dream("skimage:chelsea", "layer3", model=resnet, **QUICK_DREAM)
    assert dreamed.objective[-1] > dreamed.objective[0] and dreamed.recipe["model"] == "ResNet"
    assert dreamed.recipe["weights"] == "in memory"  # not "pretrained": no file made them
    seen = inc.visualize("layer2.1:5", model=resnet, steps=12, size=64, progress=False)
    assert seen.objective[-1] > seen.objective[0]
    with pytest.raises(InceptionismError, match="has no class names"):
        inc.visualize("flamingo", model=resnet, steps=1, size=64, progress=False)
    named = inc.visualize("flamingo", model=inc.wrap(resnet, categories="imagenet"), steps=12, size=64,
                          progress=False)
    assert named.label == "flamingo" and named.objective[-1] > named.objective[0]
    assert resnet.bn1.training and resnet.conv1.weight.requires_grad  # the caller's module is left as it was

    cnn = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    assert inc.layers(cnn) == [str(i) for i in range(8)]
    dreamed = inc.dream("skimage:chelsea", model=cnn, **QUICK_DREAM)
    assert dreamed.objective[-1] > dreamed.objective[0] and dreamed.recipe["layers"] == ["3"]
    seen = inc.visualize("3:7", model=cnn, steps=12, size=48, progress=False)
    assert seen.objective[-1] > seen.objective[0]
    with pytest.raises(InceptionismError, match="names 3 classes but the module's head"):
        inc.wrap(cnn, categories=["a", "b", "c"])


@pytest.mark.parametrize("call, words", [
    (lambda t: inc.dream(str(t / "missing.jpg"), **QUICK_DREAM), "missing.jpg: no such file"),
    (lambda t: inc.visualize("flamingoo", steps=1), "no class named 'flamingoo' (closest: flamingo"),
    (lambda t: inc.dream("skimage:chelsea", "blocks.44", **QUICK_DREAM), "unknown layer 'blocks.44'"),
    (lambda t: inc.dream(np.zeros((4, 5, 6, 3)), **QUICK_DREAM), "image: an array picture is H,W,3"),
    (lambda t: inc.stylize("skimage:coffee", style=0, strength=-0.5), "strength must be between 0 and 1"),
    (lambda t: inc.visualize("flamingo", diversity=5.0), "give batch=2 or more"),
    (lambda t: inc.dream("skimage:chelsea", model="googlenett"), "unknown model 'googlenett'"),
])
def test_bad_input_is_one_line_in_pythons_words_and_leaves_nothing(tmp_path, call, words):
    with pytest.raises(InceptionismError) as caught:
        call(tmp_path)
    text = str(caught.value)
    assert words in text and "\n" not in text
    assert "--" not in text  # a Python caller is told parameters, never flags
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_says_the_same_error_in_flags(tmp_path, capsys):
    assert main(["visualize", "--class", "flamingo", "--diversity", "5", "-o", str(tmp_path / "x.png")]) == 1
    assert "give --batch 2 or more" in capsys.readouterr().err
    assert main(["dream", "skimage:chelsea", "--layer", "blocks.44", "-o", str(tmp_path / "x.png")]) == 1
    assert "`inceptionism layers --model efficientnet_lite0` lists them all" in capsys.readouterr().err
    with pytest.raises(InceptionismError, match=r"inceptionism.layers\('efficientnet_lite0'\) lists them all"):
        inc.dream("skimage:chelsea", "blocks.44", **QUICK_DREAM)


def test_save_never_overwrites_an_input(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 40, 3), 100, np.uint8)).save(photo)
    before = photo.read_bytes()
    picture = inc.dream(str(photo), **QUICK_DREAM)
    with pytest.raises(InceptionismError, match="input"):
        picture.save(photo)
    assert photo.read_bytes() == before
    with pytest.raises(InceptionismError):
        picture.save(tmp_path / "out.gif")  # a format we do not write: nothing is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_models_classes_and_a_train_dream_model_by_file(tmp_path):
    assert inc.models()[0] == "efficientnet_lite0"
    assert inc.classes()[130] == "flamingo" and len(inc.classes()) == 1000
    assert "blocks.5" in inc.layers() and "features.21" in inc.layers("vgg16")
    with pytest.raises(InceptionismError, match="not a train-dream model"):
        bogus = tmp_path / "x.safetensors"
        bogus.write_bytes(b"not a model")
        inc.layers(str(bogus))
