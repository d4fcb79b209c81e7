"""The package's shape: no import circles, no private names imported across modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_import_cycles_and_no_private_imports_across_modules():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "import_graph.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cycles: 0" in proc.stdout


CLI = ROOT / "src" / "inceptionism" / "cli"


def _command_modules() -> set[str]:
    """The modules of cli/ that add commands (they define ``add_parsers``), found, not listed by hand."""
    return {p.stem for p in CLI.glob("*.py") if "\ndef add_parsers(" in p.read_text()}


def test_command_modules_do_not_import_each_other():
    commands = _command_modules()
    assert {"dream", "visualize", "animate", "style", "stylize", "info", "web", "completion"} <= commands
    for name in commands:
        text = (CLI / f"{name}.py").read_text()
        for other in commands - {name}:
            assert f"inceptionism.cli.{other}" not in text and f"from inceptionism.cli import {other}" not in text


def test_cli_rooms_are_small_and_the_package_docstring_lists_every_one():
    import ast

    doc = ast.get_docstring(ast.parse((CLI / "__init__.py").read_text())) or ""
    for path in CLI.glob("*.py"):
        if path.stem == "__init__":
            continue
        assert len(path.read_text().splitlines()) <= 400, f"{path.name} is over 400 lines: split it by concern"
        assert f":mod:`.{path.stem}`" in doc, f"cli/__init__.py does not say what {path.name} is for"


def test_no_definition_is_left_unused():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "unused_definitions.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
