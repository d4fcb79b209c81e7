"""Unpacking a zip that a stranger sent (the browser's Train tab), safely.

Every member must land inside the destination folder: absolute names, ``..`` parts,
drive letters and symbolic links are refused. Bombs are refused too: at most
``max_files`` members and ``max_bytes`` unpacked, counted on the bytes really
written (a member's declared size may lie), and no member may expand more than
:data:`MAX_RATIO` times. A refusal is one line (:class:`ArchiveError`), and the destination is removed with everything
already unpacked into it: nothing is left behind, inside or outside.

Folders of macOS resource forks (``__MACOSX/``) and hidden files (``.DS_Store``) are
left out; nested archives are kept as files, never unpacked.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from inceptionism.errors import InceptionismError

#: the most a member may expand (deflate reaches about 1000:1 on zeros; photos barely compress)
MAX_RATIO = 200
_CHUNK = 1 << 20


class ArchiveError(InceptionismError):
    """A zip refused: not a zip, a member that points outside its folder, or too big once unpacked."""


def _member_path(name: str) -> PurePosixPath | None:
    """The member's path inside the folder; None for what is left out; an ArchiveError for what is refused."""
    clean = name.replace("\\", "/")
    path = PurePosixPath(clean)
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or ".." in path.parts:
        raise ArchiveError(f"{name!r} points outside the archive's folder")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return None
    return PurePosixPath(*parts)


def check_archive(archive: str | os.PathLike[str], *, max_files: int = 5000, max_bytes: int = 1 << 30,
                  what: str | None = None) -> None:
    """What can be told of ``archive`` from its table of contents, without unpacking it: a zip, no member that
    points outside or is a link, not too many members, not too much declared. (A member's declared size may
    lie: :func:`safe_extract` counts the bytes it really writes.)"""
    label = what or Path(archive).name
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{label}: not a zip archive ({exc})") from None
    except OSError as exc:
        raise ArchiveError(f"{label}: cannot be read: {exc.strerror or exc}") from None
    try:
        if len(members) > max_files:
            raise ArchiveError(f"it holds {len(members)} entries, more than the {max_files} allowed")
        for info in members:
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"{info.filename!r} is a symbolic link (refused: it could point anywhere)")
            _member_path(info.filename)
        if sum(info.file_size for info in members) > max_bytes:
            raise ArchiveError(f"it unpacks to more than {max_bytes / 2**20:.0f} MB")
    except ArchiveError as exc:
        raise ArchiveError(f"{label}: {exc}") from None


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str], *, max_files: int = 5000,
                 max_bytes: int = 1 << 30, what: str | None = None) -> list[Path]:
    """Unpack ``archive`` into ``dest`` (made here; it must not exist); returns the files written.

    ``what`` names the archive in messages (default its file name). On any refusal ``dest``
    is removed and :class:`ArchiveError` says why in one line.
    """
    label = what or Path(archive).name
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise ArchiveError(f"{label}: cannot unpack into {dest}: {exc.strerror or exc}") from None
    root = dest.resolve()
    written: list[Path] = []
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                if len(members) > max_files:
                    raise ArchiveError(f"it holds {len(members)} entries, more than the {max_files} allowed")
                total = 0
                for info in members:
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        raise ArchiveError(f"{info.filename!r} is a symbolic link (refused: it could point anywhere)")
                    inside = _member_path(info.filename)
                    if inside is None or info.is_dir():
                        continue
                    target = (root / inside).resolve()
                    if not target.is_relative_to(root):
                        raise ArchiveError(f"{info.filename!r} points outside the archive's folder")
                    if info.file_size > max_bytes - total:
                        raise ArchiveError(f"it unpacks to more than {max_bytes / 2**20:.0f} MB")
                    limit = min(max_bytes - total, max(info.compress_size, 1) * MAX_RATIO + _CHUNK)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    size = 0
                    with zf.open(info) as source, open(target, "xb") as out:
                        written.append(target)
                        while chunk := source.read(_CHUNK):
                            size += len(chunk)
                            if size > limit:
                                raise ArchiveError(
                                    f"{info.filename!r} expands beyond "
                                    f"{'the size allowed' if limit == max_bytes - total else f'{MAX_RATIO} times its packed size'}"
                                    " (a zip bomb?)")
                            out.write(chunk)
                    total += size
        except zipfile.BadZipFile as exc:
            raise ArchiveError(f"not a zip archive ({exc})") from None
        except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"cannot be unpacked ({exc})") from None
        except FileExistsError as exc:
            raise ArchiveError(f"names the file {Path(exc.filename).relative_to(root)} twice") from None
        except OSError as exc:
            raise ArchiveError(f"cannot be unpacked: {exc.strerror or exc}") from None
    except ArchiveError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(f"{label}: {exc}") from None
    return written
