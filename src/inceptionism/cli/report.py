"""``--json``: what a command did, as one JSON document on stdout when it ends.

Every command gets a :class:`Report` as ``args.report`` and tells it what it read
and wrote (:meth:`Report.output`) or, for the commands that describe something,
what it found (:meth:`Report.describe`). With ``--json`` the command's own
stdout goes to stderr with its progress and messages, and :func:`document`
prints the report: the schema is in the README ("Scripting") and
``tests/test_scripting.py`` checks it for every command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: bumped when a field changes meaning or goes away (new fields may come at any time)
SCHEMA = 1

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class Report:
    def __init__(self, command: str):
        self.command = command
        self.items: list[dict[str, Any]] = []
        self.fields: dict[str, Any] = {}

    def output(self, path: str | os.PathLike[str] | None, *, input: str | None = None, status: str = "written",
               error: str | None = None, **more: Any) -> None:
        """One thing written (or skipped, or failed), with the input it came from."""
        item: dict[str, Any] = {"input": input, "output": None if path is None else os.fspath(path), "status": status}
        if error is not None:
            item["error"] = error
        item.update(more)
        self.items.append(item)

    def describe(self, **fields: Any) -> None:
        """What a describing command found (models, layers, a recipe...)."""
        self.fields.update(fields)


def _details(path: str) -> dict[str, Any]:
    """What can be read back from a written file: its size and recipe, or a model file's metadata."""
    p = Path(path)
    if not p.is_file():
        return {"bytes": sum(f.stat().st_size for f in p.rglob("*") if f.is_file())} if p.is_dir() else {}
    out: dict[str, Any] = {"bytes": p.stat().st_size}
    suffix = p.suffix.lower()
    try:
        if suffix in _IMAGE_SUFFIXES:
            from PIL import Image

            from inceptionism.io.images import read_metadata

            with Image.open(p) as im:
                out["width"], out["height"] = im.size
            out["recipe"] = read_metadata(p)
        elif suffix == ".safetensors":
            from inceptionism.io.tensors import read_safetensors

            meta = read_safetensors(p, tensors=False)[1]
            out["format"] = meta.get("format")
            if "training" in meta:
                out["training"] = json.loads(meta["training"])
    except Exception:  # noqa: BLE001 - a detail that cannot be read back is left out, the item stays
        pass
    return out


def document(report: Report, *, code: int, seconds: float, error: str | None = None) -> dict[str, Any]:
    """The JSON document of a finished command (``code``: its exit status)."""
    items = []
    for item in report.items:
        items.append({**item, **(_details(item["output"]) if item["output"] and item["status"] == "written" else {})})
    doc: dict[str, Any] = {"schema": SCHEMA, "command": report.command, "ok": code == 0 and error is None,
                           "exit_code": code, "seconds": round(seconds, 3)}
    if error is not None:
        doc["error"] = error
    if items:
        doc["outputs"] = items
        first = next((i["recipe"] for i in items if "recipe" in i), None)
        if first is not None:
            doc["device"] = first.get("device")
            doc["precision"] = (first.get("config") or {}).get("precision", first.get("precision"))
    doc.update(report.fields)
    return doc
