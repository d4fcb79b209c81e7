"""The tutorials in docs/notebooks/: kept without outputs in git, and each runs in a real Jupyter kernel (on quick
settings) with a PNG shown by every cell that makes a picture."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def _last_line(cell: dict) -> str:
    lines = [line for line in "".join(cell["source"]).splitlines() if line.strip() and not line.startswith(" ")]
    return lines[-1] if lines else ""


def test_there_are_four_tutorials_and_they_are_kept_without_outputs():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]
    for path in NOTEBOOKS:
        for cell in _code_cells(path):
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: outputs in git"


def test_every_cell_that_shows_a_picture_is_tagged_so():
    for path in NOTEBOOKS:
        tagged = 0
        for cell in _code_cells(path):
            shows = "picture" in cell.get("metadata", {}).get("tags", [])
            tagged += shows
            if re.match(r"^inc\.(dream|visualize|stylize|style)\(", _last_line(cell)):
                assert shows, f"{path.name}: {_last_line(cell)!r} shows a picture but is not tagged"
        assert tagged >= 2, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_and_every_picture_cell_shows_a_png(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("INCEPTIONISM_QUICK", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    shown = 0
    for n, cell in enumerate(book.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{path.name} cell {n}: {errors[0].ename}: {errors[0].evalue}"
        if "picture" in cell.metadata.get("tags", []):
            pngs = [o for o in cell.outputs if o.output_type == "execute_result" and "image/png" in o.get("data", {})]
            assert pngs, f"{path.name} cell {n} showed no picture: {''.join(cell.source)[:80]!r}"
            shown += 1
    assert shown >= 2
    assert not any(Path(path.parent).glob("*.png")), "the notebook wrote beside itself, not in its folder"
