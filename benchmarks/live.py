"""The Live tab's speed: frames a second in-process and end to end in the browser, and the latency.

    python -m benchmarks.live                 # in-process, then the browser (Chromium's fake camera)
    python -m benchmarks.live --seconds 20 --no-browser

In-process, at 320x240 on this machine's threads: Magenta's arbitrary network alone (one frame in,
one painted frame out), the same with the steadying blend along the optical flow (what the tab runs),
the built-in styles' network, and the dream at one and two steps a frame.

In the browser: the server in this process, headless Chromium whose camera plays a 320x240 clip
(scikit-image's cat panning), the Live tab painting it with a painting. Frames a second are the
pictures the page shows; the latency of each is from the moment the page captured the camera frame
(Gradio's webcam draws the video onto a canvas and encodes it: the hook times that) to the moment
the painted picture's element changed. The page posts a frame every 50 ms; Gradio keeps only the newest
one that came while the server was painting and hands it over next, so most frames are never painted.
The server notes when each frame it painted came (this machine's clock, as the page's is); the frame a
picture paints is the last one the page had posted by then, and the m-th picture the page shows is the
m-th the server sent. Median and 95th percentile printed, with the counts that pair them up.
"""

from __future__ import annotations

import argparse
import bisect
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch


def _rate(fn: Callable[[np.ndarray], Any], frames: list[np.ndarray], seconds: float) -> tuple[float, float]:
    """Frames a second, and the median milliseconds a frame, over about ``seconds`` (after two warm-up frames)."""
    fn(frames[0])
    fn(frames[1])
    times, i, start = [], 0, time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter()
        fn(frames[i % len(frames)])
        times.append(time.perf_counter() - t)
        i += 1
    return len(times) / sum(times), 1000 * statistics.median(times)


def in_process(seconds: float) -> None:
    from inceptionism.animate.live import LiveDream, LiveStyle
    from inceptionism.io.images import load_image
    from inceptionism.models import get_model
    from inceptionism.objectives import build_objective
    from inceptionism.precision import autocast_dtype
    from inceptionism.style import magenta
    from inceptionism.style.model_file import load_model
    from inceptionism.style.shipped import shipped_model_path

    from tests.test_web_live import camera_clip

    with tempfile.TemporaryDirectory() as tmp:
        frames = camera_clip(Path(tmp) / "clip.y4m", seconds=4, fps=15)
    precision = autocast_dtype("auto", torch.device("cpu"))
    arbitrary = magenta.load_arbitrary("cpu")
    embedding = magenta.embed_styles(arbitrary, [load_image("skimage:coffee").rgb])
    print(f"in-process, 320x240, {torch.get_num_threads()} threads, compute "
          f"{'bfloat16' if precision is not None else 'float32'}:")
    rows = [("arbitrary network alone", LiveStyle(arbitrary, embedding, steady=0.0, autocast=precision)),
            ("arbitrary + steady blend", LiveStyle(arbitrary, embedding, steady=0.5, autocast=precision)),
            ("arbitrary, strength 0.5 + steady", LiveStyle(arbitrary, embedding, strength=0.5, steady=0.5,
                                                          autocast=precision))]
    compiled = LiveStyle(arbitrary, embedding, steady=0.0, autocast=precision, compile=True)
    with torch.no_grad():
        compiled(frames[0])  # starts compiling in the background
    size = (frames[0].shape[0], frames[0].shape[1])
    key = size if precision is None else (*size, str(precision))
    started = time.perf_counter()
    ready = compiled.transformer.wait(key, timeout=600)
    print(f"  (torch.compile of the transformer at 320x240: {'ready' if ready else 'FAILED'} after "
          f"{compiled.transformer.took.get(key, time.perf_counter() - started):.0f} s)", flush=True)
    rows += [("arbitrary network alone, compiled", compiled),
             ("arbitrary + steady blend, compiled (the tab)", LiveStyle(arbitrary, embedding, steady=0.5,
                                                                       autocast=precision, compile=True))]
    net, meta = load_model(shipped_model_path(), "cpu")
    mix = torch.nn.functional.one_hot(torch.tensor([0]), len(meta["styles"])).float()
    rows.append((f"built-in style ({meta['styles'][0]['name']}) + steady", LiveStyle(net, mix, steady=0.5,
                                                                                   autocast=precision)))
    network = get_model("efficientnet_lite0")
    objective, _ = build_objective(network, None)
    objective.prepare(network)
    rows += [("dream, 1 step a frame", LiveDream(network, objective, steps=1)),
             ("dream, 2 steps a frame", LiveDream(network, objective, steps=2))]
    for name, fn in rows:
        with torch.inference_mode() if "dream" not in name else torch.enable_grad():
            fps, ms = _rate(fn, frames, seconds)
        print(f"  {name:<46} {fps:6.1f} frames/s  ({ms:.0f} ms a frame)", flush=True)


HOOK = """
window.__captures = [];
window.__shown = [];
const toBlob = HTMLCanvasElement.prototype.toBlob;
HTMLCanvasElement.prototype.toBlob = function(...args) { window.__captures.push((performance.timeOrigin + performance.now()));
  return toBlob.apply(this, args); };
const toDataURL = HTMLCanvasElement.prototype.toDataURL;
HTMLCanvasElement.prototype.toDataURL = function(...args) { window.__captures.push((performance.timeOrigin + performance.now()));
  return toDataURL.apply(this, args); };
// a capture the page really sends: Gradio's client posts the frame (the last capture) to the event's stream
window.__sent = [];
const fetch0 = window.fetch;
window.fetch = function(url, options) {
  if (String(url).includes('/stream/') && options && typeof options.body === 'string'
      && options.body.includes('data:image/jpeg')) { window.__sent.push(window.__captures[window.__captures.length - 1]); }
  return fetch0.apply(this, arguments); };
new MutationObserver(() => {
  const img = document.querySelector('#live-output img');
  if (img && img.src && img.src !== window.__last) { window.__last = img.src; window.__shown.push((performance.timeOrigin + performance.now())); }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
"""


def in_browser(seconds: float, mode: str) -> None:
    from playwright.sync_api import sync_playwright

    from inceptionism.web import serve
    from tests.test_web_live import camera_clip

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve("127.0.0.1", port, block=False)
    try:
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
            clip = Path(tmp) / "clip.y4m"
            camera_clip(clip, seconds=4, fps=30)
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={clip}"])
            context = browser.new_context(permissions=["camera"], viewport={"width": 1400, "height": 1000})
            context.add_init_script(HOOK)
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_role("tab", name="Live").click()
            if mode == "dream":
                page.locator("#live-mode label", has_text="Dream").click()
            else:
                page.locator("#live-painting-examples button.gallery-item").first.click()
                page.locator("#live-painting img").first.wait_for(timeout=30_000)
            page.locator("#live-camera button", has_text="Click to Access Webcam").click()
            page.locator("#live-camera button", has_text="Record").click()
            page.wait_for_function("() => window.__shown.length >= 3", timeout=120_000)  # warmed up
            from inceptionism.animate import live
            from inceptionism.web import live_tab

            for painter in list(live._ACCELERATED.values()):  # the server compiles in the background: wait
                for event in list(painter.events.values()):
                    event.wait(600)
            page.wait_for_timeout(2000)
            compiled = {k: round(v) for painter in live._ACCELERATED.values() for k, v in painter.took.items()}
            start = page.evaluate("() => (performance.timeOrigin + performance.now())")
            page.wait_for_timeout(int(seconds * 1000))
            captures, sent_at, shown = page.evaluate("() => [window.__captures, window.__sent, window.__shown]")
            status = page.locator("#live-status textarea").input_value()
            (session,) = live_tab.SESSIONS[0].values()
            with session.lock:
                answered = list(session.answered)
            browser.close()
    finally:
        app.close()
    # the page's m-th picture shown is the m-th the server sent, which paints the frame that reached the server
    # at answered[m]: the last one the page had sent by then (the page's and the server's clocks are this
    # machine's); the latency of a picture is from that frame's capture to the picture's showing
    window = [m for m, t in enumerate(shown) if t >= start]
    latencies = []
    for m in window:
        if m < len(answered):
            before = bisect.bisect_right(sent_at, 1000 * answered[m])
            if before:
                latencies.append(shown[m] - sent_at[before - 1])
    if len(window) < 2:
        print(f"browser ({mode}): {len(window)} pictures in {seconds:.0f} s; the page said: {status}")
        return
    fps = (len(window) - 1) / ((shown[window[-1]] - shown[window[0]]) / 1000)
    sent = sum(1 for t in sent_at if t >= start)
    p95 = float(np.percentile(latencies, 95))
    print(f"browser, {mode}, 320x240: {fps:.1f} pictures/s shown ({len(window)} in {seconds:.0f} s; {sent} camera frames "
          f"sent, Gradio hands the server the newest whenever it is free); latency camera frame -> shown picture: "
          f"median {statistics.median(latencies):.0f} ms, 95th percentile {p95:.0f} ms (pictures shown {len(shown)}, "
          f"sent {len(answered)}; frames captured {len(captures)}, sent {len(sent_at)}); compiled (size: seconds): "
          f"{compiled or 'none'}; the page said: {status}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each measurement (default 10)")
    parser.add_argument("--no-browser", action="store_true", help="in-process figures only")
    parser.add_argument("--no-process", action="store_true", help="browser figures only")
    parser.add_argument("--modes", default="painting,dream", help="browser modes (default painting,dream)")
    args = parser.parse_args()
    if not args.no_process:
        in_process(args.seconds)
    if not args.no_browser:
        for mode in args.modes.split(","):
            in_browser(args.seconds, mode.strip())


if __name__ == "__main__":
    main()
