"""The README stays true: every command in it parses with the tool's own parser, and every option of every
command is in it (issue 36's "keep it true"). Nothing here runs a command: docs/run_readme.sh does that."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from inceptionism.cli.main import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[tuple[int, list[str]]]:
    """(line number, words after ``inceptionism``) of every inceptionism command in the README's bash blocks."""
    found, block, pending, start = [], False, "", 0
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if line.startswith("```"):
            block = line.strip() in ("```bash", "```sh", "```shell")
            continue
        if not block:
            continue
        if not pending:
            start = number
        pending += line.rstrip("\\") + " "
        if line.endswith("\\"):
            continue
        text, pending = pending, ""
        try:
            words = shlex.split(text, comments=True)
        except ValueError:
            continue
        segment: list[str] = []
        for word in [*words, "|"]:
            if word in ("|", "&&", ";", "||", ">", "<"):
                if "inceptionism" in segment:
                    at = segment.index("inceptionism")
                    found.append((start, segment[at + 1:]))
                segment = [] if word != ">" else ["<redirect>"]
            elif segment != ["<redirect>"]:
                segment.append(word)
            else:
                segment = []
    return found


def test_every_readme_command_parses():
    parser = build_parser()
    commands = _commands()
    assert len(commands) > 50  # the README's examples, not an empty match
    bad = []
    for number, words in commands:
        try:
            parser.parse_args(words)
        except SystemExit:
            bad.append(f"README.md:{number}: inceptionism {shlex.join(words)}")
    assert not bad, "\n".join(bad)


def _options() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: {o for a in p._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
            for name, p in sub.choices.items()}


def _where(command: str) -> str:
    """The README's text about ``command``: its sections, every paragraph (or table row) that names it, and
    the paragraphs that speak of every command at once ("Every command that dreams ... takes ...")."""
    named = re.compile(r"(?<![\w-])" + re.escape(command) + r"(?![\w-])")
    heading = re.compile(r"inceptionism " + re.escape(command) + r"(?![\w-])")
    kept, level, paragraph = [], 0, []

    def close() -> None:
        text = "\n".join(paragraph)
        if level or named.search(text) or re.search(r"(?i)\bevery (\w+ )?command", text):
            kept.append(text)
        paragraph.clear()

    for line in README.read_text().splitlines():
        if line.startswith("#") and not line.startswith("#!") or not line.strip() or line.startswith("|"):
            close()
        if line.startswith("#") and not line.startswith("#!"):
            depth = len(line) - len(line.lstrip("#"))
            if heading.search(line):
                level = depth
            elif level and depth <= level:
                level = 0
        paragraph.append(line)
        if line.startswith("|"):
            close()  # a table row is a paragraph of its own
    close()
    return "\n".join(kept)


def test_every_option_of_every_command_is_in_the_readme():
    missing = []
    for command, options in sorted(_options().items()):
        text = _where(command)
        missing += [f"{command} {option}" for option in sorted(options)
                    if not re.search(re.escape(option) + r"(?![\w-])", text)]
    assert not missing, "options the README never mentions where it speaks of their command: " + ", ".join(missing)


@pytest.mark.parametrize("line", ["inceptionism dream a.png --no-such-option", "inceptionism nosuchcommand"])
def test_the_parse_check_can_fail(line):
    with pytest.raises(SystemExit):
        build_parser().parse_args(shlex.split(line)[1:])


def test_gallery_captions_are_the_recipes_of_their_pictures():
    """A dream in the README's tables is captioned with the command its own file's recipe gives."""
    from inceptionism.cli.info import recipe_command
    from inceptionism.errors import InceptionismError
    from inceptionism.io.images import read_metadata

    lines = README.read_text().splitlines()
    checked = []
    for k, line in enumerate(lines[:-1]):
        names = re.findall(r"!\[\]\(docs/gallery/([^)]+)\)", line)
        if not names or not line.startswith("|"):
            continue
        captions = [c.strip() for c in lines[k + 1].strip().strip("|").split(" | ")]
        for name, caption in zip(names, captions):
            try:
                command = recipe_command(read_metadata(README.parent / "docs" / "gallery" / name))
            except InceptionismError:
                continue  # a picture made otherwise (a mask, a composite): its caption says what it is
            if command is None:
                continue
            words = shlex.split(command)[1:]
            at = words.index("-o")
            assert caption == f"`{shlex.join(words[:at] + words[at + 2:])}`", name
            checked.append(name)
    assert len(checked) >= 8, checked


def _python_blocks() -> list[tuple[int, str]]:
    blocks, lines, start = [], None, 0
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if line.strip() == "```python":
            lines, start = [], number + 1
        elif line.startswith("```") and lines is not None:
            blocks.append((start, "\n".join(lines)))
            lines = None
        elif lines is not None:
            lines.append(line)
    return blocks


def test_the_readmes_python_parses_and_names_only_what_exists():
    import ast
    import importlib

    import inceptionism

    blocks = _python_blocks()
    assert len(blocks) >= 3
    missing = []
    for start, text in blocks:
        tree = ast.parse(text, filename=f"README.md:{start}")
        aliases = {a.asname or a.name: a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("inceptionism"):
                module = importlib.import_module(node.module)
                missing += [f"README.md:{start}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name)]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    aliases.get(node.value.id) == "inceptionism" and not hasattr(inceptionism, node.attr):
                missing.append(f"README.md:{start}: inceptionism.{node.attr}")
    assert not missing, "\n".join(missing)
