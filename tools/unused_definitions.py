"""List the top-level definitions of ``src/inceptionism`` that nothing refers to.

    python tools/unused_definitions.py            # each unused definition, as FILE:LINE NAME
    python tools/unused_definitions.py --check    # exit 1 if there is one

A definition (function, class, or constant assigned at the top of a module) is used when its name appears
anywhere else as a word: in the package, the tests, the benchmarks, the docs' scripts, the tools or the README.
Names Python or the tools call for us (``__getattr__``, ``main``, ``add_parsers``, ``cmd_*`` set as a parser's
``func``) count as used. A row is a place to look: a name used only through ``getattr`` would be listed.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "inceptionism"
#: where a use may be
CORPUS = [ROOT / "src", ROOT / "tests", ROOT / "benchmarks", ROOT / "docs", ROOT / "tools", ROOT / "README.md"]
#: names something other than a reader calls by name
ENTRY_POINTS = {"main", "add_parsers", "__getattr__", "__dir__", "__all__", "__version__"}


def definitions(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node.lineno, node.name))
        elif isinstance(node, ast.Assign):
            out += [(node.lineno, t.id) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.append((node.lineno, node.target.id))
    return out


def word_counts() -> Counter[str]:
    counts: Counter[str] = Counter()
    for place in CORPUS:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.suffix in (".py", ".md", ".sh", ".ipynb")]
        for path in files:
            counts.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path.read_text(encoding="utf-8", errors="replace")))
    return counts


def unused() -> list[str]:
    counts = word_counts()
    rows = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name in definitions(path):
            if name in ENTRY_POINTS or name.startswith("cmd_") or (name.startswith("__") and name.endswith("__")):
                continue
            if counts[name] <= 1:
                rows.append(f"{path.relative_to(ROOT)}:{line} {name}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a definition is unused")
    args = parser.parse_args()
    rows = unused()
    for row in rows:
        print(row)
    print(f"unused top-level definitions: {len(rows)}")
    return 1 if args.check and rows else 0


if __name__ == "__main__":
    sys.exit(main())
