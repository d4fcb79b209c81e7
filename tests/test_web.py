"""The browser UI, end to end in headless Chromium (Debian's package, driven by Playwright).

The ``browser`` fixture (conftest) does not skip quietly: without /usr/bin/chromium it fails,
unless INCEPTIONISM_SKIP_BROWSER=1 says on purpose that this machine has no browser.
Set INCEPTIONISM_SCREENSHOTS=DIR to keep the screenshots it takes.
"""

from __future__ import annotations

import io
import hashlib
import json
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.io.images import load_image, save_image

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
    seen = ""  # the line read, not a second read (the dream may be done by then)
    while time.time() < deadline and not (seen := status.input_value()).startswith("step"):
        time.sleep(0.1)
    assert seen.startswith("step"), f"no live progress: {seen!r}"
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
    page.wait_for_function("() => document.querySelector('#dream-cli textarea').value.includes('inceptionism dream')")
    cli = page.locator("#dream-cli textarea").input_value()
    assert "--octaves 2" in cli and "--steps 12" in cli
    # a long run can be cancelled, and the queue is free again afterwards
    _set_number(page, "dream-steps", 200)
    page.locator("#dream-run").click()
    page.wait_for_function("() => document.querySelector('#dream-status textarea').value.startsWith('step')",
                           timeout=60_000)
    page.locator("#dream-cancel").click()
    page.wait_for_function("() => document.querySelector('#dream-status textarea').value === 'cancelled'",
                           timeout=60_000)  # said once the work has stopped
    _set_number(page, "dream-steps", 2)
    _set_number(page, "dream-octaves", 1)
    page.locator("#dream-run").click()
    page.wait_for_function("() => document.querySelector('#dream-status textarea').value === 'done: 2 steps'",
                           timeout=120_000)
    page.close()


def _dream_and_download(page, server: str, tmp_path: Path, shot: str) -> Image.Image:
    """Press Dream, wait for the end, and fetch the PNG the page offers."""
    page.locator("#dream-run").click()
    page.wait_for_function(
        "() => document.querySelector('#dream-status textarea').value.startsWith('done')", timeout=180_000)
    _shot(page, shot, tmp_path)
    link = page.locator("#dream-download a").first
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    return Image.open(io.BytesIO(page.request.get(href if href.startswith("http") else server + href).body()))


def test_a_masked_dream_in_the_browser(server, browser, tmp_path):
    source, mask = tmp_path / "cat.png", tmp_path / "mask.png"
    save_image(torch.nn.functional.interpolate(load_image("skimage:chelsea").rgb, size=(120, 180), mode="area"), source)
    half = np.zeros((120, 180), np.uint8)
    half[:, 90:] = 255
    Image.fromarray(half, "L").save(mask)
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(server)
    page.locator("#dream-input input[type=file]").set_input_files(str(source))
    page.locator("#dream-input img").first.wait_for(timeout=30_000)
    page.get_by_text("Guide and mask").click()
    page.locator("#dream-mask input[type=file]").set_input_files(str(mask))
    page.locator("#dream-mask img").first.wait_for(timeout=30_000)
    _set_number(page, "dream-octaves", 1)
    _set_number(page, "dream-steps", 6)
    _set_number(page, "dream-lap", 3)
    result = _dream_and_download(page, server, tmp_path, "web-mask.png")
    before = np.asarray(Image.open(source).convert("RGB"), dtype=int)
    after = np.asarray(result.convert("RGB"), dtype=int)
    assert (after[:, :80] == before[:, :80]).all()  # black: untouched
    assert np.abs(after[:, 100:] - before[:, 100:]).mean() > 2  # white: dreamed
    page.wait_for_function("() => document.querySelector('#dream-cli textarea').value.includes('--mask')")
    assert "--lap-norm 3" in page.locator("#dream-cli textarea").input_value()
    page.close()


def test_a_painted_mask_in_the_browser(server, browser, tmp_path):
    source = tmp_path / "cat.png"
    save_image(torch.nn.functional.interpolate(load_image("skimage:chelsea").rgb, size=(120, 180), mode="area"), source)
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(server)
    page.locator("#dream-input input[type=file]").set_input_files(str(source))
    page.locator("#dream-input img").first.wait_for(timeout=30_000)
    page.get_by_text("Guide and mask").click()
    editor = page.locator("#dream-mask-draw")
    canvas = editor.locator("canvas").first
    canvas.wait_for(timeout=30_000)
    time.sleep(1)  # the input is set as the canvas's background
    editor.locator("button[aria-label=Brush]").first.click()
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(12):  # a stroke to the right and down, over the right half only
        page.mouse.move(x0 + k * box["width"] * 0.01, y0 + k * box["height"] * 0.03)
    page.mouse.up()
    _set_number(page, "dream-octaves", 1)
    _set_number(page, "dream-steps", 6)
    result = _dream_and_download(page, server, tmp_path, "web-painted-mask.png")
    assert json.loads(result.info["inceptionism"])["mask"] == "painted"
    before = np.asarray(Image.open(source).convert("RGB"), dtype=int)
    after = np.asarray(result.convert("RGB"), dtype=int)
    changed = np.abs(after - before).max(axis=2) > 0
    assert not changed[:, :50].any()  # far from the stroke: the input, bit for bit
    assert changed[:, 90:].mean() > 0.05  # under the stroke: dreamed
    page.close()


def test_an_example_click_and_a_short_animation_in_the_browser(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(server)
    page.get_by_role("tab", name="Animate").click()
    page.locator("#animate-examples button.gallery-item").first.click()  # chelsea, one click away
    page.locator("#animate-input img").first.wait_for(timeout=30_000)
    _set_number(page, "animate-frames", 3)
    _set_number(page, "animate-every", 1)
    page.locator("#animate-run").click()
    page.wait_for_function(
        "() => document.querySelector('#animate-status textarea').value.startsWith('frame')", timeout=120_000)
    page.wait_for_function(
        "() => document.querySelector('#animate-status textarea').value === 'done: 3 frames'", timeout=180_000)
    link = page.locator("#animate-download a").first
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    movie = Image.open(io.BytesIO(page.request.get(href if href.startswith("http") else server + href).body()))
    assert movie.format == "GIF" and movie.n_frames == 3 and movie.size == (451, 300)
    # the result joins this session's gallery, where it can be opened again
    page.wait_for_function("() => [...document.querySelectorAll('#session-gallery img')]"
                           ".some(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
    _shot(page, "web-animate.png", tmp_path)
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


def _download(page, server: str, elem_id: str) -> Image.Image:
    link = page.locator(f"#{elem_id} a").first
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    response = page.request.get(href if href.startswith("http") else server + href)
    assert response.ok
    return Image.open(io.BytesIO(response.body()))


def _run_again(page, server: str, button: str, download: str) -> Image.Image:
    """Click ``button`` again and return the new download, once its link has changed.

    (The link is read before the click: read after it, a fast job's new link could already be the one read.)
    """
    href = page.locator(f"#{download} a").first.get_attribute("href")
    page.locator(f"#{button}").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#%s a')].some(a => a.getAttribute('href') !== %s)"
        % (download, json.dumps(href)), timeout=60_000)
    return _download(page, server, download)


def _wait_status(page, elem_id: str, prefix: str, timeout_ms: int) -> None:
    page.wait_for_function(f"() => document.querySelector('#{elem_id} textarea').value.startsWith('{prefix}')",
                           timeout=timeout_ms)


def test_style_tab_in_the_browser(server, browser, tmp_path):
    """One content picture for the three tools under their sub-tabs, one result column beside them:
    any painting (an example painting clicked), the built-in styles (a thumbnail clicked, then a mix),
    and optimisation with two styles (previews, download, Cancel)."""

    def picture(name: str, size: tuple[int, int]) -> Path:
        path = tmp_path / f"{name.split(':')[-1]}.png"
        save_image(torch.nn.functional.interpolate(load_image(name).rgb, size=size, mode="area"), path)
        return path

    content = picture("skimage:chelsea", (120, 180))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.get_by_role("tab", name="Style").click()
    page.locator("#style-content input[type=file]").set_input_files(str(content))
    page.locator("#style-content img").first.wait_for(timeout=30_000)
    _shot(page, "web-style.png", tmp_path)

    # any painting, instantly: a painting that ships, one click away, at full and at no strength
    page.locator("#any-examples button.gallery-item").first.click()
    page.locator("#any-painting img").first.wait_for(timeout=30_000)
    page.locator("#any-run").click()
    full = _download(page, server, "style-download")
    assert json.loads(full.info["inceptionism"])["network"] == "magenta arbitrary" and full.size == (180, 120)
    # the example is the painting itself, not a thumbnail of it
    from inceptionism.examples import painting

    shipped = hashlib.sha256(Path(painting("starry_night")).read_bytes()).hexdigest()
    assert json.loads(full.info["inceptionism"])["style_sha256"] == [shipped]
    _set_number(page, "any-strength", 0)
    none = _run_again(page, server, "any-run", "style-download")
    assert json.loads(none.info["inceptionism"])["strength"] == 0
    photo = np.asarray(Image.open(content).convert("RGB").resize(full.size), dtype=float)
    away = [np.abs(np.asarray(im.convert("RGB"), dtype=float) - photo).mean() for im in (full, none)]
    assert away[0] > away[1]  # at strength 0 the photo's own style: closer to the photo

    # the built-in styles: clicking a thumbnail uses that style alone; the sliders mix
    page.get_by_role("tab", name="Built-in styles", exact=True).click()
    page.locator("#instant-thumb-1 img").first.click()
    page.wait_for_function("() => document.querySelector('#instant-mix-1 input[type=number]').value === '1'",
                           timeout=30_000)
    first = _run_again(page, server, "instant-run", "style-download")
    meta = json.loads(first.info["inceptionism"])
    assert meta["mix"][:2] == [0.0, 1.0] and first.size == (180, 120)
    _set_number(page, "instant-mix-0", 1)
    _set_number(page, "instant-mix-1", 0)
    second = _run_again(page, server, "instant-run", "style-download")
    assert json.loads(second.info["inceptionism"])["mix"][:2] == [1.0, 0.0]
    a, b = (np.asarray(im.convert("RGB"), dtype=float) for im in (first, second))
    assert np.abs(a - b).mean() > 10  # another style, another picture
    _shot(page, "web-instant.png", tmp_path)

    # optimisation with two styles, on the same content picture
    page.get_by_role("tab", name="Optimisation", exact=True).click()
    page.locator("#style-a input[type=file]").set_input_files(str(picture("skimage:coffee", (128, 128))))
    page.locator("#style-b input[type=file]").set_input_files(str(picture("skimage:rocket", (128, 128))))
    for elem in ("style-a", "style-b"):
        page.locator(f"#{elem} img").first.wait_for(timeout=30_000)
    _set_number(page, "style-size", 128)
    _set_number(page, "style-steps", 20)
    page.locator("#style-run").click()
    _wait_status(page, "style-status", "scale", 120_000)  # live progress, with a preview
    _shot(page, "web-style-running.png", tmp_path)
    _wait_status(page, "style-status", "done: 20", 300_000)
    result = _download(page, server, "style-download")
    assert max(result.size) == 128
    assert json.loads(result.info["inceptionism"])["style_weights"] == [0.5, 0.5]
    before = np.asarray(Image.open(content).convert("RGB").resize(result.size), dtype=float)
    assert np.abs(np.asarray(result.convert("RGB"), dtype=float) - before).mean() > 5
    # Cancel stops a long run, and the button is given back
    _set_number(page, "style-size", 384)
    _set_number(page, "style-steps", 200)
    page.locator("#style-run").click()
    _wait_status(page, "style-status", "scale", 120_000)
    page.locator("#style-cancel").click()
    _wait_status(page, "style-status", "cancelled", 60_000)  # said once the work has stopped
    page.wait_for_function("() => !document.querySelector('#style-run').disabled", timeout=30_000)
    page.close()
