"""Compute precision: bfloat16 where the CPU has it, and results that keep their quality.

These are CPU tests. bfloat16 arithmetic is exact to the format on any CPU (emulated
where there are no bfloat16 instructions), so the quality checks run everywhere;
what ``auto`` picks depends on the CPU and is checked with the detection forced.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from inceptionism.configs import DreamConfig, StyleConfig
from inceptionism.dream import dream
from inceptionism.errors import ConfigError
from inceptionism.models import get_model
from inceptionism.objectives import from_addresses
from inceptionism.precision import ENV_CPU_BF16, autocast_dtype, cpu_has_bf16, resolve_precision


def test_auto_means_bf16_only_where_the_cpu_computes_it(monkeypatch):
    monkeypatch.setenv(ENV_CPU_BF16, "0")
    assert resolve_precision("auto", "cpu") == "fp32" and autocast_dtype("auto", "cpu") is None
    monkeypatch.setenv(ENV_CPU_BF16, "1")
    assert resolve_precision("auto", "cpu") == "bf16" and autocast_dtype("auto", "cpu") is torch.bfloat16
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.delenv(ENV_CPU_BF16)
    flags = open("/proc/cpuinfo").read() if sys.platform == "linux" else ""
    if sys.platform == "linux" and torch.backends.mkldnn.is_available():
        # detected, not guessed: the kernel's flags agree
        assert cpu_has_bf16() == (" avx512_bf16" in flags or " amx_bf16" in flags)
    with pytest.raises(ConfigError, match="precision must be one of"):
        DreamConfig(precision="fp16")


def _input_gradient(network, image, layer, dtype):
    objective = from_addresses([layer])
    objective.prepare(network)
    x = image.clone().requires_grad_(True)
    with network.extractor(objective.addresses()) as extract, \
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
        value = objective(extract(x))
    (grad,) = torch.autograd.grad(value, x)
    assert grad.dtype == torch.float32  # the image and its gradient stay float32
    return grad.flatten()


def test_the_bf16_input_gradient_points_where_the_fp32_one_does(small_cat):
    """A VGG-shaped network (torchvision's VGG16, untrained) through its fused 3x3 convolutions."""
    network, layer = get_model("vgg16", weights="random"), "relu3_3"
    image = F.interpolate(small_cat, size=(64, 96), mode="bilinear", antialias=True)
    fp32 = _input_gradient(network, image, layer, None)
    bf16 = _input_gradient(network, image, layer, torch.bfloat16)
    assert F.cosine_similarity(fp32, bf16, dim=0).item() >= 0.97


def test_auto_keeps_fp32_for_the_embedded_model_whose_bf16_gradient_strays(lite0, small_cat, monkeypatch):
    """EfficientNet-Lite0 in bfloat16: the input gradient turns too far (the README's figures), so auto keeps float32."""
    monkeypatch.setenv(ENV_CPU_BF16, "1")
    assert resolve_precision("auto", "cpu", lite0.spec) == "fp32"
    assert resolve_precision("auto", "cpu", get_model("vgg16", weights="random").spec) == "bf16"
    assert resolve_precision("bf16", "cpu", lite0.spec) == "bf16"  # asked for, it is given
    fp32 = _input_gradient(lite0, small_cat, "blocks.4", None)
    bf16 = _input_gradient(lite0, small_cat, "blocks.4", torch.bfloat16)
    assert 0.8 < F.cosine_similarity(fp32, bf16, dim=0).item() < 0.97


def test_a_bf16_dream_rises_as_the_fp32_one_does(lite0, small_cat):
    objective = from_addresses(["blocks.3"])
    runs = {}
    for precision in ("fp32", "bf16"):
        result = dream(lite0, small_cat, objective, DreamConfig(steps=6, octaves=2, precision=precision))
        assert result.precision == precision
        runs[precision] = result.objective
    for values in runs.values():
        assert values[-1] > 1.3 * values[0]
    assert runs["bf16"][-1] == pytest.approx(runs["fp32"][-1], rel=0.1)


def test_gatys_in_bf16_reaches_the_fp32_loss(lite0, small_cat):
    from inceptionism.style import stylize_optimize

    style = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    losses = {}
    for precision in ("fp32", "bf16"):
        config = StyleConfig(size=96, steps=25, scales=1, precision=precision)
        losses[precision] = stylize_optimize(lite0, small_cat, [style], config).losses
    assert losses["fp32"][-1] < 0.7 * losses["fp32"][0]
    assert losses["bf16"][-1] == pytest.approx(losses["fp32"][-1], rel=0.05)


def test_a_short_style_training_in_bf16_reaches_the_fp32_loss(lite0, small_cat):
    from inceptionism.configs import TrainConfig
    from inceptionism.style.network import StyleNetwork
    from inceptionism.style.train import TrainLoss

    config = TrainConfig(image_size=64, batch_size=2)
    styles = [torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    batch = F.interpolate(small_cat, size=(64, 64), mode="bilinear", antialias=True).repeat(2, 1, 1, 1)
    index = torch.tensor([0, 1])
    mix = F.one_hot(index, 2).float()
    final = {}
    for dtype in (None, torch.bfloat16):
        torch.manual_seed(0)
        net = StyleNetwork(2, width=8)
        loss_fn = TrainLoss(lite0, styles, config, lite0.spec.content_layers, lite0.spec.style_layers)
        opt = torch.optim.Adam(net.parameters(), lr=5e-3)
        for _ in range(15):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                loss = loss_fn(net(batch, mix).float(), batch, index).float()
            loss.backward()
            opt.step()
        assert all(p.dtype == torch.float32 for p in net.parameters())  # master weights stay float32
        with torch.no_grad():  # both scored the same way, in float32
            final[dtype] = loss_fn(net(batch, mix), batch, index).item()
    assert final[torch.bfloat16] == pytest.approx(final[None], rel=0.05)


def test_help_imports_no_torch():
    """`inceptionism --help` and every command's --help answer without importing torch (or numpy)."""
    code = (
        "import importlib, sys\n"
        "main = importlib.import_module('inceptionism.cli.main')\n"
        "parser = main.build_parser()\n"
        "for command in ['dream', 'animate', 'video', 'sweep', 'style', 'stylize', 'train-style', 'train-dream',\n"
        "                'export', 'info', 'models', 'layers', 'styles', 'topics', 'web', '--help']:\n"
        "    try:\n"
        "        parser.parse_args([command, '--help'] if command != '--help' else ['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('torch', 'numpy', 'PIL', 'torchvision', 'timm', 'gradio', 'ray', 'sklearn')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout[-300:]


def test_a_dream_command_imports_neither_timm_nor_torchvision(tmp_path):
    """The default model's dream starts without importing timm or torchvision (a second of start-up each)."""
    code = (
        "import sys\n"
        "from inceptionism.cli import main\n"
        f"code = main(['dream', 'skimage:chelsea', '-o', r'{tmp_path / 'd.png'}', '--steps', '1', '--octaves', '1',\n"
        "             '-q'])\n"
        "heavy = ('torchvision', 'timm', 'torch._dynamo', 'gradio', 'ray', 'sklearn')\n"
        "print('CODE', code, 'HEAVY', [m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "CODE 0 HEAVY []" in out.stdout, out.stdout[-300:] + out.stderr[-500:]


def test_the_recipe_records_the_precision_and_from_repeats_it(tmp_path):
    from inceptionism.cli import main
    from inceptionism.io.images import read_metadata

    first, again = tmp_path / "a.png", tmp_path / "b.png"
    args = ["--steps", "2", "--octaves", "1", "--max-side", "128", "-q"]
    assert main(["dream", "skimage:chelsea", "-o", str(first), "--precision", "bf16", *args]) == 0
    assert read_metadata(first)["config"]["precision"] == "bf16"
    assert main(["dream", "--from", str(first), "-o", str(again), "-q"]) == 0
    assert read_metadata(again)["config"]["precision"] == "bf16"
    assert first.read_bytes() == again.read_bytes()
    assert main(["dream", "skimage:chelsea", "-o", str(tmp_path / "c.png"), "--fp32", *args]) == 0
    assert read_metadata(tmp_path / "c.png")["config"]["precision"] == "fp32"
