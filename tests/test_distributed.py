"""Training on several processes (DDP, gloo on the CPU), and one image over several devices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inceptionism.cli import main


def _setup(seed: int = 0):
    from inceptionism.models import get_model
    from inceptionism.style.network import StyleNetwork
    from inceptionism.style.train import TrainConfig, TrainLoss

    torch.manual_seed(seed)
    loss_net = get_model()
    config = TrainConfig(image_size=32, batch_size=4, width=8, init="scratch")
    gen = torch.Generator().manual_seed(1)
    styles = [torch.rand(1, 3, 32, 32, generator=gen) for _ in range(2)]
    loss_fn = TrainLoss(loss_net, styles, config, loss_net.spec.content_layers, loss_net.spec.style_layers)
    torch.manual_seed(seed)
    net = StyleNetwork(2, 8)
    batch = torch.rand(4, 3, 32, 32, generator=gen)
    index = torch.tensor([0, 1, 1, 0])
    return net, loss_fn, batch, index


def _step(net, loss_fn, batch, index):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    opt.zero_grad()
    loss_fn(net(batch, F.one_hot(index, 2).float()), batch, index).backward()
    grads = [p.grad.clone() for p in net.parameters()]
    opt.step()
    return grads


def _rank(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as td

    from inceptionism.training.distributed import Dist, wrap

    torch.set_num_threads(1)
    td.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    net, loss_fn, batch, index = _setup()
    model = wrap(net, Dist(rank, world, rank), torch.device("cpu"))
    share = slice(rank * 2, rank * 2 + 2)  # this rank's half of the global batch of 4
    grads = _step(model, loss_fn, batch[share], index[share])
    if rank == 0:
        torch.save({"params": [p.detach() for p in net.parameters()], "grads": grads}, out)
    td.barrier()
    td.destroy_process_group()


def test_one_ddp_step_on_two_processes_equals_one_process_with_the_global_batch(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "rank0.pt"
    mp.spawn(_rank, args=(2, f"file://{tmp_path / 'rendezvous'}", str(out)), nprocs=2, join=True)
    torch.set_num_threads(1)
    net, loss_fn, batch, index = _setup()
    grads = _step(net, loss_fn, batch, index)
    two = torch.load(out, weights_only=True)
    # the same gradients, up to the order in which floats were added
    mine_all = torch.cat([g.flatten() for g in grads])
    theirs_all = torch.cat([g.flatten() for g in two["grads"]])
    assert (theirs_all - mine_all).norm() < 1e-5 * mine_all.norm()
    # and the same parameters after Adam's step, where the gradient is not numerically zero (a convolution's
    # bias before instance norm has a true gradient of 0, and Adam's first step is about lr * sign(gradient))
    for g, mine, theirs in zip(grads, net.parameters(), two["params"]):
        real = g.abs() > 1e-4 * mine_all.abs().max()
        torch.testing.assert_close(theirs[real], mine.detach()[real], rtol=0, atol=1e-6)
        assert real.any() or g.numel() <= 512


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    for i in range(2):
        Image.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8)).save(tmp_path / f"s{i}.png")
    return folder


def test_a_two_process_run_writes_one_model_that_stylize_uses_and_resumes_on_one(data, tmp_path, capsys):
    from inceptionism.style.model_file import read_metadata
    from inceptionism.training import state_path

    model = tmp_path / "m.safetensors"
    argv = ["train-style", "--style", str(tmp_path / "s0.png"), "--style", str(tmp_path / "s1.png"), "--data",
            str(data), "-o", str(model), "--image-size", "32", "--batch-size", "4", "--width", "8", "--init", "scratch",
            "--workers", "0",
            "-q"]
    proc = subprocess.run([sys.executable, "-m", "inceptionism", *argv, "--steps", "2", "--nproc", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".safetensors") == [
        "m.safetensors", "m.train.safetensors"]
    assert read_metadata(model)["training"]["processes"] == 2 and read_metadata(model)["training"]["step"] == 2
    assert state_path(model).is_file()
    assert main(["stylize", str(data / "0.png"), "--model", str(model), "--mix", "1,1", "-o",
                 str(tmp_path / "st.png"), "-q"]) == 0
    # one process takes the run over where two left it
    assert main([*argv, "--steps", "3", "--resume"]) == 0
    assert read_metadata(model)["training"]["step"] == 3 and read_metadata(model)["training"]["processes"] == 1
    # a batch that does not split is one line, before any process starts
    capsys.readouterr()
    assert main([*argv, "--steps", "2", "--batch-size", "3", "--nproc", "2", "-o", str(tmp_path / "x.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "does not split into 2 processes" in err and len(err.strip().splitlines()) == 1


def test_one_image_over_two_cpu_replicas_equals_one_device(tmp_path):
    from inceptionism.dream import DreamConfig, dream
    from inceptionism.dream.loop import replicate
    from inceptionism.io.images import load_image
    from inceptionism.models import get_model
    from inceptionism.objectives import Guide, from_addresses

    net = get_model()
    x = F.interpolate(load_image("skimage:chelsea").rgb, size=(120, 180), mode="area")
    config = DreamConfig(steps=2, octaves=2, tile=64)  # several tiles at both octaves
    objective = from_addresses(["blocks.3"]) + 0.5 * Guide("blocks.3", load_image("skimage:coffee").rgb)
    one = dream(net, x, objective, config)
    two = dream(net, x, objective, config, replicas=replicate(net, ["cpu"]))
    assert torch.equal(one.image, two.image) and one.objective == two.objective
    # and from the command line
    base = ["dream", "skimage:chelsea", "--tile", "128", "--steps", "2", "--octaves", "2", "-q"]
    assert main([*base, "-o", str(tmp_path / "one.png")]) == 0
    assert main([*base, "-o", str(tmp_path / "two.png"), "--devices", "cpu,cpu"]) == 0
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()


def test_devices_that_are_not_here_are_one_line(capsys, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for value in ("all", "cuda:0,cuda:1", "cpu,cuda"):
        assert main(["dream", "skimage:chelsea", "-o", str(tmp_path / "x.png"), "--devices", value]) == 1
        err = capsys.readouterr().err
        assert "CUDA" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()
    assert os.environ.get("WORLD_SIZE") is None  # nothing leaked from the distributed tests
