"""The training engine every trainer shares: data workers, skipped files, state, the loop's stop."""

from __future__ import annotations

import os
import random
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.training import ImageFiles, TrainingInterrupted, find_images, fit, load_state, save_state
from inceptionism.training.data import batches


class Means(ImageFiles):
    def sample(self, index: int, image: Image.Image, rng: random.Random) -> torch.Tensor:
        return torch.tensor(np.asarray(image.resize((8, 8)), dtype=np.float32).mean(axis=(0, 1)) / 255.0)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(6):
        Image.new("RGB", (20, 16), (40 * i, 10, 200)).save(root / ("sub" if i % 2 else ".") / f"p{i}.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "notes.txt").write_text("not an image")
    return root


def test_workers_skip_unreadable_files_and_the_main_process_counts_them(folder, caplog):
    files = find_images(folder)
    assert len(files) == 7 and all(f.suffix in (".png", ".jpg") for f in files)
    dataset = Means(files, name=str(folder))
    seen = 0
    stream = batches(dataset, batch_size=3, workers=2, seed=0)
    for _ in range(6):  # a few epochs, read by two worker processes
        batch = next(stream)
        assert batch.shape == (3, 3)  # a broken file's place is taken by a readable one
        seen += 1
    assert [p.name for p in dataset.skipped()] == ["broken.jpg"]


def test_an_empty_or_missing_folder_is_a_clear_error(tmp_path):
    from inceptionism.errors import ConfigError

    with pytest.raises(ConfigError, match="no such folder"):
        find_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no images"):
        find_images(tmp_path / "empty")


def _problem():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.95**s)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def data():
        while True:
            for i in range(0, 64, 8):
                yield x[i:i + 8], y[i:i + 8]

    def loss_of(batch):
        return torch.nn.functional.mse_loss(model(batch[0]), batch[1])

    return model, opt, sched, data, loss_of


def test_fit_checkpoints_and_resume_continues_the_state(tmp_path):
    model, opt, sched, data, loss_of = _problem()
    out = tmp_path / "m.safetensors"
    saved = []

    def save(step):
        saved.append(step)
        out.write_bytes(b"model")
        save_state(out, opt, step, {"check": "a"}, sched)

    losses = []
    last = fit(optimizer=opt, loss_of=loss_of, batches=data(), steps=10, save=save, output=str(out),
               checkpoint_every=4, scheduler=sched, callback=lambda s: losses.append(s.loss))
    assert last == 10 and saved == [4, 8, 10] and losses[-1] < 0.5 * losses[0]
    fresh_model, fresh_opt, fresh_sched, *_ = _problem()
    state = load_state(out, fresh_opt, fresh_sched)
    assert state.step == 10 and state.meta == {"check": "a"}
    assert fresh_sched.last_epoch == sched.last_epoch and fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for a, b in zip(opt.state_dict()["state"].values(), fresh_opt.state_dict()["state"].values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


@pytest.fixture
def ctrl_c_handled():
    """SIGINT raises KeyboardInterrupt, whatever this process started with (a background job starts with it
    ignored); the handler it had is put back afterwards."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield before
    signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_after_the_step_and_saves_it(tmp_path, signum, ctrl_c_handled):
    model, opt, sched, data, loss_of = _problem()
    term_before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "m.safetensors"
    saved = []

    def save(step):
        saved.append(step)
        save_state(out, opt, step)

    def callback(s):
        if s.step == 3:
            os.kill(os.getpid(), signum)  # arrives during the step's report: the loop stops after it

    with pytest.raises(TrainingInterrupted, match="interrupted at step 3.*--resume") as exc:
        fit(optimizer=opt, loss_of=loss_of, batches=data(), steps=10, save=save, output=str(out),
            checkpoint_every=2, callback=callback)
    assert exc.value.step == 3 and saved == [2, 3]
    assert load_state(out, _problem()[1]).step == 3
    # the handlers are put back, as they were
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is term_before


def test_an_ignored_ctrl_c_stays_ignored_and_sigterm_still_saves(tmp_path):
    """A run started with SIGINT ignored (nohup, `cmd &`) is not stopped by it; SIGTERM still saves and stops."""
    model, opt, sched, data, loss_of = _problem()
    out = tmp_path / "m.safetensors"
    saved = []
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        def callback(s):
            if s.step == 2:
                os.kill(os.getpid(), signal.SIGINT)  # ignored: training goes on
            if s.step == 4:
                os.kill(os.getpid(), signal.SIGTERM)

        with pytest.raises(TrainingInterrupted, match="interrupted at step 4") as exc:
            fit(optimizer=opt, loss_of=loss_of, batches=data(), steps=10, save=lambda step: saved.append(step),
                output=str(out), checkpoint_every=0, callback=callback)
        assert exc.value.step == 4 and saved == [4]
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_diverging_loss_stops_with_a_clear_error(tmp_path):
    from inceptionism.errors import InceptionismError

    model, opt, sched, data, loss_of = _problem()
    with pytest.raises(InceptionismError, match="lower --lr"):
        fit(optimizer=opt, loss_of=lambda b: loss_of(b) * float("nan"), batches=data(), steps=3,
            save=lambda s: None, output="m")


@pytest.mark.parametrize("clip", [None, 10.0])
def test_a_step_whose_gradient_is_not_finite_is_skipped_not_applied(clip, caplog):
    from inceptionism.errors import InceptionismError

    model, opt, sched, data, loss_of = _problem()
    calls, weights = [0], []

    def overflowing(batch, bad=lambda call: call == 2):
        calls[0] += 1
        w = model.weight
        spike = torch.sqrt(((w - w.detach()) ** 2).sum())  # 0, with a NaN gradient (d sqrt at 0 times 0)
        return loss_of(batch) + (spike if bad(calls[0]) else 0.0)

    def callback(s):
        weights.append(model.weight.detach().clone())

    fit(optimizer=opt, loss_of=overflowing, batches=data(), steps=4, save=lambda s: None, output="m",
        callback=callback, clip_grad=clip, scheduler=sched)
    assert all(torch.isfinite(w).all() for w in weights)
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[1], weights[2])  # step 2 left them
    assert "step 2: the gradient is not a finite number" in caplog.text
    with pytest.raises(InceptionismError, match="5 steps in a row.*lower --lr"):  # always: it stops
        fit(optimizer=opt, loss_of=lambda b: overflowing(b, bad=lambda call: True), batches=data(), steps=20,
            save=lambda s: None, output="m", clip_grad=clip)
    assert torch.isfinite(model.weight).all()


def test_clip_grad_bounds_each_update_by_the_norm(tmp_path):
    model, _, _, data, loss_of = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)  # the update is the (clipped) gradient itself
    moves = []

    def callback(s):
        now = torch.cat([p.detach().flatten() for p in model.parameters()])
        moves.append((now - before[0]).norm().item())
        before[0] = now

    before = [torch.cat([p.detach().flatten() for p in model.parameters()])]
    fit(optimizer=opt, loss_of=lambda b: 100 * loss_of(b), batches=data(), steps=4, save=lambda s: None,
        output="m", callback=callback, clip_grad=0.25)
    assert len(moves) == 4 and max(moves) == pytest.approx(0.25, rel=1e-4)  # the gradients here are far above it


def test_resume_trains_at_the_learning_rate_asked_now(tmp_path):
    model, opt, sched, data, loss_of = _problem()  # lr 0.3, factor 0.95 ** step
    out = tmp_path / "m.safetensors"
    fit(optimizer=opt, loss_of=loss_of, batches=data(), steps=4, save=lambda s: save_state(out, opt, s, None, sched),
        output=str(out), scheduler=sched)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.3 * 0.95**4)
    _, same_opt, same_sched, *_ = _problem()
    load_state(out, same_opt, same_sched)
    assert same_opt.param_groups[0]["lr"] == pytest.approx(0.3 * 0.95**4)  # the same options: exactly where it was
    lower = torch.nn.Linear(3, 1)
    lower_opt = torch.optim.Adam(lower.parameters(), lr=0.03)  # resumed with a tenth of the rate
    lower_sched = torch.optim.lr_scheduler.LambdaLR(lower_opt, lambda s: 0.95**s)
    load_state(out, lower_opt, lower_sched)
    assert lower_opt.param_groups[0]["lr"] == pytest.approx(0.03 * 0.95**4) and lower_sched.base_lrs == [0.03]
    lower_sched.step()
    assert lower_opt.param_groups[0]["lr"] == pytest.approx(0.03 * 0.95**5)
    assert torch.equal(lower_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


@pytest.mark.parametrize("bar_class", ["LazyBar", "TrainBar"])
def test_a_resumed_runs_bar_starts_at_its_step_and_times_only_new_steps(bar_class):
    from types import SimpleNamespace

    from inceptionism import progress as common

    bar = getattr(common, bar_class)("m.safetensors", quiet=False)
    for step in (1201, 1202):
        if bar_class == "LazyBar":
            bar.step(3600, done=step)
        else:
            bar.report(SimpleNamespace(step=step, steps=3600, loss=1.0, metrics={}))
    # the 1,200 steps of the earlier run are the bar's start, not 1,200 steps done in the first second
    assert (bar.bar.initial, bar.bar.n, bar.bar.total) == (1200, 1202, 3600)
    bar.close()
