"""Reading and writing images.

Every image crosses the public boundary as a float tensor ``1,3,H,W`` in [0, 1].
Reading honours EXIF orientation, reads 16-bit data at full precision, keeps an
alpha channel aside so that it can be written back, and turns every failure into
an :class:`ImageReadError` naming the file. Writing is atomic: a temporary file
in the destination folder is renamed over the target only once it is complete.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin

from inceptionism.errors import ConfigError, ImageReadError, OutputError, param
from inceptionism.parsing import pixels_text
from inceptionism.paths import SAMPLE_PREFIX, STDIO, source_label

log = logging.getLogger(__name__)

#: Largest image (in pixels) that is read; a larger one is refused as a likely
#: decompression bomb. 400 MP admits a 16384x16384 dream.
DEFAULT_MAX_PIXELS = 400_000_000
#: Smallest side that is worth dreaming on.
MIN_SIDE = 8
#: Key under which the recipe of an output is stored (PNG text chunk / EXIF).
METADATA_KEY = "inceptionism"
_EXIF_DESCRIPTION = 0x010E
_EXIF_SOFTWARE = 0x0131

#: Images that ship inside scikit-image (no download), usable as ``skimage:NAME``.
SAMPLE_IMAGES = (
    "astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins",
    "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry",
    "logo", "moon", "page", "rocket", "text",
)

OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
_ALPHA_FORMATS = {"PNG", "WEBP"}


@dataclass(frozen=True)
class LoadedImage:
    """An image read from disk: RGB in [0, 1] and, if it had one, its alpha."""

    rgb: torch.Tensor  # 1,3,H,W float32 in [0, 1]
    alpha: torch.Tensor | None  # H,W float32 in [0, 1]
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[-1], self.rgb.shape[-2]


def shrink(image: LoadedImage, max_side: int) -> LoadedImage:
    """``image`` with its long side at most ``max_side`` pixels (area-averaged, aspect kept); 0: unchanged."""
    w, h = image.size
    if max_side <= 0 or max(w, h) <= max_side:
        return image
    scale = max_side / max(w, h)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    rgb = torch.nn.functional.interpolate(image.rgb, size=size, mode="area")
    alpha = (None if image.alpha is None else
             torch.nn.functional.interpolate(image.alpha[None, None], size=size, mode="area")[0, 0])
    return LoadedImage(rgb, alpha, image.source)


@contextlib.contextmanager
def pixel_limit(max_pixels: int) -> Iterator[None]:
    # PIL refuses images over 2 * MAX_IMAGE_PIXELS itself; we apply our own limit
    # instead (it is larger, for huge tiled dreams) and turn PIL's warning off.
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels  # PIL refuses over twice this; we refuse over it, with our message
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # a palette's transparency is read as RGBA below (_to_float_array): Pillow's advice is taken
            warnings.filterwarnings("ignore", "Palette images with Transparency", UserWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


#: rows of 8-bit pixels converted to float at a time (a 64 MB slice), so a huge picture never has a second
#: full-size 8-bit copy or a float64/float32 temporary beside its float32 result
_CHUNK_BYTES = 64 << 20


def _float_rows(im: Image.Image, mode: str) -> np.ndarray:
    """``im`` in ``mode`` (RGB or RGBA) as an HxWxC float32 array in [0, 1], converted a slice of rows at a time."""
    w, h = im.size
    channels = len(mode)
    out = np.empty((h, w, channels), dtype=np.float32)
    rows = max(1, _CHUNK_BYTES // max(1, w * channels))
    for y in range(0, h, rows):
        part = im.crop((0, y, w, min(h, y + rows)))
        if part.mode != mode:
            part = part.convert(mode)
        np.divide(np.asarray(part), np.float32(255.0), out=out[y:y + rows], dtype=np.float32)
    return out


def _to_float_array(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """HxWx3 RGB and optional HxW alpha, both float32 in [0, 1]."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        gray = np.asarray(im, dtype=np.float32) / 65535.0
        return np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=2), None
    if mode == "F":
        gray = np.clip(np.asarray(im, dtype=np.float32), 0, 1)
        return np.repeat(gray[..., None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = _float_rows(im, "RGBA")
        alpha = np.ascontiguousarray(rgba[..., 3])
        if alpha.min() >= 1.0:
            alpha = None
        return rgba[..., :3], alpha
    return _float_rows(im, "RGB"), None


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (``MemAvailable``), or None where it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


#: what reading takes besides the decoded 8-bit picture and its float32 copy (slices, Pillow's buffers)
READ_OVERHEAD = 300 << 20


def reading_bytes(width: int, height: int, mode: str) -> int:
    """The most memory reading a ``width`` x ``height`` picture of PIL ``mode`` takes: its 8-bit decode, its
    float32 RGB (and alpha) copy and :data:`READ_OVERHEAD`."""
    pixels = width * height
    decoded = pixels * max(1, len(mode) if mode.isalpha() else 4)
    return decoded + pixels * 4 * (4 if mode in ("RGBA", "LA", "PA") else 3) + READ_OVERHEAD


def _from_array(arr: np.ndarray, source: str) -> LoadedImage:
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    alpha = None
    if arr.shape[2] == 4:
        arr, alpha = arr[..., :3], arr[..., 3]
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
        alpha = None if alpha is None else alpha.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    rgb = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)[None]
    a = None if alpha is None else torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))
    return LoadedImage(rgb=rgb.clamp(0, 1), alpha=a, source=source)


def load_sample(name: str) -> LoadedImage:
    """One of scikit-image's bundled pictures (``chelsea``, ``coffee``, ``astronaut``...)."""
    if name not in SAMPLE_IMAGES:
        raise ImageReadError(
            f"unknown sample image {SAMPLE_PREFIX}{name}: choose one of "
            + ", ".join(SAMPLE_IMAGES)
        )
    try:
        import skimage.data
    except ImportError as exc:  # pragma: no cover - scikit-image is a dependency
        raise ImageReadError(f"{SAMPLE_PREFIX}{name} needs scikit-image: {exc}") from exc
    try:
        arr = np.asarray(getattr(skimage.data, name)())
    except Exception as exc:  # noqa: BLE001 - any failure there is "not available here"
        raise ImageReadError(f"sample image {SAMPLE_PREFIX}{name} is not available: {exc}") from exc
    return _from_array(arr, f"{SAMPLE_PREFIX}{name}")


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file (or ``skimage:NAME``) as RGB in [0, 1], alpha kept aside.

    Raises :class:`ImageReadError` with the file name and the reason for anything
    that cannot be read: a missing or empty file, a file that is not an image, a
    truncated one, one over ``max_pixels``, or one smaller than ``MIN_SIDE``.
    """
    text = os.fspath(path)
    if text.startswith(SAMPLE_PREFIX):
        return _check_size(load_sample(text[len(SAMPLE_PREFIX):]), text)
    if text == STDIO:
        return load_image_bytes(stdin_bytes(), "standard input", max_pixels=max_pixels)
    p = Path(text)
    if not p.exists():
        raise ImageReadError(f"{text}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{text}: is a directory, not an image")
    if p.stat().st_size == 0:
        raise ImageReadError(f"{text}: the file is empty")
    return _decode(p, text, max_pixels)


_LUMA = (0.299, 0.587, 0.114)


def mask_tensor(image: LoadedImage, *, invert: bool = False) -> torch.Tensor:
    """A mask (``1,1,H,W`` in [0, 1]) from a picture: its luminance, times its alpha (transparent is black).

    White dreams, grey fades, black is left alone; ``invert`` swaps them. A mask
    that is all black would change nothing: that is an error that says so.
    """
    y = (image.rgb * torch.tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if image.alpha is not None:
        y = y * image.alpha[None, None]
    y = torch.where(y > 1 - 1e-5, 1.0, y).clamp_(0, 1)  # white is 1 exactly, whatever the rounding
    if invert:
        y = 1 - y
    if not (y > 0).any():
        raise ConfigError(f"{image.source}: the mask is all black{' once inverted' if invert else ''}, so nothing "
                          f"would change (white is where the dream goes{'' if invert else '; ' + param('invert_mask', True) + ' swaps'})")
    return y


def load_image_bytes(data: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """:func:`load_image` for a file's bytes (read elsewhere, e.g. by a cluster's driver); ``name`` names it."""
    if name.startswith(SAMPLE_PREFIX):
        return load_image(name, max_pixels=max_pixels)
    name = "standard input" if name == STDIO else name
    if not data:
        raise ImageReadError(f"{name}: the file is empty")
    return _decode(io.BytesIO(data), name, max_pixels)


@dataclass(frozen=True)
class Source:
    """A picture handed to the library, read: the picture, how a recipe names it, and a file's bytes."""

    image: LoadedImage
    #: a file's absolute path or ``skimage:NAME`` (None for a picture from memory)
    label: str | None
    #: the file as given (recipes record it as the command line does)
    given: str | None
    data: bytes | None


def read_source(value: Any, name: str = "image", *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Source:
    """Whatever a notebook holds as a picture: a path or ``skimage:NAME``, a PIL image, a numpy array
    (``H,W,3`` or ``H,W,4``, uint8 or float in [0, 1]; ``H,W`` grey), a tensor (``3,H,W`` or ``1,3,H,W`` in
    [0, 1]), or a result of this library. Anything else is an :class:`ImageReadError` naming ``name``."""
    if isinstance(value, LoadedImage):
        return Source(value, None, None, None)
    tensor = getattr(value, "tensor", None)
    if isinstance(tensor, torch.Tensor) and hasattr(value, "recipe"):  # a Picture
        return Source(LoadedImage(tensor.detach().float().cpu(), getattr(value, "alpha", None), name), None, None, None)
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        data = read_image_bytes(text)
        image = load_image_bytes(data, text, max_pixels=max_pixels)
        return Source(image, source_label(text), text, data or None)
    if isinstance(value, Image.Image):
        value = np.asarray(value.convert("RGBA" if "A" in value.getbands() else "RGB"))
    if isinstance(value, torch.Tensor):
        t = value.detach().float().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] not in (3, 4):
            raise ImageReadError(f"{name}: a tensor picture is 3,H,W or 1,3,H,W in [0, 1], got shape {tuple(value.shape)}")
        value = t.permute(1, 2, 0).numpy()
    if isinstance(value, np.ndarray):
        arr = value
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
            raise ImageReadError(f"{name}: an array picture is H,W,3 (or H,W,4, or H,W grey), got shape {arr.shape}")
        if np.issubdtype(arr.dtype, np.integer) and arr.dtype not in (np.uint8, np.uint16):
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise ImageReadError(f"{name}: an integer picture holds 0 to 255, got {arr.min()} to {arr.max()}")
            arr = arr.astype(np.uint8)
        elif arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ImageReadError(f"{name}: an array picture holds numbers (uint8, or float in [0, 1]), got {arr.dtype}")
        elif arr.dtype not in (np.uint8, np.uint16):
            arr = arr.astype(np.float32)
            if not np.isfinite(arr).all():
                raise ImageReadError(f"{name}: the picture holds NaN or infinite values")
            if arr.size and (arr.min() < -0.01 or arr.max() > 1.01):
                raise ImageReadError(f"{name}: a float picture holds values in [0, 1], got {arr.min():.3g} to "
                                     f"{arr.max():.3g} (uint8 holds 0 to 255)")
        image = _check_size(_from_array(arr, name), name)
        return Source(image, None, None, None)
    raise ImageReadError(f"{name}: expected a file path, skimage:NAME, a PIL image, a numpy array or a tensor, "
                         f"got {type(value).__name__}")


def read_image_bytes(path: str | os.PathLike[str]) -> bytes:
    """A file's bytes for :func:`load_image_bytes` (empty for ``skimage:NAME``, which every machine has)."""
    text = os.fspath(path)
    if text.startswith(SAMPLE_PREFIX):
        return b""
    if text == STDIO:
        return stdin_bytes()
    try:
        return Path(text).read_bytes()
    except FileNotFoundError:
        raise ImageReadError(f"{text}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{text}: is a directory, not an image") from None
    except OSError as exc:
        raise ImageReadError(f"{text}: cannot read: {exc.strerror or exc}") from None


def _decode(source: Any, text: str, max_pixels: int) -> LoadedImage:
    try:
        with pixel_limit(max_pixels), Image.open(source) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ImageReadError(
                    f"{text}: {w}x{h} is {w * h:,} pixels, over the limit of {pixels_text(max_pixels)} (a decompression "
                    "bomb?)"
                )
            need, free = reading_bytes(w, h, im.mode), available_memory()
            if free is not None and need > free:
                # before decoding: a small file that claims a huge picture must not take the machine down
                raise ImageReadError(
                    f"{text}: {w}x{h} ({w * h / 1e6:.0f} MP) needs {need / 2**30:.1f} GB to read and "
                    f"{free / 2**30:.1f} GB are free: use a smaller picture, or free memory")
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                log.warning("%s has %d frames; using the first", text, frames)
                im.seek(0)
            im.load()
            if im.getexif().get(0x0112, 1) != 1:  # turned by its EXIF orientation (else no copy is made)
                im = ImageOps.exif_transpose(im)
            rgb, alpha = _to_float_array(im)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{text}: over the limit of {max_pixels:,} pixels (a decompression bomb?)") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders fail on damaged files with TypeError, struct.error...
        reason = "not an image file" if isinstance(exc, Image.UnidentifiedImageError) else \
            (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if not isinstance(exc, (OSError, SyntaxError, ValueError, EOFError, MemoryError)):
            reason = f"a damaged file ({reason})"
        raise ImageReadError(f"{text}: cannot read image: {reason}") from exc
    image = LoadedImage(
        rgb=torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None],
        alpha=None if alpha is None else torch.from_numpy(np.ascontiguousarray(alpha)),
        source=text,
    )
    return _check_size(image, text)


def _check_size(image: LoadedImage, text: str) -> LoadedImage:
    w, h = image.size
    if min(w, h) < MIN_SIDE:
        raise ImageReadError(f"{text}: {w}x{h} is too small to work on (at least {MIN_SIDE} px a side)")
    return image


#: ``-`` as an input reads the image from standard input; as an output, writes PNG to standard output
_stdin: bytes | None = None


def stdin_bytes() -> bytes:
    """Everything on standard input (read once: a command may look at its input twice)."""
    global _stdin
    if _stdin is None:
        _stdin = sys.stdin.buffer.read()
    return _stdin


def output_format(path: str | os.PathLike[str]) -> str:
    """The PIL format for an output path, or :class:`OutputError` for other suffixes."""
    if os.fspath(path) == STDIO:
        return "PNG"
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise OutputError(
            f"{os.fspath(path)}: unsupported output format {suffix or '(none)'!r}: "
            "use .png, .jpg or .webp"
        )
    return OUTPUT_FORMATS[suffix]


def check_output(path: str | os.PathLike[str], inputs: tuple[str, ...] = ()) -> Path:
    """Fail early, before any work, if ``path`` cannot be written or is an input."""
    p = Path(path)
    if os.fspath(path) == STDIO:
        if sys.stdout.isatty():
            raise OutputError("-o -: standard output is a terminal; pipe it into a file or a program")
        return p
    output_format(p)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{os.fspath(path)}: the folder {os.fspath(parent)} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{os.fspath(path)}: the folder {os.fspath(parent)} is not writable")
    if p.is_dir():
        raise OutputError(f"{os.fspath(path)}: is a directory")
    for src in inputs:
        if not src.startswith(SAMPLE_PREFIX) and Path(src).exists() and p.exists() and p.samefile(src):
            raise OutputError(f"{os.fspath(path)}: refusing to overwrite the input image")
    return p


def to_pil(image: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
    """A ``1,3,H,W`` or ``3,H,W`` tensor in [0, 1] as an 8-bit PIL image."""
    t = image.detach().float().cpu()
    if t.ndim == 4:
        t = t[0]
    # one float temporary, then bytes: a 16384x16384 result must not need four copies
    arr = np.ascontiguousarray(t.mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())
    if alpha is not None:
        a = alpha.detach().float().cpu()
        if tuple(a.shape) != arr.shape[:2]:
            a = torch.nn.functional.interpolate(a[None, None], size=arr.shape[:2], mode="bilinear")[0, 0]
        a8 = (a.clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
        return Image.fromarray(np.dstack([arr, a8]), "RGBA")
    return Image.fromarray(arr, "RGB")


def atomic_write(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(tmp_path)`` and move the finished file onto ``path``.

    The target is either left as it was or replaced by a complete file.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part" + p.suffix, dir=parent)
    except OSError as exc:
        raise OutputError(f"{os.fspath(path)}: cannot write: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except OSError as exc:
        raise OutputError(f"{os.fspath(path)}: cannot write: {exc.strerror or exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def encode_image(
    image: torch.Tensor,
    fmt: str,
    *,
    alpha: torch.Tensor | None = None,
    metadata: dict[str, Any] | None = None,
    quality: int = 95,
) -> bytes:
    """``image`` encoded as ``fmt`` (PNG, JPEG or WEBP) with ``metadata`` embedded, as bytes.

    PNG keeps the recipe in a text chunk, JPEG and WebP in the EXIF description.
    Alpha is written where the format has it (PNG, WebP).
    """
    pil = to_pil(image, alpha if fmt in _ALPHA_FORMATS else None)
    from inceptionism import __version__

    text = json.dumps(metadata, sort_keys=True) if metadata is not None else None
    software = f"inceptionism {__version__}"
    buffer = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", software)
        if text is not None:
            info.add_itxt(METADATA_KEY, text)
        pil.save(buffer, "PNG", pnginfo=info)
    else:
        exif = Image.Exif()
        exif[_EXIF_SOFTWARE] = software
        if text is not None:
            exif[_EXIF_DESCRIPTION] = f"{METADATA_KEY}:{text}"
        pil.save(buffer, fmt, quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (complete, or not at all); ``-``: to standard output."""
    if os.fspath(path) == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return Path(path)


def save_image(
    image: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    alpha: torch.Tensor | None = None,
    metadata: dict[str, Any] | None = None,
    quality: int = 95,
) -> Path:
    """Write ``image`` atomically as PNG, JPEG or WebP (by the suffix), with ``metadata`` embedded."""
    data = encode_image(image, output_format(path), alpha=alpha, metadata=metadata, quality=quality)
    return write_bytes(path, data)


def parse_recipe(raw: str, text: str) -> dict[str, Any]:
    """A stored recipe's JSON text as a mapping, or one line naming the file."""
    from inceptionism.parsing import json_object

    return json_object(raw, text, damaged="its inceptionism metadata is damaged", error=ImageReadError)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The recipe stored in an image written by :func:`save_image`."""
    text = os.fspath(path)
    try:
        with Image.open(io.BytesIO(stdin_bytes()) if text == STDIO else text) as im:
            raw = im.info.get(METADATA_KEY)
            if raw is None:
                desc = im.getexif().get(_EXIF_DESCRIPTION)
                if isinstance(desc, str) and desc.startswith(METADATA_KEY + ":"):
                    raw = desc[len(METADATA_KEY) + 1:]
            comment = im.info.get("comment")  # a GIF's
            if raw is None and isinstance(comment, bytes) and comment.startswith(METADATA_KEY.encode() + b":"):
                raw = comment[len(METADATA_KEY) + 1:].decode("utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise ImageReadError(f"{text}: no such file") from exc
    except Exception as exc:  # noqa: BLE001 - as in _decode: damaged files fail in many ways
        reason = "not an image file" if isinstance(exc, Image.UnidentifiedImageError) else \
            (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if text == STDIO:
            text = "standard input"
            if not stdin_bytes():
                reason = "it is empty"
        raise ImageReadError(f"{text}: cannot read image: {reason}") from exc
    if raw is None:
        raise ImageReadError(f"{text}: has no inceptionism metadata (was it made by another program?)")
    return parse_recipe(raw, text)
