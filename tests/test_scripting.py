"""For scripts: --json on every command, stdin and stdout as files, shell completion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Small inputs for every command: photos, class folders, a style, a clip, a style model, a topics model."""
    root = tmp_path_factory.mktemp("scripting")
    rng = np.random.default_rng(0)
    photo = root / "photo.png"
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(photo)
    style = root / "style.png"
    Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(style)
    data = root / "data"
    for name in ("cats", "dogs"):
        (data / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(data / name / f"{i}.png")
    captions = root / "captions"
    captions.mkdir()
    for i, text in enumerate(["a cat on a mat", "a dog in the sea", "a cat and a dog", "the sea at night"]):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(captions / f"{i}.png")
        (captions / f"{i}.txt").write_text(text)
    from inceptionism.io.video import write_video

    clip = root / "clip.mp4"
    write_video([(rng.random((32, 48, 3)) * 255).astype(np.uint8) for _ in range(3)], clip, 3)
    out = {"root": root, "photo": photo, "style": style, "data": data, "captions": captions, "clip": clip,
           "styles": root / "styles.safetensors", "topics": root / "topics.safetensors"}
    assert main(["train-style", "--style", str(style), "--data", str(data), "-o", str(out["styles"]), "--image-size",
                 "32", "--batch-size", "2", "--width", "8", "--init", "scratch", "--steps", "2", "-q"]) == 0
    assert main(["train-dream", str(captions), "-o", str(out["topics"]), "--topics", "2", "--steps", "2",
                 "--image-size", "32", "--batch-size", "2", "-q"]) == 0
    return out


def _commands(f: dict[str, Path], out: Path) -> dict[str, list[str]]:
    dream = ["--steps", "1", "--octaves", "1", "-q"]
    return {
        "dream": ["dream", str(f["photo"]), "-o", str(out / "d.png"), *dream],
        "animate": ["animate", str(f["photo"]), "-o", str(out / "z.gif"), "--frames", "2", "--every", "1", "-q"],
        "video": ["video", str(f["clip"]), "-o", str(out / "v.mp4"), *dream],
        "sweep": ["sweep", str(f["photo"]), "-o", str(out / "s.png"), "--steps", "1,2", "--octaves", "1", "-q"],
        "style": ["style", str(f["photo"]), "--style", str(f["style"]), "-o", str(out / "st.png"), "--size", "64",
                  "--steps", "2", "-q"],
        "stylize": ["stylize", str(f["photo"]), "--style-index", "0", "-o", str(out / "sz.png"), "-q"],
        "train-dream": ["train-dream", str(f["data"]), "-o", str(out / "classes.safetensors"), "--steps", "1",
                        "--image-size", "32", "--batch-size", "2", "-q"],
        "train-style": ["train-style", "--style", str(f["style"]), "--data", str(f["data"]), "-o",
                        str(out / "ts.safetensors"), "--image-size", "32", "--batch-size", "2", "--width", "8",
                        "--init", "scratch", "--steps", "1", "-q"],
        "export": ["export", str(f["styles"]), "-o", str(out / "half.safetensors")],
        "info": ["info", str(f["topics"])],
        "models": ["models"],
        "layers": ["layers"],
        "styles": ["styles"],
        "topics": ["topics", str(f["topics"])],
    }


#: what each command's document carries besides the common fields
EXPECTED = {"models": "models", "layers": "layers", "styles": "styles", "topics": "topics", "info": "model"}


@pytest.mark.parametrize("command", list(_commands({k: Path(k) for k in ("photo", "style", "data", "clip", "styles",
                                                                        "topics")}, Path("out"))))
def test_json_documents_what_each_command_did(files, tmp_path, capsys, command):
    argv = _commands(files, tmp_path)[command]
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # stdout holds the one document and nothing else
    assert doc["schema"] == 1 and doc["command"] == command and doc["ok"] is True and doc["exit_code"] == 0
    assert isinstance(doc["seconds"], float) and doc["seconds"] >= 0
    if command in EXPECTED:
        assert doc[EXPECTED[command]], doc
        return
    assert doc["outputs"], doc
    for item in doc["outputs"]:
        assert item["status"] == "written" and Path(item["output"]).exists() and item["input"]
        assert item["bytes"] > 0
        if item["output"].endswith(".png"):
            assert item["width"] > 0 and item["height"] > 0 and item["recipe"]["command"] == command
    if command in ("dream", "stylize"):
        assert doc["device"] == "cpu" and doc["precision"] in ("fp32", "bf16")


def test_json_reports_several_inputs_one_entry_each_with_its_outcome(files, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    capsys.readouterr()
    code = main(["dream", str(files["photo"]), str(broken), "-o", str(tmp_path / "out"), "--steps", "1",
                 "--octaves", "1", "-q", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["ok"] is False and doc["exit_code"] == 1
    outcome = {Path(i["input"]).name: i["status"] for i in doc["outputs"]}
    assert outcome == {"photo.png": "written", "broken.png": "failed"}
    assert "cannot read image" in next(i["error"] for i in doc["outputs"] if i["status"] == "failed")


@pytest.mark.parametrize("argv", [["dream", "nothere.png", "-o", "x.png"], ["stylize", "nothere.png", "--style-index",
                                  "0", "-o", "x.png"], ["info", "nothere.png"], ["topics", "nothere.safetensors"],
                                  ["dream", "--steps", "many"], ["layers", "--model", "nonet"]])
def test_a_failure_with_json_is_a_json_error_object(tmp_path, capsys, argv):
    capsys.readouterr()
    try:
        code = main([*argv, "--json"])
    except SystemExit as exc:  # a usage error: argparse exits
        code = exc.code
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code != 0 and doc["ok"] is False and doc["exit_code"] == code
    assert doc["error"] and "\n" not in doc["error"]
    assert doc["error"] in captured.err  # the same one line as without --json


def test_a_dream_from_stdin_to_stdout_equals_the_one_from_file_to_file(files, tmp_path):
    command = [sys.executable, "-m", "inceptionism", "dream", "--steps", "2", "--octaves", "2", "-q"]
    piped = subprocess.run([*command[:4], "-", "-o", "-", *command[4:]], input=files["photo"].read_bytes(),
                           capture_output=True, timeout=300)
    assert piped.returncode == 0, piped.stderr.decode()[-500:]
    subprocess.run([*command[:4], str(files["photo"]), "-o", str(tmp_path / "file.png"), *command[4:]], check=True,
                   timeout=300)
    streamed = Image.open(__import__("io").BytesIO(piped.stdout))
    assert streamed.format == "PNG" and "inceptionism" in streamed.info  # the recipe travels too
    assert np.array_equal(np.asarray(streamed), np.asarray(Image.open(tmp_path / "file.png")))


def test_json_and_stdout_output_are_not_mixed(files, capsys):
    capsys.readouterr()
    code = main(["dream", str(files["photo"]), "-o", "-", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and "standard output" in doc["error"]


def test_completion_offers_commands_options_models_and_the_layers_of_the_chosen_model(capsys):
    def offered(*words: str) -> list[str]:
        capsys.readouterr()
        assert main(["__complete", str(len(words) - 1), *words]) == 0
        return capsys.readouterr().out.split()

    assert "dream" in offered("inceptionism", "dr")
    assert "--lap-norm" in offered("inceptionism", "dream", "x.jpg", "--la")
    assert "vgg16" in offered("inceptionism", "dream", "--model", "vg")
    assert offered("inceptionism", "dream", "x.jpg", "--model", "vgg16", "--layer", "relu5") == \
        ["relu5_1", "relu5_2", "relu5_3"]
    assert "blocks.4" in offered("inceptionism", "dream", "--layer", "")  # the default model's
    assert offered("inceptionism", "stylize", "--strength-by", "") == ["norms", "fade"]
    assert offered("inceptionism", "dream", "-o", "") == []  # a file: the shell's own completion


def test_the_bash_script_completes_through_the_tool(tmp_path):
    script = subprocess.run([sys.executable, "-m", "inceptionism", "completion", "bash"], capture_output=True,
                            text=True, check=True).stdout
    shim = tmp_path / "inceptionism"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m inceptionism \"$@\"\n")
    shim.chmod(0o755)
    run = subprocess.run(["bash", "-c", script + '\nCOMP_WORDS=(inceptionism dream x.jpg --model vgg16 --layer conv4)\n'
                          'COMP_CWORD=6\n_inceptionism\nprintf "%s\\n" "${COMPREPLY[@]}"'],
                         capture_output=True, text=True, env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, timeout=120)
    assert run.stdout.split() == ["conv4_1", "conv4_2", "conv4_3"], run.stderr


def test_the_zsh_script_completes_through_the_tool(tmp_path):
    import shutil

    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed here")
    script = subprocess.run([sys.executable, "-m", "inceptionism", "completion", "zsh"], capture_output=True,
                            text=True, check=True).stdout
    shim = tmp_path / "inceptionism"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m inceptionism \"$@\"\n")
    shim.chmod(0o755)
    # compadd and _files work only inside a completion widget: stand-ins print what they are given
    driver = ("autoload -U compinit; compinit -u 2>/dev/null\n" + script +
              '\ncompadd() { shift; print -l -- "$@" }\n_files() { print FILES }\n'
              "words=(inceptionism dream x.jpg --model vgg16 --layer conv4); CURRENT=7; _inceptionism\n"
              'words=(inceptionism dream -o ""); CURRENT=4; _inceptionism\n')
    run = subprocess.run(["zsh", "-f", "-c", driver], capture_output=True, text=True, timeout=120,
                         env={"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)})
    assert run.stdout.split() == ["conv4_1", "conv4_2", "conv4_3", "FILES"], run.stdout + run.stderr


@pytest.mark.parametrize("data, reason", [(b"", "it is empty"), (b"hello\n", "not an image file")])
def test_info_of_standard_input_that_is_no_image_says_so_in_our_words(data, reason):
    proc = subprocess.run([sys.executable, "-m", "inceptionism", "info", "-"], input=data, capture_output=True)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.strip() == f"inceptionism: error: standard input: cannot read image: {reason}"
