"""train-dream: a dream model from a collection made here (three kinds of texture), then dreams with it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from inceptionism.cli import main
from inceptionism.dream.topics import fit_topics, read_caption_file, tokenize
from inceptionism.dream.train import DreamTrainConfig, train_dream
from inceptionism.io.images import load_image
from inceptionism.models import get_model
from inceptionism.models.dream_file import read_dream_metadata

SIZE = 64


def _stripes(rng: random.Random) -> np.ndarray:
    y, x = np.mgrid[:SIZE, :SIZE]
    a, f = rng.uniform(0, np.pi), rng.uniform(0.3, 0.6)
    v = (np.sin((x * np.cos(a) + y * np.sin(a)) * f) > 0).astype(np.float32)[..., None]
    return v * np.array([rng.uniform(0.7, 1), rng.uniform(0, 0.3), 0.1]) + (1 - v) * np.array([1.0, 1.0, 0.9])


def _dots(rng: random.Random) -> np.ndarray:
    im = Image.new("RGB", (SIZE, SIZE), (235, 235, 250))
    draw = ImageDraw.Draw(im)
    for _ in range(rng.randint(10, 20)):
        r, x, y = rng.randint(2, 5), rng.randint(0, SIZE), rng.randint(0, SIZE)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randint(0, 60), rng.randint(0, 90), rng.randint(160, 255)))
    return np.asarray(im) / 255.0


def _moss(rng: random.Random) -> np.ndarray:
    n = np.random.default_rng(rng.randint(0, 2**30)).random((SIZE // 8, SIZE // 8))
    n = np.asarray(Image.fromarray((n * 255).astype(np.uint8)).resize((SIZE, SIZE), Image.BICUBIC)) / 255.0
    return np.stack([n * 0.3, 0.4 + 0.5 * n, n * 0.2], -1)


KINDS = {"stripes": (_stripes, "zebra stripes lines striped"), "dots": (_dots, "polka dots circles spotty"),
         "moss": (_moss, "green moss forest mossy")}
FILLER = "today photo nice look weekend love my new".split()


def make_collection(root: Path, *, per_kind: int = 10, captions: str | None = "sidecar", folders: bool = False,
                    seed: int = 0) -> Path:
    """Three kinds of procedural texture; captions use each kind's words (plus filler and a hashtag)."""
    rng = random.Random(seed)
    rows = []
    for kind, (draw, words) in KINDS.items():
        folder = root / kind if folders else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_kind):
            path = folder / f"{kind}{i}.png"
            Image.fromarray((np.clip(draw(rng), 0, 1) * 255).astype(np.uint8)).save(path)
            caption = " ".join(rng.sample(words.split(), 3) + rng.sample(FILLER, 2)) + f" #{kind.title()}"
            if captions == "sidecar":
                path.with_suffix(".txt").write_text(caption, encoding="utf-8")
            rows.append({"image": path.relative_to(root).as_posix(), "caption": caption})
    if captions == "jsonl":
        (root / "posts.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return root


FAST = dict(image_size=SIZE, batch_size=8, workers=0, val=0.2)


def test_captions_become_topics_and_each_kinds_word_maps_to_its_topic(tmp_path):
    assert tokenize("Sunset at #Barcelona, #food&drinks — it's gaudí’s!") == \
        ["sunset", "at", "barcelona", "food", "drinks", "it's", "gaudí's"]
    make_collection(tmp_path, captions="jsonl")
    items = read_caption_file(tmp_path / "posts.jsonl")
    topics = fit_topics([i.caption for i in items], 3, seed=0)
    assert "the" not in topics.vocabulary and "today" in topics.vocabulary  # stop words go, shared words stay
    best = {kind: int(np.argmax(topics.topic_word[:, topics.vocabulary.index(kind)])) for kind in KINDS}
    assert sorted(best.values()) == [0, 1, 2]  # three kinds, three topics
    # every image's strongest topic is its kind's
    for item, mix in zip(items, topics.doc_topic):
        kind = next(k for k in KINDS if Path(item.image).name.startswith(k))
        assert int(np.argmax(mix)) == best[kind]


@pytest.fixture(scope="module")
def captions_model(tmp_path_factory):
    root = make_collection(tmp_path_factory.mktemp("captions") / "photos")
    out = root.parent / "mine.safetensors"
    losses: list[float] = []
    result = train_dream(root, out, DreamTrainConfig(topics=3, epochs=5, **FAST),
                         callback=lambda s: losses.append(s.loss))
    return out, result, losses, root


def test_training_on_captions_lowers_the_loss_and_beats_chance(captions_model):
    out, result, losses, _ = captions_model
    assert result.step == len(losses) == 15  # 24 training images, batches of 8, 5 epochs
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:2])
    assert result.metric == "topic_agreement" and result.held_out == 6
    assert result.value >= 0.8 and result.value > result.chance + 0.3, (result.value, result.chance)
    print(f"captions: loss {np.mean(losses[:2]):.3f} -> {np.mean(losses[-3:]):.3f}; held-out topic agreement "
          f"{result.value:.2f} (chance {result.chance:.2f})")
    meta = read_dream_metadata(out)
    assert meta["backbone"] == "efficientnet_lite0" and meta["labels"]["kind"] == "topics"
    assert meta["training"]["step"] == 15 and meta["training"]["val_topic_agreement"] == pytest.approx(result.value, abs=1e-3)


def test_word_and_topic_dreams_raise_their_topic(captions_model, capsys, tmp_path):
    out, _, _, root = captions_model
    net = get_model(weights=str(out))  # the backbone comes from the file
    assert net.name == "efficientnet_lite0" and net.collection.kind == "topics"
    topic = {kind: int(net.collection.word_mix(kind).argmax()) for kind in KINDS}
    assert sorted(topic.values()) == [0, 1, 2]
    def score(path, kind):
        with torch.no_grad():
            return net(load_image(path).rgb).softmax(1)[0, topic[kind]].item()

    moss = sorted(root.rglob("moss*.png"))
    for kind in ("stripes", "dots"):
        # a moss picture that is not already of the topic (which one depends on the head's random start)
        start = min(moss, key=lambda p: score(p, kind))
        target = tmp_path / f"{kind}.png"
        assert main(["dream", str(start), "-o", str(target), "--weights", str(out), "--word", kind, "--steps", "20",
                     "-q"]) == 0
        with torch.no_grad():
            before = net(load_image(start).rgb).softmax(1)[0, topic[kind]].item()
            after = net(load_image(target).rgb).softmax(1)[0, topic[kind]].item()
        assert before < 0.2 and after > 0.5, (kind, before, after)
    target = tmp_path / "topic.png"
    start = min(moss, key=lambda p: score(p, "dots"))
    assert main(["dream", str(start), "-o", str(target), "--weights", str(out), "--topic", str(topic["dots"]),
                 "--steps", "20", "-q"]) == 0
    with torch.no_grad():
        before = net(load_image(start).rgb).softmax(1)[0, topic["dots"]].item()
        after = net(load_image(target).rgb).softmax(1)[0, topic["dots"]].item()
    assert after > 0.25 and after > 10 * before, (before, after)
    capsys.readouterr()
    # the recipe names the model file, so --from repeats it
    assert main(["info", str(target)]) == 0
    assert f"weights: {out}" in capsys.readouterr().out
    # an unknown word is answered with the closest words
    assert main(["dream", str(start), "-o", str(tmp_path / "x.png"), "--weights", str(out), "--word", "strips"]) == 1
    err = capsys.readouterr().err
    assert "not in this model's vocabulary" in err and "closest: stripes" in err
    # a plain layer dream on the user model works too (every option of dream stays)
    assert main(["dream", str(start), "-o", str(tmp_path / "layer.png"), "--weights", str(out), "--layer", "blocks.5",
                 "--steps", "3", "-q"]) == 0


def test_topics_and_info_commands(captions_model, capsys):
    out, *_ = captions_model
    assert main(["topics", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("topic") for line in lines)
    assert {next(k for k in KINDS if k in line) for line in lines} == set(KINDS)
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "backbone: efficientnet_lite0" in text and "topics: 3" in text and "training.val_topic_agreement" in text


def test_resume_continues_the_step_count(captions_model, tmp_path):
    import shutil

    from inceptionism.training import state_path

    out, result, _, root = captions_model
    copy = tmp_path / "copy.safetensors"
    shutil.copy(out, copy)
    shutil.copy(state_path(out), state_path(copy))
    seen: list[int] = []
    train_dream(root, copy, DreamTrainConfig(topics=3, epochs=6, **FAST), resume=True,
                callback=lambda s: seen.append(s.step))
    assert seen == [16, 17, 18] and read_dream_metadata(copy)["training"]["step"] == 18
    from inceptionism.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot resume"):
        train_dream(root, copy, DreamTrainConfig(topics=3, epochs=7, seed=5, **FAST), resume=True)


def test_a_new_head_starts_with_every_class_equally_likely(chelsea):
    """The new head is zero, whatever the architecture's own initialisation (timm's scales by 1/sqrt(classes):
    several units of logit for six classes, which a head trained alone spent its run undoing)."""
    from inceptionism.dream.train import build_network, soft_cross_entropy
    from inceptionism.models import get_model_spec

    spec = get_model_spec("efficientnet_lite0")
    net = build_network(spec, 6, progress=False).eval()
    with torch.no_grad():
        logits = net(torch.nn.functional.interpolate(chelsea, size=(160, 224), mode="area"))
    assert logits.shape == (1, 6) and float(logits.abs().max()) == 0.0
    assert abs(float(soft_cross_entropy(logits, torch.eye(6)[:1])) - np.log(6)) < 1e-5
    assert float(dict(net.named_modules())["conv_head"].weight.abs().sum()) > 0  # the backbone kept its weights


def test_folders_give_classes_that_dreams_can_raise(tmp_path, capsys):
    root = make_collection(tmp_path / "photos", captions=None, folders=True)
    out = tmp_path / "classes.safetensors"
    code = main(["train-dream", str(root), "-o", str(out), "--epochs", "4", "--image-size", str(SIZE),
                 "--batch-size", "8", "--workers", "0", "--val", "0.2", "-q"])
    assert code == 0
    meta = read_dream_metadata(out)
    assert meta["labels"] == {"kind": "classes", "names": ["dots", "moss", "stripes"], "top_words": []}
    assert meta["training"]["val_accuracy"] >= 0.8  # chance: 1/3
    net = get_model(weights=str(out))
    assert net.categories == ("dots", "moss", "stripes")
    start, target = root / "moss" / "moss2.png", tmp_path / "dotty.png"
    assert main(["dream", str(start), "-o", str(target), "--weights", str(out), "--class", "dots", "-q"]) == 0
    with torch.no_grad():
        before = net(load_image(start).rgb)[0, 0].item()
        after = net(load_image(target).rgb)[0, 0].item()
    assert after > before + 5  # the "dots" logit
    capsys.readouterr()
    assert main(["topics", str(out)]) == 1 and "class folders" in capsys.readouterr().err


def _bad(tmp_path: Path, case: str) -> tuple[list[str], str]:
    out = str(tmp_path / "m.safetensors")
    base = ["--image-size", str(SIZE), "--batch-size", "8", "--workers", "0", "--epochs", "1"]
    if case == "empty":
        (tmp_path / "empty").mkdir()
        return ["train-dream", str(tmp_path / "empty"), "-o", out, *base], "holds no images"
    if case == "single class":
        make_collection(tmp_path / "one", captions=None, folders=True)
        for kind in ("dots", "moss"):
            for p in (tmp_path / "one" / kind).iterdir():
                p.unlink()
            (tmp_path / "one" / kind).rmdir()
        return ["train-dream", str(tmp_path / "one"), "-o", out, *base], "a single class (stripes)"
    if case == "missing images":
        root = make_collection(tmp_path / "c", captions="jsonl")
        (root / "dots3.png").unlink()
        return ["train-dream", str(root / "posts.jsonl"), "-o", out, *base], "names 'dots3.png', which does not exist"
    if case == "not utf-8":
        root = make_collection(tmp_path / "c")
        (root / "moss1.txt").write_bytes("mousse \xe0 la for\xeat".encode("latin-1"))
        return ["train-dream", str(root), "-o", out, *base], "moss1.txt: not UTF-8"
    if case == "empty caption":
        root = make_collection(tmp_path / "c")
        (root / "dots2.txt").write_text("  \n")
        return ["train-dream", str(root), "-o", out, *base], "dots2.txt: the caption is empty"
    if case == "batch":
        root = make_collection(tmp_path / "c", per_kind=3)
        return ["train-dream", str(root), "-o", out, *base[:2], "--batch-size", "16", "--topics", "3"], \
            "fewer than --batch-size 16"
    if case == "not ours":
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(3)}, tmp_path / "other.safetensors")
        return ["topics", str(tmp_path / "other.safetensors")], "not a dream model of ours"
    if case == "overwrite input":
        folder = tmp_path / "coll.safetensors"
        make_collection(folder, captions=None, folders=True)
        return ["train-dream", str(folder), "-o", str(folder), *base], "refusing to overwrite the input"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["empty", "single class", "missing images", "not utf-8", "empty caption", "batch",
                                  "not ours", "overwrite input"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, case):
    argv, message = _bad(tmp_path, case)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("inceptionism: error:"), err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_a_class_name_on_a_captions_model_points_to_word_and_topic(captions_model, capsys, tmp_path):
    from inceptionism.cli import main

    out = captions_model[0]
    assert main(["dream", "skimage:chelsea", "-o", str(tmp_path / "x.png"), "--weights", str(out),
                 "--class", "stripes"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--word stripes" in err and "--topic" in err and not (tmp_path / "x.png").exists()


def test_the_library_visualizes_a_captions_models_topic_and_word(captions_model):
    import inceptionism as inc

    out, *_ = captions_model
    topics = inc.topics(str(out), words=5)
    assert len(topics) == 3 and all(len(words) == 5 for words in topics)
    word = inc.visualize("dots", model=str(out), steps=8, size=64, progress=False)
    assert word.recipe["word"] == "dots" and word.objective[-1] > word.objective[0]
    topic = inc.visualize("1", model=str(out), steps=8, size=64, progress=False)
    assert topic.recipe["topic"] == "1" and topic.label == "topic 1" and topic.objective[-1] > topic.objective[0]
    with pytest.raises(inc.InceptionismError, match="closest: stripes"):
        inc.visualize("strips", model=str(out), steps=1, size=64, progress=False)
    assert "--" not in str(pytest.raises(inc.InceptionismError, inc.dream, "skimage:chelsea", model=str(out),
                                         class_="flamingo", steps=1, octaves=1, progress=False).value)
