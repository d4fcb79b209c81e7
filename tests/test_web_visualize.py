"""The Visualize tab in headless Chromium: a topic of a captions model forms live, is downloaded with its
recipe, the model's atlas of topics, and Cancel."""

from __future__ import annotations

import json

import pytest

from .test_train_dream import FAST, make_collection
from .test_web import _download, _free_port, _set_number, _shot, _wait_status


@pytest.fixture(scope="module")
def captions_server(tmp_path_factory):
    from inceptionism.dream.train import DreamTrainConfig, train_dream
    from inceptionism.web import WebLimits, serve

    root = make_collection(tmp_path_factory.mktemp("captions") / "photos", per_kind=6)
    model = root.parent / "mine.safetensors"
    train_dream(root, model, DreamTrainConfig(topics=3, epochs=2, **FAST))
    port = _free_port()
    app = serve("127.0.0.1", port, dream_models=(str(model),), limits=WebLimits(max_upload_bytes=5 * 2**20),
                block=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


def test_visualize_a_topic_its_atlas_and_cancel_in_the_browser(captions_server, browser, tmp_path):
    server = captions_server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.get_by_role("tab", name="Visualize").click()
    # the user model comes first, with its topics by their top words
    page.wait_for_function("() => (document.querySelector('#visualize-target input') || {}).value"
                           "?.startsWith('topic 0:')", timeout=30_000)
    _set_number(page, "visualize-size", 64)
    _set_number(page, "visualize-steps", 24)
    page.locator("#visualize-run").click()
    _wait_status(page, "visualize-status", "step", 120_000)  # the picture forms live
    _wait_status(page, "visualize-status", "done", 120_000)
    picture = _download(page, server, "visualize-download")
    assert picture.size == (64, 64)
    recipe = json.loads(picture.info["inceptionism"])
    assert recipe["command"] == "visualize" and recipe["topic"] == "0" and recipe["config"]["steps"] == 24
    _shot(page, "web-visualize.png", tmp_path)

    # the atlas of all three topics, labelled
    page.locator("#visualize-atlas").click()
    _wait_status(page, "visualize-status", "done: 3 tiles", 180_000)
    page.wait_for_function("() => [...document.querySelectorAll('#visualize-download a')]"
                           ".some(a => a.getAttribute('href').includes('atlas-003'))", timeout=30_000)
    sheet = _download(page, server, "visualize-download")
    assert sheet.width > 2 * 64 and sheet.height > 2 * 64
    assert json.loads(sheet.info["inceptionism"])["tiles"][0].startswith("topic 0:")

    # a long run stops when Cancel is pressed
    _set_number(page, "visualize-steps", 512)
    page.locator("#visualize-run").click()
    _wait_status(page, "visualize-status", "step", 120_000)
    page.locator("#visualize-cancel").click()
    _wait_status(page, "visualize-status", "cancel", 60_000)

    # ImageNet's 1,000 classes make no atlas here: with the built-in model the button cannot be pressed
    assert page.locator("#visualize-atlas").is_enabled()
    page.locator("#visualize-model input").click()
    page.get_by_role("option", name="efficientnet_lite0 (built in)").click()
    page.wait_for_function("() => document.querySelector('#visualize-atlas').disabled", timeout=30_000)
    page.close()
