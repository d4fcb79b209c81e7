"""The README's screenshots of the browser UI: each tab at 1400x1000 after a small job, as a newcomer sees it.

    python docs/make_web_shots.py          # writes docs/gallery/web-{dream,visualize,style,animate,train}.jpg
    python docs/make_web_shots.py --only train --paintings ../shared/images   # one tab's (the Train tab: a
                                                                              # 40-step network on those paintings)

Needs the web and test extras (Gradio, Playwright) and Debian's chromium. About two minutes on two cores.
"""

from __future__ import annotations

import io
import socket
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from inceptionism.web import serve

GALLERY = Path(__file__).resolve().parent / "gallery"


def _shot(page, name: str) -> None:
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")  # the viewport: what fits one screen
    image.save(GALLERY / f"web-{name}.jpg", quality=85)
    print(f"wrote docs/gallery/web-{name}.jpg", file=sys.stderr)


def _done(page, status: str, prefix: str = "done", timeout_ms: int = 300_000) -> None:
    page.wait_for_function(f"() => document.querySelector('#{status} textarea').value.startsWith('{prefix}')",
                           timeout=timeout_ms)
    page.wait_for_function("() => ![...document.querySelectorAll('button.primary')].some(b => b.disabled)",
                           timeout=30_000)  # the button given back
    page.wait_for_timeout(800)


def _number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def _train(page, paintings: Path, work: Path) -> None:
    """A 40-step style network on two paintings and a zip of scikit-image's pictures, trained in the Train tab."""
    import zipfile

    import skimage.data

    photos = work / "photos.zip"
    with zipfile.ZipFile(photos, "w") as z:
        for name in ("astronaut", "coffee", "chelsea", "rocket", "brick", "coins"):
            arr = getattr(skimage.data, name)()
            buffer = io.BytesIO()
            Image.fromarray(arr).convert("RGB").save(buffer, "JPEG", quality=90)
            z.writestr(f"photos/{name}.jpg", buffer.getvalue())
    chosen = [paintings / "starry_night.jpg", paintings / "woman-with-hat-matisse.jpg"]
    page.get_by_role("tab", name="Train", exact=True).click()
    page.locator("#train-paintings input[type=file]").set_input_files([str(p) for p in chosen])
    page.locator("#train-photos input[type=file]").set_input_files(str(photos))
    page.get_by_text("photos.zip").first.wait_for(timeout=30_000)
    page.locator("#train-name input, #train-name textarea").first.fill("two paintings")
    _number(page, "train-style-steps", 40)
    page.locator("#train-style-size input[type=number]").fill("128")
    page.locator("#train-style-size input[type=number]").press("Enter")
    page.locator("#train-run").click()
    _done(page, "train-status")
    page.wait_for_timeout(3000)


def main() -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("dream", "visualize", "style", "animate", "live", "train"), default=None)
    parser.add_argument("--paintings", default=str(Path(__file__).resolve().parents[2] / "shared" / "images"),
                        help="a folder with starry_night.jpg and woman-with-hat-matisse.jpg (the Train tab's shot)")
    args = parser.parse_args()
    wanted = {args.only} if args.only else {"dream", "visualize", "style", "animate", "live", "train"}
    camera = Path(tempfile.mkdtemp()) / "clip.y4m"  # Chromium's camera: scikit-image's cat, panning
    sys.path.insert(0, str(GALLERY.parents[1]))  # (the repository's root: tests/ lends the clip maker)
    from tests.test_web_live import camera_clip

    camera_clip(camera)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve("127.0.0.1", port, block=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
                                              "--use-fake-ui-for-media-stream",
                                              f"--use-file-for-fake-video-capture={camera}"])
            context = browser.new_context(permissions=["camera"], viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            if "dream" in wanted:
                page.locator("#dream-examples button.gallery-item").first.click()
                page.locator("#dream-input img").first.wait_for(timeout=30_000)
                page.locator("#dream-run").click()
                _done(page, "dream-status")
                page.wait_for_timeout(1000)
                _shot(page, "dream")
            if "visualize" in wanted:
                page.get_by_role("tab", name="Visualize", exact=True).click()
                page.locator("#visualize-target input").fill("flamingo")
                page.keyboard.press("Enter")
                page.locator("#visualize-run").click()
                _done(page, "visualize-status")
                _shot(page, "visualize")
            if "style" in wanted:
                page.get_by_role("tab", name="Style", exact=True).click()
                page.locator("#style-examples button.gallery-item").nth(1).click()
                page.locator("#style-content img").first.wait_for(timeout=30_000)
                page.locator("#any-examples button.gallery-item").first.click()
                page.locator("#any-painting img").first.wait_for(timeout=30_000)
                page.locator("#any-run").click()
                _done(page, "style-status")
                _shot(page, "style")
            if "animate" in wanted:
                page.get_by_role("tab", name="Animate", exact=True).click()
                page.locator("#animate-examples button.gallery-item").nth(3).click()
                page.locator("#animate-input img").first.wait_for(timeout=30_000)
                _number(page, "animate-frames", 12)
                _number(page, "animate-every", 2)
                page.locator("#animate-run").click()
                _done(page, "animate-status")
                page.wait_for_timeout(1500)
                _shot(page, "animate")
            if "live" in wanted:
                page.get_by_role("tab", name="Live", exact=True).click()
                page.locator("#live-painting-examples button.gallery-item").first.click()
                page.locator("#live-painting img").first.wait_for(timeout=30_000)
                page.locator("#live-camera button", has_text="Click to Access Webcam").click()
                page.locator("#live-camera button", has_text="Record").click()
                page.wait_for_function("() => document.querySelector('#live-status textarea').value"
                                       ".startsWith('live: ')", timeout=120_000)
                # the style network compiles in the background first (most of a minute): then the pace it keeps
                page.wait_for_function("() => { const m = /live: ([0-9.]+) frames/.exec(document.querySelector("
                                       "'#live-status textarea').value); return m && parseFloat(m[1]) >= 5; }",
                                       timeout=180_000)
                page.wait_for_timeout(3000)
                _shot(page, "live")
                page.locator("#live-camera button", has_text="Stop").first.click()
            if "train" in wanted:
                with tempfile.TemporaryDirectory() as work:
                    _train(page, Path(args.paintings), Path(work))
                    _shot(page, "train")
            browser.close()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
