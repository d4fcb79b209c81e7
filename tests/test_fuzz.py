"""Property-based fuzzing of every reader of outside data (hypothesis).

Each reader gets files made from real, valid ones (which the tests write): truncated,
with bytes flipped or inserted, with their headers or JSON mutated field by field,
and plain random bytes. Every example must end in a result or one
:class:`InceptionismError`: never another exception, never a hang (each example runs
under an alarm) and never a memory blow-up (the process's peak memory is checked).

The default run gives each reader ``SHORT`` examples (about a minute in all); the
``fuzz`` marker runs ``LONG`` each: ``pytest -m fuzz tests/test_fuzz.py --hypothesis-show-statistics``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import struct
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from inceptionism.errors import InceptionismError

from .conftest import TINY_SPEC, _tiny_net

SHORT, LONG = 120, 3000
budgets = pytest.mark.parametrize("examples", [SHORT, pytest.param(LONG, marks=pytest.mark.fuzz)])

#: no single example may take longer than this (seconds), nor grow the process's peak memory by more (bytes)
TIME_LIMIT, MEMORY_LIMIT = 30, 2 * 1024**3


class Hang(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def fire(*_: Any) -> None:
        raise Hang(f"an example ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fuzz(examples: int, strategy: st.SearchStrategy, read: Callable[[Any], Any]) -> None:
    """Run ``read`` on ``examples`` draws of ``strategy``: a result or an InceptionismError, nothing else.

    Prints how many examples ran and how they ended (``pytest -s`` shows it).
    """
    before = _peak_bytes()
    outcomes = {"read": 0, "refused": 0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(example: Any) -> None:
        with _time_limit(TIME_LIMIT):
            try:
                read(example)
                outcomes["read"] += 1
            except InceptionismError as exc:
                outcomes["refused"] += 1
                assert str(exc) and "\n" not in str(exc).strip(), f"a message of several lines: {exc}"

    one()
    grown = _peak_bytes() - before
    print(f"\nfuzz {os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]}: {sum(outcomes.values())} examples, "
          f"{outcomes['read']} read, {outcomes['refused']} refused in one line; peak memory +{grown / 2**20:.0f} MB")
    assert grown < MEMORY_LIMIT, "the readers' peak memory grew by more than 2 GB"


# -- mutations of valid files ------------------------------------------------------------
def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for at, bits in flips:
        out[at % len(out)] ^= bits
    return bytes(out)


def mutated(valid: bytes, hot: int = 512) -> st.SearchStrategy[bytes]:
    """Truncations, byte flips (half of them in the first ``hot`` bytes, where headers live), insertions, junk."""
    n = len(valid)
    at = st.one_of(st.integers(0, min(n, hot) - 1), st.integers(0, n - 1))
    return st.one_of(
        st.integers(0, n - 1).map(lambda i: valid[:i]),
        st.lists(st.tuples(at, st.integers(1, 255)), min_size=1, max_size=8).map(lambda f: _flip(valid, f)),
        st.tuples(at, st.binary(min_size=1, max_size=64)).map(lambda t: valid[:t[0]] + t[1] + valid[t[0]:]),
        st.binary(max_size=2048),
    )


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)


@st.composite
def mutated_json(draw: Any, value: Any) -> Any:
    """``value`` with one part of it (the whole, a key's value, an item, a key removed) replaced."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        if draw(st.integers(0, 4)) == 0:
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: draw(mutated_json(value[key]))}
    if isinstance(value, list) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        return value[:i] + [draw(mutated_json(value[i]))] + value[i + 1:]
    return draw(JSON)


def _safetensors_parts(data: bytes) -> tuple[dict[str, Any], bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def _safetensors_bytes(header: dict[str, Any], body: bytes, length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + body


@st.composite
def mutated_safetensors(draw: Any, valid: bytes) -> bytes:
    """A header mutated field by field: dtypes, shapes, offsets (100 GB ones too), the length, the metadata."""
    header, body = _safetensors_parts(valid)
    names = sorted(k for k in header if k != "__metadata__")
    what = draw(st.sampled_from(["dtype", "shape", "offsets", "drop", "metadata", "length", "bytes"]))
    if what == "bytes":
        return draw(mutated(valid))
    if what == "length":
        return _safetensors_bytes(header, body, draw(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 4096))))
    if what == "metadata" and "__metadata__" in header:
        meta = dict(header["__metadata__"])
        key = draw(st.sampled_from(sorted(meta)))
        try:
            value = json.loads(meta[key])
        except json.JSONDecodeError:
            value = meta[key]
        new = draw(mutated_json(value))
        meta[key] = json.dumps(new) if draw(st.integers(0, 5)) else draw(st.text(max_size=20))
        if draw(st.integers(0, 6)) == 0:
            del meta[key]
        return _safetensors_bytes({**header, "__metadata__": meta}, body)
    name = draw(st.sampled_from(names))
    entry = dict(header[name])
    if what == "dtype":
        entry["dtype"] = draw(st.sampled_from(["F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "X9", ""]))
    elif what == "shape":
        entry["shape"] = draw(st.lists(st.one_of(st.integers(0, 8), st.integers(0, 2**40)), max_size=5))
    elif what == "offsets":
        end = draw(st.one_of(st.integers(0, len(body) + 8), st.just(100 * 1024**3)))
        entry["data_offsets"] = [draw(st.integers(0, end)), end]
    else:
        return _safetensors_bytes({k: v for k, v in header.items() if k != name}, body)
    return _safetensors_bytes({**header, name: entry}, body)


def _writer(tmp_path: Path, name: str) -> Callable[[bytes], Path]:
    path = tmp_path / name

    def write(data: bytes) -> Path:
        path.write_bytes(data)
        return path

    return write


# -- checkpoints ------------------------------------------------------------------------
def _state_bytes(legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(_tiny_net().state_dict(), buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def _read_checkpoint(path: Path) -> None:
    from inceptionism.models.checkpoint import load_checkpoint

    load_checkpoint(TINY_SPEC, path)


@budgets
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_fuzz_pth_checkpoints(tmp_path, examples, legacy):
    write = _writer(tmp_path, "weights.pth")
    fuzz(examples, mutated(_state_bytes(legacy)), lambda data: _read_checkpoint(write(data)))


@budgets
def test_fuzz_safetensors_checkpoints(tmp_path, examples):
    from safetensors.torch import save

    write = _writer(tmp_path, "weights.safetensors")
    valid = save(_tiny_net().state_dict(), metadata={"note": json.dumps({"epochs": 3})})
    fuzz(examples, mutated_safetensors(valid), lambda data: _read_checkpoint(write(data)))


@budgets
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated", "ignore:`torch.jit.save` is deprecated")
def test_fuzz_torchscript_archives(tmp_path, examples):
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(_tiny_net()), buf)
    assert buf.getvalue()
    write = _writer(tmp_path, "scripted.pt")
    fuzz(examples, mutated(buf.getvalue()), lambda data: _read_checkpoint(write(data)))


def test_a_header_that_claims_100_gb_is_refused_before_anything_is_allocated(tmp_path):
    from safetensors.torch import save

    from inceptionism.models.checkpoint import read_state_dict

    header, body = _safetensors_parts(save({"w": torch.zeros(4)}))
    header["w"] = {"dtype": "F32", "shape": [25 * 1024**3], "data_offsets": [0, 100 * 1024**3]}
    path = tmp_path / "huge.safetensors"
    path.write_bytes(_safetensors_bytes(header, body))
    before = _peak_bytes()
    with pytest.raises(InceptionismError, match="not a readable .safetensors file"):
        read_state_dict(path)
    assert _peak_bytes() - before < 64 * 1024**2


# -- our own model files and training states ----------------------------------------------
@pytest.fixture(scope="module")
def dream_model_bytes(tmp_path_factory) -> bytes:
    from inceptionism.models.dream_file import TOPICS, Collection, save_dream_model

    path = tmp_path_factory.mktemp("dream") / "topics.safetensors"
    words = ("cat", "sea", "sky", "tree")
    collection = Collection(TOPICS, ("topic 0: cat sea", "topic 1: sky tree"), (("cat", "sea"), ("sky", "tree")),
                            words, torch.full((2, 4), 0.25))
    save_dream_model(path, _tiny_net(2).state_dict(), backbone="efficientnet_lite0", collection=collection,
                     training={"epochs": 1, "val_accuracy": 0.5})
    return path.read_bytes()


@budgets
def test_fuzz_dream_model_files(tmp_path, examples, dream_model_bytes):
    from inceptionism.models.dream_file import describe, load_dream_model

    write = _writer(tmp_path, "mine.safetensors")

    def read(data: bytes) -> None:
        path = write(data)
        describe(path)
        _, collection, _ = load_dream_model(path)
        if collection.vocabulary:
            with contextlib.suppress(InceptionismError):
                collection.word_mix(collection.vocabulary[0])

    fuzz(examples, mutated_safetensors(dream_model_bytes), read)


@pytest.fixture(scope="module")
def style_model_bytes(tmp_path_factory) -> bytes:
    from inceptionism.style.model_file import describe_style, save_model
    from inceptionism.style.network import StyleNetwork

    path = tmp_path_factory.mktemp("style") / "styles.safetensors"
    infos = [describe_style(f"s{i}", torch.rand(1, 3, 16, 16)) for i in range(2)]
    torch.manual_seed(0)
    save_model(path, StyleNetwork(2, 4, 1), infos, {"step": 3})
    return path.read_bytes()


@budgets
def test_fuzz_style_model_files(tmp_path, examples, style_model_bytes):
    from inceptionism.style.model_file import load_model, stylize_image
    from inceptionism.style.network import mix_weights

    write = _writer(tmp_path, "styles.safetensors")

    def read(data: bytes) -> None:
        net, meta = load_model(write(data))
        stylize_image(net, torch.rand(1, 3, 16, 16), mix_weights(net.styles, index=0))

    fuzz(examples, mutated_safetensors(style_model_bytes), read)


@budgets
def test_fuzz_training_states(tmp_path, examples):
    from safetensors.torch import save_file

    from inceptionism.training import load_state, save_state

    def made() -> tuple[torch.nn.Module, torch.optim.Optimizer, Any]:
        net = _tiny_net()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        return net, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** (s // 10))

    net, opt, schedule = made()
    net(torch.rand(1, 3, 16, 16)).sum().backward()
    opt.step()
    schedule.step()
    model = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(1)}, model)
    valid = save_state(model, opt, 1, {"styles": ["a"]}, schedule).read_bytes()
    write = _writer(tmp_path, "model.train.safetensors")

    def read(data: bytes) -> None:
        write(data)
        net, opt, schedule = made()
        load_state(model, opt, schedule)
        net(torch.rand(1, 3, 16, 16)).sum().backward()
        opt.step()  # what was put back must work
        schedule.step()

    fuzz(examples, mutated_safetensors(valid), read)


# -- captions ------------------------------------------------------------------------------
@pytest.fixture
def photo_folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("a", "b", "c")):
        Image.new("RGB", (8, 8), (40 * i, 90, 200)).save(folder / f"{name}.png")
    return folder


#: captions that share words, so that the valid table yields topics (a table whose captions share none is refused)
CAPTIONS = ["a cat by the sea #cat", "the sea and a cat at dusk", "a cat under a tree by the sea"]


@st.composite
def caption_tables(draw: Any, suffix: str) -> bytes:
    rows = [{"image": f"{n}.png", "caption": c} for n, c in zip("abc", CAPTIONS)]
    if suffix == ".jsonl":
        valid = "\n".join(json.dumps(r) for r in rows).encode()
        lines = [json.dumps(draw(mutated_json(r))) if draw(st.booleans()) else json.dumps(r) for r in rows]
        structured = "\n".join(lines).encode()
    else:
        valid = ("image,caption\n" + "".join(f"{r['image']},{r['caption']}\n" for r in rows)).encode()
        cells = st.one_of(st.sampled_from(["a.png", "b.png", "../x.png", "", "\"", "image", "caption"]), st.text(max_size=12))
        header = draw(st.sampled_from(["image,caption", "caption,image", "image", "Image , caption", ""]))
        body = draw(st.lists(st.lists(cells, min_size=0, max_size=3), max_size=4))
        structured = (header + "\n" + "\n".join(",".join(r) for r in body)).encode("utf-8", "surrogatepass")
    return draw(st.one_of(st.just(structured), mutated(valid)))


@budgets
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_fuzz_caption_files(photo_folder, examples, suffix):
    from inceptionism.dream.train import read_captions

    path = photo_folder / f"captions{suffix}"

    def read(data: bytes) -> None:
        path.write_bytes(data)
        read_captions(path, 2, 0)

    fuzz(examples, caption_tables(suffix), read)


@budgets
def test_fuzz_sidecar_captions(photo_folder, examples):
    from inceptionism.dream.train import read_captions

    def read(texts: list[bytes]) -> None:
        for name, data in zip("abc", texts):
            (photo_folder / f"{name}.txt").write_bytes(data)
        read_captions(photo_folder, 2, 0)

    text = st.one_of(st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=40),
                     mutated(CAPTIONS[0].encode()))
    fuzz(examples, st.lists(text, min_size=3, max_size=3), read)


# -- keyframes -------------------------------------------------------------------------------
KEYFRAMES = {"0": {"zoom": 1.02, "layers": ["blocks.3"]}, "30": {"zoom": 1.08, "rotate": 0.5, "pan_x": 2},
             "59": {"zoom": 1.02, "step_size": 0.02, "layers": "blocks.5:17"}}


@budgets
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_fuzz_keyframe_files(tmp_path, examples, suffix):
    import yaml

    from inceptionism.animate.schedule import Schedule, load_keyframes

    path = tmp_path / f"keys{suffix}"
    dump = (lambda v: yaml.safe_dump(v).encode()) if suffix == ".yaml" else (lambda v: json.dumps(v).encode())
    valid = dump(KEYFRAMES)

    def read(data: bytes) -> None:
        path.write_bytes(data)
        schedule = Schedule({"zoom": 1.05, "rotate": 0.0, "pan_x": 0.0, "pan_y": 0.0, "step_size": 0.01,
                             "layers": ("blocks.4",)})
        load_keyframes(path, schedule)
        for frame in sorted(schedule.keyframes)[:5] + [0, 1, 10**6]:
            params = schedule.at(frame)
            assert params.zoom > 0 and params.step_size > 0 and params.layers

    safe = st.one_of(mutated_json(KEYFRAMES).map(lambda v: dump(v)), mutated(valid))
    fuzz(examples, safe, read)


# -- recipes stored in images (--from) ----------------------------------------------------------
@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> dict[str, Any]:
    from inceptionism.cli import main
    from inceptionism.io.images import read_metadata

    folder = tmp_path_factory.mktemp("recipe")
    Image.new("RGB", (32, 32), (120, 80, 40)).save(folder / "in.png")
    assert main(["dream", str(folder / "in.png"), "-o", str(folder / "out.png"), "--steps", "1", "--octaves", "1",
                 "-q"]) == 0
    return read_metadata(folder / "out.png")


@budgets
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_fuzz_recipe_images(tmp_path, examples, recipe, fmt):
    from inceptionism.io.images import encode_image, read_metadata

    valid = encode_image(torch.rand(1, 3, 16, 16), fmt, metadata=recipe)
    write = _writer(tmp_path, f"made.{fmt.lower()}")
    fuzz(examples, mutated(valid, hot=2048), lambda data: read_metadata(write(data)))


@budgets
def test_fuzz_dream_from_recipes(tmp_path, examples, recipe, capsys):
    """``dream --from`` on recipes mutated field by field, run for real (one step, one octave)."""
    from inceptionism.cli import main
    from inceptionism.io.images import save_image

    Image.new("RGB", (32, 32), (120, 80, 40)).save(tmp_path / "in.png")
    made, out = tmp_path / "made.png", tmp_path / "again.png"

    def read(value: Any) -> None:
        save_image(torch.rand(1, 3, 16, 16), made, metadata=value if isinstance(value, dict) else {"x": value})
        code = main(["dream", str(tmp_path / "in.png"), "--from", str(made), "-o", str(out), "--steps", "1",
                     "--octaves", "1", "-q"])
        err = capsys.readouterr().err
        assert code == 0 or (code == 1 and err.count("\n") == 1 and err.startswith("inceptionism: error:")), err
        if code:
            raise InceptionismError(err.strip())  # counted as refused, in one line

    fuzz(examples, mutated_json(recipe), read)


# -- videos and images ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    from inceptionism.io.video import write_video

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    rng = np.random.default_rng(0)
    write_video([(rng.random((24, 32, 3)) * 255).astype(np.uint8) for _ in range(6)], path, 6)
    return path.read_bytes()


@budgets
def test_fuzz_videos(tmp_path, examples, clip_bytes):
    from inceptionism.io.video import probe_video, read_video

    write = _writer(tmp_path, "clip.mp4")

    def read(data: bytes) -> None:
        info = probe_video(write(data))
        for frame in read_video(tmp_path / "clip.mp4"):
            assert frame.shape[:2] == info.size[::-1]

    fuzz(max(4, examples // 3), mutated(clip_bytes, hot=4096), read)


@budgets
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "TIFF"])
def test_fuzz_images(tmp_path, examples, fmt):
    from inceptionism.io.images import load_image

    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)).save(buf, fmt)
    write = _writer(tmp_path, f"picture.{fmt.lower()}")

    def read(data: bytes) -> None:
        # the pixel limit is what bounds a picture's memory: a 2 KB TIFF can claim 32x9,306,116 pixels, under
        # the default 400 MP (a 3.6 GB float image); a small limit here checks that every decoder keeps to it
        image = load_image(write(data), max_pixels=4_000_000).rgb
        assert image.dim() == 4 and image.shape[1] == 3 and torch.isfinite(image).all()

    fuzz(examples, mutated(buf.getvalue()), read)


# -- pickles of every protocol, both torch formats, through every command that reads a model ------------
@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_pickles_of_every_protocol_are_one_line_in_every_command(tmp_path, capsys, protocol, legacy):
    from inceptionism.cli import main

    path = tmp_path / f"p{protocol}.pth"
    buf = io.BytesIO()
    torch.save(_tiny_net().state_dict(), buf, pickle_protocol=protocol, _use_new_zipfile_serialization=not legacy)
    path.write_bytes(buf.getvalue())
    commands = [["dream", "skimage:chelsea", "--weights", str(path), "--steps", "1", "--octaves", "1"],
                ["stylize", "skimage:chelsea", "--model", str(path), "--mix", "1"],
                ["info", str(path)], ["export", str(path)]]
    for argv in commands:
        out = tmp_path / ("out.onnx" if argv[0] == "export" else "out.png")
        extra = [] if argv[0] == "info" else ["-o", str(out)] + ([] if argv[0] == "export" else ["-q"])
        code = main([*argv, *extra])
        err = capsys.readouterr().err
        assert code != 0 and len(err.strip().splitlines()) == 1, (argv[0], err)
        assert "Warning" not in err and not out.exists(), (argv[0], err)
