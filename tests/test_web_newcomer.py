"""The browser UI as a newcomer meets it (issue 35): every upload checked when it arrives (after an example
click too), the button, its progress and its result in one view, download-only outputs, a command line that
runs as shown, errors that keep the result, Animate's limits, partial movie and playing movie.

Headless Chromium (Debian's package) driven by Playwright, like tests/test_web.py.
"""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.io.images import load_image, save_image
from tests.test_web import server  # noqa: F401 - the same server set-up (a module-scoped fixture of this module)

pytest.importorskip("gradio")

TABS = {  # tab: (its upload that examples fill, its examples row, its button, its status box)
    "Dream": ("dream-input", "dream-examples", "dream-run", "dream-status"),
    "Style": ("style-content", "style-examples", "any-run", "style-status"),
    "Animate": ("animate-input", "animate-examples", "animate-run", "animate-status"),
}


def _status(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea").input_value()


def _wait_status(page, elem_id: str, prefix: str, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(f"() => document.querySelector('#{elem_id} textarea').value.startsWith({json.dumps(prefix)})",
                           timeout=timeout_ms)


def _set_number(page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def _fetch(page, server: str, elem_id: str) -> tuple[str, bytes]:
    link = page.locator(f"#{elem_id} a").first
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    response = page.request.get(href if href.startswith("http") else server + href)
    assert response.ok
    return href, response.body()


def test_an_example_click_then_a_bad_upload_is_refused_on_every_tab(server, browser, tmp_path, capfd):
    """Gradio's own "Could not preprocess" (with the server's path) once followed an example click."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    for tab, (upload, examples, button, status) in TABS.items():
        bad = tmp_path / f"not_an_image_{tab}.png"  # a name of its own: the toast that says it is this tab's
        bad.write_text("hello, not a picture\n")
        page.get_by_role("tab", name=tab, exact=True).click()
        page.locator(f"#{examples} button.gallery-item").first.click()
        page.locator(f"#{upload} img").first.wait_for(timeout=30_000)
        page.locator(f"#{upload} input[type=file]").set_input_files(str(bad))
        page.locator(".toast-body", has_text=f"{bad.name}: cannot read image").first.wait_for(timeout=30_000)
        page.wait_for_function(f"() => !document.querySelector('#{upload} img')", timeout=30_000)  # emptied
        page.locator(f"#{button}").click()
        _wait_status(page, status, "error: upload")
        toasts = " ".join(page.locator(".toast-body").all_inner_texts())
        assert "preprocess" not in toasts and "/tmp/" not in toasts, (tab, toasts)
        page.wait_for_function(f"() => !document.querySelector('#{button}').disabled", timeout=30_000)
    page.close()
    log = capfd.readouterr().err
    assert "Traceback" not in log and "Could not preprocess" not in log
    for tab in TABS:  # each refused once, by its upload's check (never again by the click that followed)
        assert log.count(f"inceptionism web: refused: not_an_image_{tab}.png: cannot read image: not an image file") \
            == 1, (tab, log)


def test_the_button_its_progress_and_its_result_are_in_one_view(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    for tab, (_, _, button, status) in {**TABS, "Visualize": (None, None, "visualize-run", "visualize-status")}.items():
        page.get_by_role("tab", name=tab, exact=True).click()
        output = {"Dream": "dream-output", "Style": "style-output", "Animate": "animate-output",
                  "Visualize": "visualize-output"}[tab]
        page.locator(f"#{output}").wait_for(timeout=30_000)
        for elem in (button, status, output):
            box = page.locator(f"#{elem}").bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 200) <= 1000, (tab, elem, box)
        # the button sits in the result column, beside its progress (not under the controls on the left)
        button_box, status_box = page.locator(f"#{button}").bounding_box(), page.locator(f"#{status}").bounding_box()
        assert button_box["x"] >= status_box["x"] - 1, (tab, button_box, status_box)
        # outputs are download-only: no file input in any download box
        download = {"Dream": "dream-download", "Style": "style-download", "Animate": "animate-download",
                    "Visualize": "visualize-download"}[tab]
        assert page.locator(f"#{download} input[type=file]").count() == 0, tab
    # the Style tab shows the button of the chosen sub-tab
    page.get_by_role("tab", name="Style", exact=True).click()
    page.get_by_role("tab", name="Optimisation", exact=True).click()
    page.locator("#style-run").wait_for(state="visible", timeout=30_000)
    assert not page.locator("#any-run").is_visible()
    page.get_by_role("tab", name="Any painting", exact=True).click()
    page.locator("#any-run").wait_for(state="visible", timeout=30_000)
    # while a dream runs its button says so and cannot be pressed twice; result and progress stay in view
    page.get_by_role("tab", name="Dream", exact=True).click()
    page.locator("#dream-examples button.gallery-item").first.click()
    page.locator("#dream-input img").first.wait_for(timeout=30_000)
    page.mouse.wheel(0, 1500)  # scrolled down to the last controls
    page.locator("#dream-run").click()
    page.wait_for_function("() => document.querySelector('#dream-run').disabled", timeout=30_000)
    assert "Dreaming" in page.locator("#dream-run").inner_text()
    _wait_status(page, "dream-status", "step")
    for elem in ("dream-run", "dream-status", "dream-output"):
        box = page.locator(f"#{elem}").bounding_box()
        assert box["y"] + min(box["height"], 200) <= 1000 and box["y"] + box["height"] >= 0, (elem, box)
    _wait_status(page, "dream-status", "done")
    page.wait_for_function("() => !document.querySelector('#dream-run').disabled", timeout=30_000)
    # with a measured speed, the page says how long a picture of this size takes, before it is pressed
    page.wait_for_function("() => document.querySelector('#dream-estimate').innerText.includes('about')",
                           timeout=30_000)
    page.close()


def test_the_equivalent_command_runs_and_makes_the_same_picture(server, browser, tmp_path, monkeypatch):
    from inceptionism.cli import main

    source = tmp_path / "my cat.png"  # a space, as real file names have
    save_image(torch.nn.functional.interpolate(load_image("skimage:chelsea").rgb, size=(96, 144), mode="area"), source)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.locator("#dream-examples button.gallery-item").first.click()
    page.locator("#dream-input img").first.wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelector('#dream-cli textarea').value.includes('skimage:chelsea')",
                           timeout=30_000)  # an example by its own name, not the server's file
    page.locator("#dream-input input[type=file]").set_input_files(str(source))
    page.locator("#dream-input img").first.wait_for(timeout=30_000)
    _set_number(page, "dream-octaves", 2)
    _set_number(page, "dream-steps", 3)
    page.locator("#dream-run").click()
    _wait_status(page, "dream-status", "done")
    _, png = _fetch(page, server, "dream-download")
    # the command follows the settings by itself (it was stale until a button was pressed)
    page.wait_for_function("() => document.querySelector('#dream-cli textarea').value.includes('my cat.png')",
                           timeout=30_000)
    command = _status(page, "dream-cli")
    assert "/tmp" not in command and page.locator("#dream-cli button").count() >= 1  # and a copy button
    words = shlex.split(command)
    assert words[:2] == ["inceptionism", "dream"]
    assert "--steps 3" in command
    _set_number(page, "dream-steps", 4)
    page.wait_for_function("() => document.querySelector('#dream-cli textarea').value.includes('--steps 4')",
                           timeout=30_000)
    # while a new dream runs, the download box does not offer the previous picture
    page.locator("#dream-run").click()
    page.wait_for_function("() => document.querySelectorAll('#dream-download a').length === 0", timeout=30_000)
    _wait_status(page, "dream-status", "done")
    _set_number(page, "dream-steps", 3)
    page.wait_for_function("() => document.querySelector('#dream-cli textarea').value.includes('--steps 3')",
                           timeout=30_000)
    command = _status(page, "dream-cli")
    words = shlex.split(command)
    monkeypatch.chdir(tmp_path)  # where the reader's picture is
    assert main(words[1:] + ["--quiet"]) == 0
    ours = np.asarray(Image.open(tmp_path / "dream.png").convert("RGB"), dtype=int)
    theirs = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1
    page.close()


def test_an_error_keeps_the_result_and_cancel_with_nothing_running_keeps_done(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.locator("#dream-examples button.gallery-item").first.click()
    page.locator("#dream-input img").first.wait_for(timeout=30_000)
    _set_number(page, "dream-octaves", 1)
    _set_number(page, "dream-steps", 2)
    page.locator("#dream-run").click()
    _wait_status(page, "dream-status", "done")
    shown = page.locator("#dream-output img").first.get_attribute("src")
    page.locator("#dream-cancel").click()  # nothing runs: "done" stays
    page.wait_for_timeout(1500)
    assert _status(page, "dream-status").startswith("done")
    page.locator("#dream-noise input").check()
    page.locator("#dream-noise-size textarea").fill("a lot")
    page.locator("#dream-run").click()
    _wait_status(page, "dream-status", "error: ")
    assert "noise size" in _status(page, "dream-status")
    assert page.locator("#dream-output img").first.get_attribute("src") == shown  # the result stays
    page.close()


def test_animate_says_its_limit_plays_the_movie_and_cancel_keeps_the_frames(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.get_by_role("tab", name="Animate", exact=True).click()
    page.locator("#animate-noise input").check()
    _set_number(page, "animate-every", 1)
    _set_number(page, "animate-frames", 500)
    page.locator("#animate-run").click()
    _wait_status(page, "animate-status", "error: 500 frames: 1 to 120 here")
    # MP4: the finished movie plays in the page, and joins the session's gallery
    _set_number(page, "animate-frames", 3)
    page.locator("#animate-format label", has_text="MP4").click()
    # the picture box says where an MP4 plays (it said "the movie (GIF) playing" whatever was chosen)
    page.get_by_text("The latest frame (the MP4 plays below when done)").first.wait_for(timeout=30_000)
    page.locator("#animate-run").click()
    _wait_status(page, "animate-status", "done: 3 frames")
    page.locator("#animate-movie video").first.wait_for(timeout=30_000)
    page.wait_for_function("() => [...document.querySelectorAll('#session-gallery video, #session-gallery img')]"
                           ".length > 0", timeout=30_000)
    # Cancel keeps the frames made: their movie is offered, and the status says how many
    page.locator("#animate-format label", has_text="GIF").click()
    _set_number(page, "animate-frames", 60)
    page.locator("#animate-run").click()
    _wait_status(page, "animate-status", "frame 2")
    page.locator("#animate-cancel").click()
    _wait_status(page, "animate-status", "cancelled after", 60_000)
    made = int(_status(page, "animate-status").split("after ")[1].split(" ")[0])
    assert 2 <= made < 60
    page.wait_for_function("() => [...document.querySelectorAll('#animate-download a')]"
                           ".some(a => a.getAttribute('href').includes('zoom-first-'))", timeout=30_000)
    href = page.locator("#animate-download a").first.get_attribute("href")
    body = page.request.get(href if href.startswith("http") else server + href).body()
    movie = Image.open(io.BytesIO(body))
    assert movie.format == "GIF" and movie.n_frames == made
    page.close()


def test_the_estimate_offers_a_smaller_size_for_a_big_photo():
    from inceptionism.web.dream_tab import estimate

    first = estimate(4000, 3000, 4, 10, None)
    assert first.startswith("4000x3000 (12.0 MP)") and "measures" in first
    said = estimate(4000, 3000, 4, 10, 0.5)
    assert "about" in said and "1024" in said
    small = estimate(4000, 3000, 4, 10, 0.5, max_side=1024)
    assert small.startswith("1024x768") and "1024 for" not in small


def test_a_painted_mask_is_named_in_the_command_and_the_examples_by_their_names():
    from inceptionism.web.dream_tab import command_line

    painted = {"layers": [np.dstack([np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 1), 255, np.uint8)])]}
    line = command_line("/srv/x/skimage-chelsea.png", False, "", "efficientnet_lite0", [], -1, None, 4, 10, 0.01, 0,
                        painted=painted, max_side=800)
    head, note = line.split("  # ")
    assert shlex.split(head)[2] == "skimage:chelsea" and "--max-side 800" in head
    assert "--mask MASK.png" in note
    assert shlex.split(command_line("/tmp/gradio/abc/holiday.jpg", False, "", "vgg16", [], -1, None, 4, 10, 0.01,
                                    0))[2:6] == ["holiday.jpg", "-o", "dream.png", "--model"]


def test_models_say_where_their_weights_are_and_a_failed_download_is_said_in_the_page_words(monkeypatch, tmp_path):
    from inceptionism.errors import ModelError
    from inceptionism.web import app

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # nothing cached
    assert app.model_label("efficientnet_lite0") == "efficientnet_lite0 (built in)"
    assert "downloads its weights on first use" in app.model_label("googlenet")

    def offline(*args, **kwargs):
        raise ModelError("weights for googlenet are not in the torch cache ... or pass --weights FILE")

    monkeypatch.setattr(app, "get_model", offline)
    app.network.cache_clear()
    with pytest.raises(ModelError) as caught:
        app.network("googlenet", None, "cpu")
    assert "--weights" not in str(caught.value) and "efficientnet_lite0" in str(caught.value)
    app.network.cache_clear()
