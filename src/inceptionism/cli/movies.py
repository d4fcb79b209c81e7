"""Movies from frames: assembling a GIF, MP4 or WebM from a frame store, keeping the frames on Ctrl-C or a full
disk, and the frames' progress bar."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator

from inceptionism.errors import Interrupted, OutputError
from inceptionism.progress import progress_bar


# -- frames of a movie ---------------------------------------------------------------
def assemble_movie(store: Any, count: int, movie: Path | None, fps: float, *, reverse: bool = False,
                   boomerang: bool = False, audio_from: str | None = None, quiet: bool = False) -> None:
    from inceptionism.io.video import write_movie

    if movie is None:
        if not quiet:
            print(f"wrote {count} frames into {store.folder}/ (PNG, each with its recipe)", file=sys.stderr)
        return
    frames = store.arrays(count)
    if reverse:
        frames = frames[::-1]
    if boomerang:
        frames = frames + frames[-2:0:-1]
    write_movie(frames, movie, fps, audio_from=audio_from,
                metadata={**store.recipe, "frames": count, "fps": fps, "reverse": reverse, "boomerang": boomerang})
    if not quiet:
        # the frames stay for --resume (and a sibling format made at once); say where, and that they may go
        print(f"wrote {movie} ({len(frames)} frames at {fps:g} fps); its frames are kept in {store.folder}/ for "
              f"--resume or another format, and can be deleted", file=sys.stderr)


@contextlib.contextmanager
def kept_on_stop(store: Any, bar: Any) -> Iterator[None]:
    """Ctrl-C, SIGTERM or a full disk: one line saying which frames are kept and how to go on."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {len(store.frame_numbers())} frames are kept in {store.folder}; "
                          "add --resume to continue") from None
    except OutputError as exc:
        raise OutputError(f"{exc}; {len(store.frame_numbers())} frames are kept in {store.folder}: "
                          "make room and add --resume to continue") from None
    finally:
        bar.close()


def frame_bar(total: int, initial: int, name: str, quiet: bool) -> Any:
    return progress_bar(total, name, quiet, unit="frame", initial=initial, leave=True)
