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


def test_command_modules_do_not_import_each_other():
    commands = {"dream", "animate", "style", "web", "info"}
    for name in commands:
        text = (ROOT / "src" / "inceptionism" / "cli" / f"{name}.py").read_text()
        for other in commands - {name}:
            assert f"inceptionism.cli.{other}" not in text and f"from inceptionism.cli import {other}" not in text
