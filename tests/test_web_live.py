"""The Live tab (issue 32): Chromium's fake camera plays a clip the test writes; the page paints it with a
painting, then dreams it, records, and the recording downloads as a playable MP4; a second visitor's camera
does not freeze the first's.
"""

from __future__ import annotations

import base64
import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_web import _free_port

pytest.importorskip("gradio")
playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")


def camera_clip(path: Path, *, seconds: float = 4, fps: int = 15, size: tuple[int, int] = (240, 320)) -> list[np.ndarray]:
    """scikit-image's cat panning sideways, as a .y4m that Chromium plays as the camera; returns its frames."""
    from inceptionism.io.images import load_image
    from inceptionism.io.video import ffmpeg_exe

    h, w = size
    cat = (load_image("skimage:chelsea").rgb[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)  # 300x451
    frames = []
    for i in range(int(seconds * fps)):
        x = int(60 * (0.5 - 0.5 * np.cos(2 * np.pi * i / (seconds * fps))))  # there and back: the clip loops
        crop = Image.fromarray(cat[30:270, x: x + 320]).resize((w, h))
        frames.append(np.asarray(crop))
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                    "-r", str(fps), "-i", "-", "-pix_fmt", "yuv420p", str(path)],
                   input=b"".join(f.tobytes() for f in frames), check=True)
    return frames


@pytest.fixture(scope="module")
def live_server():
    from inceptionism.web import WebLimits, serve

    port = _free_port()
    # (not compiled: most of a minute of a compiler in the background; benchmarks.live measures that path)
    app = serve("127.0.0.1", port, limits=WebLimits(max_upload_bytes=5 * 2**20), block=False, compile_live=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    """Chromium whose camera plays the clip, and the clip's frames."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium (the README's test command installs it)")
    folder = tmp_path_factory.mktemp("camera")
    frames = camera_clip(folder / "clip.y4m")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={folder / 'clip.y4m'}"])
        yield browser, frames
        browser.close()


def _start(browser, server: str) -> object:
    context = browser.new_context(permissions=["camera"], viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    page.get_by_role("tab", name="Live").click()
    page.locator("#live-painting-examples button.gallery-item").first.click()
    page.locator("#live-painting img").first.wait_for(timeout=30_000)
    page.locator("#live-camera button", has_text="Click to Access Webcam").click()
    page.locator("#live-camera button", has_text="Record").click()  # the webcam's own button: start streaming
    return page


def _status(page) -> str:
    return page.locator("#live-status textarea").input_value()


def _shown(page, count: int, timeout_ms: int = 60_000) -> list[np.ndarray]:
    """``count`` different pictures shown in the live output, one after another."""
    seen: list[str] = []
    pictures = []
    page.wait_for_function("() => document.querySelector('#live-output img') !== null", timeout=timeout_ms)
    for _ in range(count):
        page.wait_for_function(
            "(seen) => { const img = document.querySelector('#live-output img');"
            " return img && img.src && !seen.includes(img.src); }", arg=seen, timeout=timeout_ms)
        src = page.locator("#live-output img").first.get_attribute("src")
        seen.append(src)
        assert src.startswith("data:image/jpeg;base64,"), src[:80]  # inline: no file, no second request
        body = base64.b64decode(src.split(",", 1)[1])
        pictures.append(np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), dtype=np.float32) / 255)
    return pictures


def _nearest_camera_difference(picture: np.ndarray, frames: list[np.ndarray]) -> float:
    """How far a shown picture is from the closest camera frame (mirrored or not), mean absolute difference."""
    h, w = picture.shape[:2]
    best = 1.0
    for frame in frames[::3]:
        small = np.asarray(Image.fromarray(frame).resize((w, h)), dtype=np.float32) / 255
        best = min(best, float(np.abs(small - picture).mean()), float(np.abs(small[:, ::-1] - picture).mean()))
    return best


def test_live_paints_then_dreams_the_camera_and_records_an_mp4(live_server, camera, tmp_path):
    from inceptionism.io.video import read_video

    browser, frames = camera
    # our Record, pressed before the camera streams, says what to do (it said "recording..." then "nothing")
    early = browser.new_page(viewport={"width": 1400, "height": 1000})
    early.goto(live_server)
    early.get_by_role("tab", name="Live").click()
    early.locator("#live-record").click()
    early.wait_for_function("() => document.querySelector('#live-status textarea').value.startsWith("
                            "'start the camera first')", timeout=30_000)
    early.close()
    page = _start(browser, live_server)
    painted = _shown(page, 4)
    assert _status(page).startswith("live: "), _status(page)
    for picture in painted:
        assert _nearest_camera_difference(picture, frames) > 0.08  # painted, not the camera frame
    assert np.abs(painted[0] - painted[-1]).mean() > 0.003  # the scene moves: so do the pictures
    page.screenshot(path=str(tmp_path / "live.png"))

    # a second visitor's camera does not freeze the first's
    other = _start(browser, live_server)
    both = _shown(other, 2) + _shown(page, 2)
    assert len(both) == 4
    other.context.close()

    page.locator("#live-mode label", has_text="Dream").click()
    _shown(page, 2)  # (the painting's last pictures may still come)
    dreamt = _shown(page, 3)
    assert _status(page).startswith("live: "), _status(page)
    assert all(_nearest_camera_difference(d, frames) > 0.02 for d in dreamt)
    assert min(np.abs(d - p).mean() for d in dreamt for p in painted) > 0.05  # a dream, not the painting

    page.locator("#live-record").click()
    page.wait_for_function("() => /recording: [1-9][0-9]* frames/.test("
                           "document.querySelector('#live-status textarea').value)", timeout=60_000)
    page.wait_for_timeout(2500)
    page.locator("#live-stop").click()
    link = page.locator("#live-movie a").first
    link.wait_for(timeout=60_000)
    said = _status(page)
    assert "recorded " in said and "frames at" in said, said
    href = link.get_attribute("href")
    body = page.request.get(href if href.startswith("http") else live_server + href).body()
    movie = tmp_path / "live.mp4"
    movie.write_bytes(body)
    shown = list(read_video(movie))
    assert len(shown) >= 3 and shown[0].shape[1] == 320 and shown[0].std() > 10
    # and the recording joins this session's results, as every other result does
    page.wait_for_function("() => document.querySelectorAll('#session-gallery video, #session-gallery img')"
                           ".length > 0", timeout=30_000)
    # the camera stopped: the status says so, not the last frame rate
    page.locator("#live-camera button", has_text="Stop").first.click()
    page.wait_for_function("() => document.querySelector('#live-status textarea').value.startsWith('stopped:')",
                           timeout=30_000)
    page.context.close()
