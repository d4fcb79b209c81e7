"""Movies in and out: GIF with a proper palette, MP4/WebM through the ffmpeg in imageio-ffmpeg.

Frames are ``H,W,3`` uint8 arrays. Every movie is written atomically (a temporary
file renamed over the target), so an interrupted encode leaves nothing half-made.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from inceptionism.errors import ImageReadError, OutputError
from inceptionism.io.images import atomic_write

MOVIE_SUFFIXES = (".gif", ".mp4", ".webm")
_CODECS = {".mp4": ("libx264", "aac"), ".webm": ("libvpx-vp9", "libopus")}


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    size: tuple[int, int]  # width, height
    frames: int
    has_audio: bool


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame rate, size, frame count and whether it has sound; clear errors for non-videos."""
    import imageio_ffmpeg

    text = os.fspath(path)
    if not os.path.isfile(text):
        raise ImageReadError(f"{text}: no such file")
    try:
        reader = imageio_ffmpeg.read_frames(text)
        meta = next(reader)
        reader.close()
        frames, _ = imageio_ffmpeg.count_frames_and_secs(text)
    except (RuntimeError, OSError, StopIteration, ValueError) as exc:
        raise ImageReadError(f"{text}: cannot read video: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}") from exc
    if int(frames) < 1:
        raise ImageReadError(f"{text}: the video has no frames")
    return VideoInfo(float(meta["fps"]), tuple(meta["size"]), int(frames), bool(meta.get("audio_codec")))


def read_video(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """The frames of a video, in order, as ``H,W,3`` uint8 arrays."""
    import imageio_ffmpeg

    text = os.fspath(path)
    reader = imageio_ffmpeg.read_frames(text, pix_fmt="rgb24")
    try:
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration) as exc:
        raise ImageReadError(f"{text}: cannot read video: {exc}") from exc
    w, h = meta["size"]
    try:
        for raw in reader:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
    finally:
        reader.close()


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: drop a last odd row or column."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def _recipe_text(metadata: dict[str, Any] | None) -> str | None:
    from inceptionism.io.images import METADATA_KEY

    return None if metadata is None else f"{METADATA_KEY}:" + json.dumps(metadata, sort_keys=True)


# Median cut's cost is mostly in building the palette (83 ms for a 256x170 frame, here); from a sample of about
# this many pixels (every 2nd pixel of every 2nd row, and so on) it is as good and the dither spreads the rest.
_PALETTE_SAMPLE = 12_000


def _gif_frame(frame: np.ndarray) -> Image.Image:
    """One frame in its own 256-colour median-cut palette, Floyd-Steinberg dithered."""
    step = max(1, math.ceil(math.sqrt(frame.shape[0] * frame.shape[1] / _PALETTE_SAMPLE)))
    palette = Image.fromarray(np.ascontiguousarray(frame[::step, ::step])).quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)


def write_gif(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float, *,
              metadata: dict[str, Any] | None = None) -> None:
    """An endlessly looping GIF; each frame gets its own adaptive 256-colour palette, dithered.
    ``metadata`` (the recipe) goes into its comment, where ``inceptionism info`` finds it."""
    images = [_gif_frame(f) for f in frames]
    # GIF delays are in hundredths of a second
    duration = max(2, round(100 / fps)) * 10

    def write(tmp: str) -> None:
        text = _recipe_text(metadata)
        images[0].save(tmp, "GIF", save_all=True, append_images=images[1:], duration=duration, loop=0,
                       disposal=1, optimize=False, **({"comment": text.encode("utf-8")} if text else {}))

    atomic_write(path, write)


def write_video(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    fps: float,
    *,
    audio_from: str | os.PathLike[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """MP4 (H.264) or WebM (VP9), optionally with the audio track of another file; ``metadata`` (the
    recipe) goes into the container's comment tag, where ``inceptionism info`` finds it."""
    import imageio_ffmpeg

    suffix = Path(path).suffix.lower()
    if suffix not in _CODECS:
        raise OutputError(f"{os.fspath(path)}: unsupported movie format {suffix!r}: use .gif, .mp4 or .webm")
    video_codec, audio_codec = _CODECS[suffix]
    params = ["-crf", "32", "-b:v", "0"] if video_codec == "libvpx-vp9" else ["-crf", "18"]
    text = _recipe_text(metadata)
    if text:
        params += ["-metadata", f"comment={text}"]

    def write(tmp: str) -> None:
        iterator = iter(frames)
        first = _even(next(iterator))
        h, w = first.shape[:2]
        silent = tmp + ".video" + suffix if audio_from else tmp
        writer = imageio_ffmpeg.write_frames(
            silent, (w, h), fps=fps, codec=video_codec, pix_fmt_out="yuv420p", macro_block_size=1,
            output_params=params, ffmpeg_log_level="error",
        )
        writer.send(None)
        try:
            writer.send(np.ascontiguousarray(first))
            for frame in iterator:
                writer.send(np.ascontiguousarray(_even(frame)))
        finally:
            writer.close()
        if audio_from:
            try:
                cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-i", silent, "-i", os.fspath(audio_from),
                       "-map", "0:v:0", "-map", "1:a:0?", "-map_metadata", "0", "-c:v", "copy", "-c:a", audio_codec,
                       "-shortest", tmp]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise OutputError(f"{os.fspath(path)}: copying the audio failed: {proc.stderr.strip()[-300:]}")
            finally:
                if os.path.exists(silent):
                    os.unlink(silent)

    atomic_write(path, write)


def write_movie(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float,
                audio_from: str | os.PathLike[str] | None = None, *, metadata: dict[str, Any] | None = None) -> None:
    """GIF, MP4 or WebM by the path's suffix, with ``metadata`` (the recipe) inside."""
    if Path(path).suffix.lower() == ".gif":
        write_gif(frames, path, fps, metadata=metadata)
    else:
        write_video(frames, path, fps, audio_from=audio_from, metadata=metadata)


def movie_recipe(path: str | os.PathLike[str]) -> str | None:
    """The recipe text a movie of ours carries in its comment tag (MP4, WebM), or None."""
    import re

    from inceptionism.io.images import METADATA_KEY

    proc = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", os.fspath(path), "-f", "ffmetadata", "-"],
                          capture_output=True, text=True, errors="replace")
    for line in proc.stdout.splitlines():
        if line.lower().startswith("comment="):
            value = re.sub(r"\\(.)", r"\1", line[len("comment="):])  # ffmetadata escapes = ; # \ with a backslash
            if value.startswith(METADATA_KEY + ":"):
                return value[len(METADATA_KEY) + 1:]
    return None


#: movie files whose recipe ``inceptionism info`` reads from the container's comment tag (a GIF's is read as an image's)
TAGGED_MOVIE_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")


def read_movie_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The recipe a movie of ours carries (MP4, WebM), or one line saying it has none."""
    from inceptionism.io.images import parse_recipe

    text = os.fspath(path)
    if not os.path.isfile(text):
        raise ImageReadError(f"{text}: no such file")
    raw = movie_recipe(text)
    if raw is None:
        raise ImageReadError(f"{text}: a movie without inceptionism metadata (made by another program, or by a "
                             f"version before 0.1.0's movie recipes: its frames folder's recipe.json has the settings)")
    return parse_recipe(raw, text)
