"""The Train tab (issue 34): a tiny style network trained from uploaded paintings and a zip of photos, its
preview arriving on the page, then stylising with it in the Style tab; hostile zips refused in one line.

Headless Chromium driven by Playwright, like tests/test_web.py.
"""

from __future__ import annotations

import io
import json
import signal
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.io.archive import ArchiveError, safe_extract
from inceptionism.io.images import load_image, save_image
from tests.test_web import _free_port

pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def train_server(tmp_path_factory):
    from inceptionism.web import WebLimits, serve

    port = _free_port()
    train_dir = tmp_path_factory.mktemp("trained")
    app = serve("127.0.0.1", port, limits=WebLimits(max_upload_bytes=5 * 2**20), block=False,
                train_dir=str(train_dir))
    yield f"http://127.0.0.1:{port}", train_dir, app
    app.trainer.close()
    app.close()


def _picture(name: str, size: tuple[int, int], path: Path) -> Path:
    save_image(torch.nn.functional.interpolate(load_image(f"skimage:{name}").rgb, size=size, mode="area"), path)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _png(name: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    image = torch.nn.functional.interpolate(load_image(f"skimage:{name}").rgb, size=size, mode="area")
    Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _status(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea").input_value()


def _wait_status(page, elem_id: str, prefixes: tuple[str, ...], timeout_ms: int) -> str:
    """The first line the box shows that starts with one of ``prefixes``: the line seen, not a second read
    (a poll computed before a cancel finished may still land after it, for one poll)."""
    seen = page.wait_for_function(
        f"() => {{ const v = document.querySelector('#{elem_id} textarea').value;"
        f" return {json.dumps(list(prefixes))}.some(p => v.startsWith(p)) ? v : null; }}",
        timeout=timeout_ms)
    return seen.json_value()


def _uploaded(page, elem_id: str, name: str) -> None:
    """Wait until the file component shows ``name`` as uploaded: its download link, which comes with the server's copy.

    (Not ``get_by_text(name)``: that matches only the transient "Uploading 1 file... name"; the finished row splits
    the name into a stem and an extension, so a page that finished the upload before the first look never matched.)
    """
    page.locator(f'#{elem_id} a[download="{name}"]').wait_for(timeout=60_000)


def _set_number(page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def test_train_a_style_network_in_the_browser_then_paint_with_it(train_server, browser, tmp_path):
    server, train_dir, _ = train_server
    paintings = [_picture("rocket", (96, 96), tmp_path / "rocket.png"),
                 _picture("coffee", (96, 96), tmp_path / "coffee.png")]
    photos = _zip(tmp_path / "photos.zip", {"photos/a/astronaut.png": _png("astronaut", (96, 96)),
                                              "photos/b/chelsea.png": _png("chelsea", (96, 128)),
                                              "photos/camera.png": _png("camera", (96, 96))})
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(server)
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-paintings input[type=file]").set_input_files([str(p) for p in paintings])
    page.locator("#train-photos input[type=file]").set_input_files(str(photos))
    _uploaded(page, "train-photos", "photos.zip")
    for painting in paintings:
        _uploaded(page, "train-paintings", painting.name)
    _set_number(page, "train-style-steps", 20)
    _set_number(page, "train-style-size", 64)
    page.locator("#train-name input, #train-name textarea").first.fill("my style")
    page.locator("#train-run").click()
    said = _wait_status(page, "train-status", ("training:", "done:", "error:"), 120_000)
    assert not said.startswith("error:"), said
    page.locator("#train-preview img").first.wait_for(timeout=120_000)  # a preview sheet arrives while it trains
    page.reload()  # a refreshed page finds the run where it is
    page.get_by_role("tab", name="Train").click()
    assert _wait_status(page, "train-status", ("training:", "done:"), 30_000)
    said = _wait_status(page, "train-status", ("done:", "error:", "cancelled:"), 240_000)
    assert said.startswith("done: style network my-style trained (20 steps)"), said
    page.locator("#train-curves img").first.wait_for(timeout=30_000)
    page.locator("#train-model a").first.wait_for(timeout=30_000)
    model = train_dir / "my-style" / "my-style.safetensors"
    assert model.is_file() and (train_dir / "my-style" / "my-style.log.csv").is_file()
    assert sorted(p.name for p in (train_dir / "my-style" / "my-style.previews").iterdir())[-1] == "step_000020.png"
    page.screenshot(path=str(tmp_path / "train.png"), full_page=True)

    # the new network paints in the Style tab, without reloading the page
    page.get_by_role("tab", name="Style").click()
    page.get_by_role("tab", name="Your networks", exact=True).click()
    content = _picture("chelsea", (120, 160), tmp_path / "cat.png")
    page.locator("#style-content input[type=file]").set_input_files(str(content))
    page.locator("#style-content img").first.wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelector('#trained-model input').value === 'my-style.safetensors'",
                           timeout=30_000)
    page.locator("#trained-run").click()
    said = _wait_status(page, "style-status", ("done:", "error:"), 120_000)
    assert said.startswith("done: rocket, by your network my-style.safetensors (step 20)"), said
    link = page.locator("#style-download a").first
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    body = page.request.get(href if href.startswith("http") else server + href).body()
    painted = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), dtype=np.float32) / 255
    original = np.asarray(Image.open(content).convert("RGB"), dtype=np.float32) / 255
    assert painted.shape == original.shape and np.abs(painted - original).mean() > 0.03
    page.close()


def test_a_dream_model_trains_from_a_zip_of_class_folders_and_cancel_keeps_its_checkpoint(train_server, browser,
                                                                                          tmp_path):
    from tests.test_train_dream import make_collection

    server, train_dir, app = train_server
    root = make_collection(tmp_path / "kinds", captions=None, folders=True, per_kind=8)
    members = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in root.rglob("*.png")}
    archive = _zip(tmp_path / "kinds.zip", members)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(server)
    page.get_by_role("tab", name="Train").click()
    page.get_by_text("A dream model (your photos)").click()
    page.locator("#train-collection input[type=file]").set_input_files(str(archive))
    _uploaded(page, "train-collection", "kinds.zip")
    _set_number(page, "train-epochs", 100)
    _set_number(page, "train-dream-size", 96)
    page.locator("#train-name input, #train-name textarea").first.fill("kinds")
    page.locator("#train-run").click()
    said = _wait_status(page, "train-status", ("error:", "starting:"), 60_000)
    assert said.startswith("starting: dream model kinds (24 photos, 3 classes"), said
    # while it trains, the button says so and cannot be pressed again
    page.wait_for_function("() => document.querySelector('#train-run').disabled && "
                           "document.querySelector('#train-run').textContent.includes('Training')", timeout=30_000)
    page.wait_for_function("() => /step [1-9]/.test(document.querySelector('#train-status textarea').value)",
                           timeout=120_000)
    page.locator("#train-cancel").click()
    said = _wait_status(page, "train-status", ("cancelled:", "error:", "done:"), 90_000)
    assert said.startswith("cancelled: dream model kinds at step ") and "is offered in the other tabs" in said, said
    step = int(said.split("at step ")[1].split(";")[0])
    from inceptionism.models.dream_file import read_dream_metadata

    assert read_dream_metadata(train_dir / "kinds" / "kinds.safetensors")["training"]["step"] == step
    page.get_by_role("tab", name="Dream").click()
    page.locator("#dream-model input").click()
    page.get_by_role("option", name="yours: kinds.safetensors").wait_for(timeout=30_000)
    page.close()


def test_hostile_zips_are_refused_in_one_line_and_leave_nothing(train_server, browser, tmp_path, capfd):
    from inceptionism.web.train_tab import POLL_S

    server, train_dir, app = train_server
    painting = _picture("rocket", (64, 64), tmp_path / "rocket.png")
    escape = _zip(tmp_path / "evil.zip", {"ok.png": _png("camera", (64, 64)), "../evil.txt": b"written outside"})
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.png": b"\0" * (300 << 20)})
    notazip = tmp_path / "notazip.zip"
    notazip.write_bytes(b"a text file, not a zip")
    notes = tmp_path / "notes.png"
    notes.write_text("a text file, not a picture")
    assert bomb.stat().st_size < 2 << 20
    if app.trainer.run is None:  # an earlier run whose line every page polls: a refusal must not be wiped by it
        run = app.trainer.start("style", *app.trainer.new_run_folder("earlier"), ["--help"], 10)
        deadline = time.time() + 120
        while not run.done and time.time() < deadline:
            time.sleep(0.2)
    before = sorted(p.name for p in train_dir.iterdir())
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(server)
    page.get_by_role("tab", name="Train").click()
    # refused the moment they arrive, in one line (a toast, the log), and taken out of the box
    capfd.readouterr()
    for box, bad, words in (("train-paintings", notes, "notes.png: cannot read image"),
                            ("train-photos", notazip, "notazip.zip: not a zip archive"),
                            ("train-photos", escape, "evil.zip: '../evil.txt' points outside the archive's folder")):
        page.locator(f"#{box} input[type=file]").set_input_files(str(bad))
        page.get_by_text(words).first.wait_for(timeout=30_000)
        page.wait_for_function(f"() => !document.querySelector('#{box} a[download]')", timeout=30_000)
    log = capfd.readouterr().err
    assert log.count("refused:") == 3 and "refused: notazip.zip: not a zip archive" in log, log
    # a bomb shows only when unpacked: refused at Train, in one line, and nothing is left
    page.locator("#train-paintings input[type=file]").set_input_files(str(painting))
    page.locator("#train-photos input[type=file]").set_input_files(str(bomb))
    _uploaded(page, "train-photos", bomb.name)
    _uploaded(page, "train-paintings", painting.name)
    page.locator("#train-run").click()
    said = _wait_status(page, "train-status", ("error:", "training:", "starting:"), 60_000)
    assert said == "error: bomb.zip: 'zeros.png' expands beyond 200 times its packed size (a zip bomb?)", said
    page.wait_for_timeout(POLL_S * 1500)  # the next poll leaves the refusal in place
    assert _status(page, "train-status") == said
    assert sorted(p.name for p in train_dir.iterdir()) == before  # the run's folder went with the refusal
    assert not (train_dir.parent / "evil.txt").exists() and not list(train_dir.parent.glob("*/evil.txt"))
    page.close()


def test_safe_extract_refuses_what_could_escape_or_explode(tmp_path):
    ok = _zip(tmp_path / "ok.zip", {"a/x.txt": b"hi", "__MACOSX/._x": b"junk", ".DS_Store": b"j", "b/y.txt": b"yo"})
    assert sorted(p.relative_to(tmp_path / "ok").as_posix() for p in safe_extract(ok, tmp_path / "ok")) == \
        ["a/x.txt", "b/y.txt"]
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("escape")
        info.external_attr = (0o120777 << 16)  # a symbolic link
        z.writestr(info, "/etc/passwd")
    cases = {
        "abs.zip": ({"/tmp/abs.txt": b"x"}, "points outside"),
        "dots.zip": ({"a/../../b.txt": b"x"}, "points outside"),
        "drive.zip": ({"C:/x.txt": b"x"}, "points outside"),
        "many.zip": ({f"f{i}": b"x" for i in range(30)}, "30 entries, more than the 20 allowed"),
        "big.zip": ({"a": b"1" * 4000, "b": b"2" * 4000}, "unpacks to more than"),
    }
    for name, (members, reason) in cases.items():
        with pytest.raises(ArchiveError, match=reason):
            safe_extract(_zip(tmp_path / name, members), tmp_path / name.split(".")[0], max_files=20, max_bytes=6000)
        assert not (tmp_path / name.split(".")[0]).exists()
    with pytest.raises(ArchiveError, match="symbolic link"):
        safe_extract(link, tmp_path / "link")
    (tmp_path / "not.zip").write_bytes(b"not a zip")
    with pytest.raises(ArchiveError, match="not.zip: not a zip archive"):
        safe_extract(tmp_path / "not.zip", tmp_path / "not")
    # a member whose header lies about its size is stopped by the bytes really written
    liar = tmp_path / "liar.zip"
    with zipfile.ZipFile(liar, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros", b"\0" * (8 << 20))
    data = bytearray(liar.read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # local header and central directory: uncompressed size -> 10
        at = data.find(sig)
        offset = 22 if sig == b"PK\x03\x04" else 24
        data[at + offset: at + offset + 4] = (10).to_bytes(4, "little")
    liar.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="expands beyond|cannot be unpacked|not a zip"):
        safe_extract(liar, tmp_path / "liar")
    assert not (tmp_path / "liar").exists()


def test_one_training_at_a_time_and_cancel_keeps_the_checkpoint(tmp_path):
    """The server's Trainer refuses a second run while one goes on; Cancel keeps the step, and works on a server
    whose children ignore SIGINT (started with nohup or in the background)."""
    import gradio as gr

    from inceptionism.errors import InceptionismError
    from inceptionism.web.app import JobFiles, Services, WebLimits
    from inceptionism.web.train_tab import Trainer, status_line

    s = Services(gr, "cpu", WebLimits(), JobFiles())
    trainer = Trainer(s, tmp_path / "trained")
    (tmp_path / "trained").mkdir()
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut", "coffee"):
        _picture(name, (80, 80), photos / f"{name}.png")
    painting = _picture("rocket", (64, 64), tmp_path / "rocket.png")
    name, folder = trainer.new_run_folder("a long one")
    assert name == "a-long-one" and trainer.new_run_folder("a long one")[0] == "a-long-one-2"
    args = ["--style", str(painting), "--data", str(photos), "--steps", "5000", "--image-size", "64",
            "--workers", "0", "--checkpoint-every", "1000"]
    # a server started in the background (nohup, a shell's `&`, systemd) hands its children an ignored SIGINT
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run = trainer.start("style", name, folder, args, 5000, about="1 style, 5000 steps")
    finally:
        signal.signal(signal.SIGINT, previous)
    # what the page first said stays while the networks load (a page's next poll does not wipe it)
    assert status_line(run) == "starting: style network a-long-one (1 style, 5000 steps): loading the networks " \
                               "and the pictures"
    with pytest.raises(InceptionismError, match="a training is already running on this server \\(a-long-one\\)"):
        trainer.start("style", "other", trainer.new_run_folder("other")[1], args, 5000)
    deadline = time.time() + 120
    while not status_line(run).startswith("training:") and time.time() < deadline:
        time.sleep(0.5)
    assert status_line(run).startswith("training: style network a-long-one: step "), status_line(run)
    asked = time.monotonic()
    said = trainer.cancel()
    assert time.monotonic() - asked < 10, "Cancel took more than 10 s (was the signal ignored?)"
    assert said.startswith("cancelled: style network a-long-one at step ") and "offered" in said, said
    assert s.trained.paths["style"] == [str(run.model)] and run.model.is_file()
    assert trainer.busy() is None
