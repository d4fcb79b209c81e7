"""Reading every kind of awkward image, and writing outputs whole or not at all."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.errors import ImageReadError, OutputError
from inceptionism.io.images import check_output, load_image, read_metadata, save_image


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims a huge size (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)
    data += struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
    path.write_bytes(data + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def _photo(path: Path, size=(40, 30), mode="RGB", **save) -> Path:
    arr = (np.random.default_rng(0).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(arr, "RGB").convert(mode).save(path, **save)
    return path


def test_missing_empty_directory_and_not_an_image(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="directory"):
        load_image(tmp_path)
    (tmp_path / "notes.png").write_text("hello, I am text")
    with pytest.raises(ImageReadError, match="not an image"):
        load_image(tmp_path / "notes.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file(tmp_path, suffix):
    full = _photo(tmp_path / f"full{suffix}", size=(200, 150))
    data = full.read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut"):
        load_image(tmp_path / f"cut{suffix}")


def test_decompression_bomb_is_refused(tmp_path):
    _png_claiming(tmp_path / "bomb.png", 60000, 60000)
    with pytest.raises(ImageReadError, match="decompression bomb"):
        load_image(tmp_path / "bomb.png")


def test_sixteen_bit_is_read_at_full_precision(tmp_path):
    arr = np.full((20, 30), 32768, dtype=np.uint16)
    arr[:, :10] = 1000
    Image.fromarray(arr).save(tmp_path / "deep.png")
    img = load_image(tmp_path / "deep.png").rgb
    assert img.shape == (1, 3, 20, 30)
    assert img[0, 0, 0, 20].item() == pytest.approx(32768 / 65535, abs=1e-4)
    assert img[0, 1, 0, 0].item() == pytest.approx(1000 / 65535, abs=1e-4)


@pytest.mark.parametrize("mode, fmt", [("CMYK", "JPEG"), ("P", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("1", "PNG")])
def test_other_modes_become_rgb(tmp_path, mode, fmt):
    path = _photo(tmp_path / f"x.{fmt.lower()}", mode=mode, format=fmt)
    img = load_image(path)
    assert img.rgb.shape == (1, 3, 30, 40)
    assert 0 <= img.rgb.min() and img.rgb.max() <= 1


def test_transparency_is_kept_aside_and_written_back(tmp_path):
    rgba = np.zeros((30, 40, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, 20:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.alpha is not None and img.alpha[0, 0] == 0 and img.alpha[0, 30] == 1
    save_image(img.rgb, tmp_path / "b.png", alpha=img.alpha)
    with Image.open(tmp_path / "b.png") as out:
        assert out.mode == "RGBA" and out.getpixel((0, 0))[3] == 0 and out.getpixel((30, 0))[3] == 255
    # a palette image with a transparent index too
    Image.fromarray(rgba, "RGBA").convert("P").save(tmp_path / "p.png", transparency=0)
    assert load_image(tmp_path / "p.png").rgb.shape == (1, 3, 30, 40)


def test_exif_rotation_is_honoured(tmp_path):
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    im.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert load_image(tmp_path / "r.jpg").size == (20, 40)


def test_one_pixel_is_too_small(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    with pytest.raises(ImageReadError, match="too small"):
        load_image(tmp_path / "dot.png")


def test_animated_gif_uses_the_first_frame(tmp_path, caplog):
    frames = [Image.new("RGB", (32, 24), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    img = load_image(tmp_path / "anim.gif")
    assert img.rgb[0, 0].mean() > 0.9 and img.rgb[0, 2].mean() < 0.1
    assert "2 frames" in caplog.text


def test_gif_frames_keep_their_colours_through_a_palette_from_a_sample(tmp_path):
    from scipy.ndimage import uniform_filter

    from inceptionism.io.video import write_gif

    cat = (load_image("skimage:chelsea").rgb[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    ramp = np.zeros((300, 451, 3), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, 451)[None, :].astype(np.uint8)  # a smooth ramp: banding would show
    ramp[..., 2] = np.linspace(0, 255, 300)[:, None].astype(np.uint8)
    write_gif([cat, ramp], tmp_path / "two.gif", fps=5)
    with Image.open(tmp_path / "two.gif") as gif:
        assert gif.n_frames == 2
        for i, frame in enumerate((cat, ramp)):
            gif.seek(i)
            shown = np.asarray(gif.convert("RGB"), dtype=np.float64)
            # the dither's noise averages out over 3x3 pixels, as the eye averages it
            seen = np.abs(uniform_filter(shown, (3, 3, 1)) - uniform_filter(frame.astype(np.float64), (3, 3, 1)))
            assert seen.mean() < 2.0, (i, seen.mean())


def test_sample_images_ship_with_scikit_image():
    assert load_image("skimage:chelsea").size == (451, 300)
    with pytest.raises(ImageReadError, match="unknown sample"):
        load_image("skimage:nope")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_metadata_round_trips_in_every_format(tmp_path, suffix):
    x = torch.rand(1, 3, 16, 16)
    save_image(x, tmp_path / f"o{suffix}", metadata={"model": "m", "seed": 3})
    assert read_metadata(tmp_path / f"o{suffix}") == {"model": "m", "seed": 3}


def test_outputs_are_checked_and_written_atomically(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        check_output(tmp_path / "missing" / "o.png")
    with pytest.raises(OutputError, match="unsupported output format"):
        check_output(tmp_path / "o.bmp")
    src = _photo(tmp_path / "in.png")
    with pytest.raises(OutputError, match="overwrite the input"):
        check_output(src, (str(src),))
    target = tmp_path / "o.png"
    target.write_bytes(b"old")

    class Boom(Exception):
        pass

    def failing_write(*args, **kwargs):
        raise Boom

    import inceptionism.io.images as images

    original = images.to_pil
    images.to_pil = lambda *a, **k: type("P", (), {"save": failing_write})()
    try:
        with pytest.raises(Boom):
            save_image(torch.rand(1, 3, 8, 8), target)
    finally:
        images.to_pil = original
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "o.png"]
    save_image(torch.rand(1, 3, 8, 8), target)
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_reading_a_large_picture_peaks_at_its_float_copy_plus_its_decode(tmp_path):
    """A 30 MP picture: the 8-bit decode and the float32 result, and little more (was about twice that)."""
    import subprocess
    import sys

    path = tmp_path / "large.png"
    Image.new("RGB", (6000, 5000), (30, 120, 200)).save(path)
    child = ("import resource, sys\nfrom inceptionism.io.images import load_image\nload_image('skimage:chelsea')\n"
             "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\nimage = load_image(sys.argv[1])\n"
             "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)")
    grown = int(subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True, text=True,
                               check=True).stdout)
    pixels = 6000 * 5000
    assert grown < pixels * 3 + pixels * 12 + 150 * 2**20, grown / 2**20


def test_a_picture_that_would_not_fit_in_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    from inceptionism.errors import ImageReadError
    from inceptionism.io import images

    path = tmp_path / "claims.png"
    Image.new("RGB", (3000, 3000)).save(path)
    monkeypatch.setattr(images, "available_memory", lambda: 100 * 2**20)
    monkeypatch.setattr(images, "_float_rows", lambda *a: pytest.fail("decoded"))
    with pytest.raises(ImageReadError, match=r"3000x3000 \(9 MP\) needs 0\.4 GB to read and 0\.1 GB are free"):
        images.load_image(path)
