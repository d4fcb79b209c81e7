"""Print the import graph of ``src/inceptionism`` and what breaks the house rules.

    python tools/import_graph.py            # edges, cycles, private names imported across modules
    python tools/import_graph.py --check    # exit 1 if there is a cycle or a private cross-module import

Every ``import``/``from ... import`` of an ``inceptionism`` module counts, at any depth
(imports inside functions too): a circle through a function-level import is still a circle
for the reader.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "inceptionism"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module a dotted name refers to (a module, or a name inside one)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(known: dict[str, Path]) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """(module -> modules it imports, [(importer, imported module, private name)])."""
    edges: dict[str, set[str]] = {m: set() for m in known}
    private: list[tuple[str, str, str]] = []
    for mod, path in known.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = resolve(alias.name, known)
                    if target and target != mod:
                        edges[mod].add(target)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    parent = parent[: len(parent) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                if not base.startswith(PACKAGE):
                    continue
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    target = full if full in known else resolve(base, known)
                    if target and target != mod:
                        edges[mod].add(target)
                        if alias.name.startswith("_") and not alias.name.endswith("__") and full not in known:
                            private.append((mod, target, alias.name))
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report problems; exit 1 if any")
    args = parser.parse_args()
    known = modules()
    edges, private = imports(known)
    # a package's __init__ re-exporting its own submodules is not a circle a reader has to untangle
    def is_reexport(a: str, b: str) -> bool:
        return known[a].name == "__init__.py" and b.startswith(a + ".")

    plain = {a: {b for b in bs if not is_reexport(a, b) and not is_reexport(b, a)} for a, bs in edges.items()}
    found = cycles(plain)
    if not args.check:
        for mod in sorted(edges):
            if plain[mod]:
                print(f"{mod} -> {', '.join(sorted(plain[mod]))}")
        print()
    print(f"modules: {len(known)}, edges: {sum(len(v) for v in plain.values())}")
    print(f"cycles: {len(found)}")
    for comp in found:
        print("  " + " <-> ".join(comp))
    print(f"private names imported across modules: {len(private)}")
    for importer, target, name in private:
        print(f"  {importer} imports {target}.{name}")
    return 1 if (found or private) else 0


if __name__ == "__main__":
    sys.exit(main())
