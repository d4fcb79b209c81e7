"""The browser UI, end to end in headless Chromium (Debian's package, driven by Playwright).

This test does not skip quietly: without /usr/bin/chromium it fails, unless
INCEPTIONISM_SKIP_BROWSER=1 says on purpose that this machine has no browser.
Set INCEPTIONISM_SCREENSHOTS=DIR to keep the screenshots it takes.
"""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.io.images import load_image, save_image

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    from inceptionism.web import WebLimits, serve

    port = _free_port()
    app = serve("127.0.0.1", port, limits=WebLimits(max_upload_bytes=5 * 2**20), block=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("INCEPTIONISM_SKIP_BROWSER") == "1":
            pytest.skip("INCEPTIONISM_SKIP_BROWSER=1: no browser on this machine")
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see the README's test set-up)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def _shot(page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("INCEPTIONISM_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)


def _set_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_dream_in_the_browser(server, browser, tmp_path):
    source = tmp_path / "cat.png"
    save_image(torch.nn.functional.interpolate(load_image("skimage:chelsea").rgb, size=(200, 300), mode="area"), source)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.locator("#dream-input input[type=file]").set_input_files(str(source))
    page.locator("#dream-input img").first.wait_for(timeout=30_000)
    _set_number(page, "dream-octaves", 2)
    _set_number(page, "dream-steps", 12)
    page.locator("#dream-run").click()
    status = page.locator("#dream-status textarea")
    deadline = time.time() + 120
    while time.time() < deadline and not status.input_value().startswith("step"):
        time.sleep(0.1)
    assert status.input_value().startswith("step"), "no live progress"
    _shot(page, "web-running.png", tmp_path)
    page.wait_for_function(
        "() => document.querySelector('#dream-status textarea').value.startsWith('done')", timeout=180_000)
    _shot(page, "web-done.png", tmp_path)
    # the result offered for download differs from the input, at the same size
    link = page.locator("#dream-download a").first
    link.wait_for(timeout=30_000)
    response = page.request.get(link.get_attribute("href") if link.get_attribute("href").startswith("http")
                                else server + link.get_attribute("href"))
    assert response.ok
    result = Image.open(io.BytesIO(response.body()))
    assert result.size == (300, 200)
    assert "inceptionism" in result.info  # with its recipe
    before = np.asarray(Image.open(source).convert("RGB"), dtype=float)
    after = np.asarray(result.convert("RGB"), dtype=float)
    assert np.abs(after - before).mean() > 5
    # and the command-line button describes the same run
    page.locator("#dream-cli-button").click()
    page.wait_for_function("() => document.querySelector('#dream-cli textarea').value.includes('inceptionism dream')")
    cli = page.locator("#dream-cli textarea").input_value()
    assert "--octaves 2" in cli and "--steps 12" in cli
    # a long run can be cancelled, and the queue is free again afterwards
    _set_number(page, "dream-steps", 200)
    page.locator("#dream-run").click()
    page.wait_for_function("() => document.querySelector('#dream-status textarea').value.startsWith('step')",
                           timeout=60_000)
    page.locator("#dream-cancel").click()
    page.wait_for_function("() => document.querySelector('#dream-status textarea').value.startsWith('cancel')",
                           timeout=30_000)
    _set_number(page, "dream-steps", 2)
    _set_number(page, "dream-octaves", 1)
    page.locator("#dream-run").click()
    page.wait_for_function("() => document.querySelector('#dream-status textarea').value === 'done: 2 steps'",
                           timeout=120_000)
    page.close()


def test_the_server_binds_to_localhost_by_default():
    import inspect

    from inceptionism.web import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"


def test_limits_refuse_big_images(tmp_path):
    from inceptionism.errors import ImageReadError

    big = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(big)
    with pytest.raises(ImageReadError, match="over the limit"):
        load_image(big, max_pixels=200 * 200)
