"""The README's screenshots of the browser UI: each tab at 1400x1000 after a small job, as a newcomer sees it.

    python docs/make_web_shots.py          # writes docs/gallery/web-{dream,visualize,style,animate}.jpg

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


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve("127.0.0.1", port, block=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}")
            page.locator("#dream-examples button.gallery-item").first.click()
            page.locator("#dream-input img").first.wait_for(timeout=30_000)
            page.locator("#dream-run").click()
            _done(page, "dream-status")
            page.locator("#dream-cli-button").click()
            page.wait_for_timeout(1000)
            _shot(page, "dream")

            page.get_by_role("tab", name="Visualize", exact=True).click()
            page.locator("#visualize-target input").fill("flamingo")
            page.keyboard.press("Enter")
            page.locator("#visualize-run").click()
            _done(page, "visualize-status")
            _shot(page, "visualize")

            page.get_by_role("tab", name="Style", exact=True).click()
            page.locator("#style-examples button.gallery-item").nth(1).click()
            page.locator("#style-content img").first.wait_for(timeout=30_000)
            page.locator("#any-examples button.gallery-item").first.click()
            page.locator("#any-painting img").first.wait_for(timeout=30_000)
            page.locator("#any-run").click()
            _done(page, "style-status")
            _shot(page, "style")

            page.get_by_role("tab", name="Animate", exact=True).click()
            page.locator("#animate-examples button.gallery-item").nth(3).click()
            page.locator("#animate-input img").first.wait_for(timeout=30_000)
            _number(page, "animate-frames", 12)
            _number(page, "animate-every", 2)
            page.locator("#animate-run").click()
            _done(page, "animate-status")
            page.wait_for_timeout(1500)
            _shot(page, "animate")
            browser.close()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
