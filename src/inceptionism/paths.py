"""How recipes name and fingerprint input files (no heavy imports: the command line's parsers use it)."""

from __future__ import annotations

import hashlib
import os

#: ``skimage:NAME`` names a picture that ships with scikit-image
SAMPLE_PREFIX = "skimage:"
#: ``-``: standard input or output
STDIO = "-"


def file_sha256(path: str) -> str | None:
    """SHA-256 of a file's bytes (None for what is not a file, e.g. skimage:NAME)."""
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_label(path: str | None) -> str | None:
    """How an input is recorded in a recipe: an absolute path, or ``skimage:NAME`` as given."""
    if path is None or path.startswith(SAMPLE_PREFIX) or path == STDIO:  # "-": standard input
        return path
    return os.path.abspath(path)
