"""The web UI under load and bad uploads, over HTTP on the loopback (bounded requests), and its login."""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="module")
def server():
    from inceptionism.web import WebLimits, serve

    port = _free_port()
    app = serve("127.0.0.1", port, limits=WebLimits(max_upload_bytes=2 * 2**20, max_pixels=512 * 512, queue_size=16),
                block=False)
    yield f"http://127.0.0.1:{port}"
    app.close()


def _submit(url: str, image: str) -> tuple[str, str]:
    from gradio_client import Client, handle_file

    try:
        # (a generous read timeout: with the other test worker busy beside it, the default 5 s can run out)
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 60})
        out = client.submit(handle_file(image), layer="blocks.2", octaves=1, steps=2, api_name="/dream").result(
            timeout=300)
        return ("served" if Path(out).is_file() else "error"), str(out)
    except Exception as exc:  # noqa: BLE001 - sorted below: a clean refusal or an error
        text = str(exc)
        return ("refused" if "Queue is full" in text else "error"), f"{type(exc).__name__}: {text}"


def test_twenty_clients_at_once_are_served_or_told_to_try_again(server, tmp_path):
    photo = tmp_path / "small.png"
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)).save(photo)
    rss_before = _rss_mb()
    results: dict[int, tuple[str, str]] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, _submit(server, str(photo))))
               for i in range(20)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    seconds = time.perf_counter() - started
    kinds = [kind for kind, _ in results.values()]
    served, refused, errors = kinds.count("served"), kinds.count("refused"), kinds.count("error")
    rss_after = _rss_mb()
    print(f"\n20 requests: {served} served, {refused} refused (queue full), {errors} errors in {seconds:.1f} s; "
          f"RSS {rss_before:.0f} -> {rss_after:.0f} MB")
    assert len(results) == 20 and errors == 0, [v for v in results.values() if v[0] == "error"]
    assert served >= 16 and served + refused == 20  # one running and 16 waiting fit; more may, as jobs finish
    assert all(detail.endswith("dream.png") for kind, detail in results.values() if kind == "served")
    assert rss_after - rss_before < 800
    # and a new visitor is served afterwards
    assert _submit(server, str(photo))[0] == "served"


def _bomb(path: Path) -> None:
    """A PNG that declares 30000 x 30000 pixels in a few hundred bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))


def bad_uploads(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each bad upload and the message it must get."""
    rng = np.random.default_rng(1)
    big = folder / "big.png"  # over 2 MB of noise
    Image.fromarray((rng.random((1100, 1100, 3)) * 255).astype(np.uint8)).save(big)
    wide = folder / "wide.png"  # under the byte cap, over 512 * 512 pixels
    Image.new("RGB", (900, 400), (40, 90, 160)).save(wide)
    text = folder / "text.png"
    text.write_text("this is not an image at all")
    truncated = folder / "truncated.png"
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    bomb = folder / "bomb.png"
    _bomb(bomb)
    return {"over the byte cap": (big, "maximum"), "over the pixel cap": (wide, "over the limit"),
            "not an image": (text, "not an image file"), "truncated": (truncated, "cannot read image"),
            "decompression bomb": (bomb, "over the limit")}


@pytest.mark.parametrize("case", ["over the byte cap", "over the pixel cap", "not an image", "truncated",
                                  "decompression bomb"])
def test_bad_uploads_get_a_message(server, tmp_path, case):
    path, message = bad_uploads(tmp_path)[case]
    kind, detail = _submit(server, str(path))
    assert kind == "error" and message.lower() in detail.lower(), detail
    assert "Traceback" not in detail


def test_login_when_auth_is_on(tmp_path, monkeypatch):
    import gradio.networking
    import httpx

    from inceptionism.web import serve

    # as on a busy machine, where the page takes longer than the 3 s that Gradio's own start-up check waits:
    # the server starts all the same (it once refused, saying "When localhost is not accessible...")
    monkeypatch.setattr(gradio.networking, "url_ok", lambda url: False)
    port = _free_port()
    app = serve("127.0.0.1", port, block=False, auth=[("ada", "lovelace")])
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=30) as client:
            assert client.get(f"{url}/config").status_code == 401
            assert client.post(f"{url}/login", data={"username": "ada", "password": "wrong"}).status_code == 400
            assert client.post(f"{url}/login", data={"username": "ada", "password": "lovelace"}).status_code == 200
            assert client.get(f"{url}/config").status_code == 200
    finally:
        app.close()


def test_binding_beyond_localhost_needs_auth(capsys, monkeypatch):
    from inceptionism.cli import main

    monkeypatch.delenv("INCEPTIONISM_WEB_AUTH", raising=False)
    assert main(["web", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--auth" in err and "--no-auth" in err
    assert main(["web", "--host", "0.0.0.0", "--auth", "nopassword"]) == 1
    assert "USER:PASSWORD" in capsys.readouterr().err


def test_bad_uploads_are_explained_in_the_page(server, browser, tmp_path, capfd):
    """The same five uploads through the real page: each is refused when it arrives, in one readable line on
    screen, the box left empty; pressing Dream then asks for a picture; the server's log holds no traceback."""
    for case, (path, message) in bad_uploads(tmp_path).items():
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.locator("#dream-input input[type=file]").set_input_files(str(path))
        toast = page.locator(".toast-body", has_text=message if case != "over the byte cap" else "maximum allowed size")
        toast.first.wait_for(timeout=60_000)
        text = " ".join(page.locator(".toast-body").all_inner_texts())
        assert path.name in text and "Traceback" not in text and "/tmp/" not in text, (case, text)
        time.sleep(0.5)
        assert page.locator("#dream-input img").count() == 0, case  # not shown as if it were a picture
        page.locator("#dream-run").click()
        page.wait_for_function("() => document.querySelector('#dream-status textarea').value.startsWith('error')",
                               timeout=60_000)
        assert "upload an image" in page.locator("#dream-status textarea").input_value()
        page.close()
    log = capfd.readouterr().err
    assert "Traceback" not in log and "inceptionism web: refused:" in log
