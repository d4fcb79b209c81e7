"""Instant stylisation, the whole pipeline in one room: which network and style, strength, strokes, regions,
colours and tiles.

:func:`choose` turns what a caller names (any painting, a built-in style by index or name, a ``train-style``
model's style or mix, a region for each) into a :class:`StylizeJob`, a small picklable description; its
:class:`Stylizer` paints pictures. The command line (``stylize``), the web's Style and Live tabs, Ray workers
and :func:`inceptionism.stylize` all come through here, so one choice paints the same bytes everywhere.

Three kinds of network paint (:class:`Kind`): Magenta's arbitrary-stylisation network with a painting's
embedding (Ghiasi et al. 2017), Magenta's 26 styles of TensorFlow's Android demo (Dumoulin et al. 2017), and a
``train-style`` model file, the three built-in styles among them.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from inceptionism.configs import StylizeConfig
from inceptionism.errors import ConfigError, either, param
from inceptionism.paths import file_sha256, source_label


class Kind(str, enum.Enum):
    """Which network paints."""

    #: Magenta's arbitrary-stylisation network, styled by a painting's 100-number embedding
    PAINTING = "arbitrary"
    #: Magenta's 26 styles of TensorFlow's Android demo
    DEMO = "demo26"
    #: a ``train-style`` model file (the built-in styles are one)
    MODEL = "model"


def _file_bytes(path: str | None) -> bytes | None:
    if path is None or not Path(path).is_file():
        return None
    return Path(path).read_bytes()


@dataclass(frozen=True)
class StylizeJob:
    """Paint pictures with one network and one style: what :func:`choose` made of a caller's choice."""

    kind: Kind
    #: the train-style model file (``Kind.MODEL``), else None
    model: str | None
    #: the mix of the model's styles, or the arbitrary network's 100-number embedding
    mix: tuple[float, ...]
    #: strength, strokes (resolved: a number or "auto"), style size, tile, colours, precision (resolved)
    config: StylizeConfig
    device: str = "auto"
    #: what every output's recipe says of the choice (besides the picture's own name and the device)
    recipe: tuple[tuple[str, Any], ...] = ()
    model_data: bytes | None = None
    #: (mix or embedding, mask) per region, each painted on its own and blended by the masks; a mask is an
    #: image file's path or a ``1,1,H,W`` tensor in [0, 1]
    regions: tuple[tuple[tuple[float, ...], Any], ...] = ()
    region_data: tuple[bytes | None, ...] = ()

    def portable(self) -> "StylizeJob":
        """The job with its files' bytes inside, for workers that do not share this disk."""
        regions = tuple(_file_bytes(mask) if isinstance(mask, str) else None for _, mask in self.regions)
        return replace(self, model_data=_file_bytes(self.model), region_data=regions)

    def setup(self) -> "Stylizer":
        return Stylizer(self)


# -- what the caller names -------------------------------------------------------
def builtin_styles(model: str | None = None) -> list[tuple[str, Kind, str | None, list[float]]]:
    """(name, kind, model file, mix) of every style an index reaches: a model's own, or the built-in ones
    (the shipped network's, then Magenta's 26 demo styles), in index order."""
    from inceptionism.style import magenta
    from inceptionism.style.model_file import read_metadata
    from inceptionism.style.shipped import shipped_model_path

    path = str(Path(model).resolve()) if model else str(shipped_model_path())
    names = [s["name"] for s in read_metadata(path)["styles"]]
    out = [(name, Kind.MODEL, path, [float(j == i) for j in range(len(names))]) for i, name in enumerate(names)]
    if not model:
        out += [(f"demo {i}", Kind.DEMO, None, [float(j == i) for j in range(magenta.DEMO_STYLES)])
                for i in range(magenta.DEMO_STYLES)]
    return out


def style_index(style: int | str, model: str | None = None) -> int:
    """A style given by index or by name (``"demo 3"``, a train-style model's own names)."""
    if isinstance(style, bool) or not isinstance(style, (int, str)):
        raise ConfigError(f"{param('style')} is a style's index or name, got {type(style).__name__}")
    if isinstance(style, int) or style.strip().isdigit():
        return int(style)
    names = [name for name, *_ in builtin_styles(model)]
    wanted = style.strip().lower()
    for i, name in enumerate(names):
        if name.lower() == wanted:
            return i
    close = difflib.get_close_matches(wanted, [n.lower() for n in names], n=3, cutoff=0.4)
    hint = f" (closest: {', '.join(close)})" if close else ""
    raise ConfigError(f"no style named {style!r}{hint}; "
                      f"{either('inceptionism.styles()', '`inceptionism styles`')} lists them")


def _painting(sources: list[Any], weights: list[float] | None, config: StylizeConfig,
              device: torch.device) -> tuple[Kind, None, list[float], list[tuple[str, Any]]]:
    """Magenta's arbitrary network with the (mixed) embedding of the paintings."""
    from inceptionism.io.images import read_source

    read = [read_source(s, "painting") for s in sources]
    embedding = painting_embedding([r.image.rgb for r in read], device, weights=weights, size=config.style_size,
                                   names=[r.given or "the painting" for r in read])[0].cpu().tolist()
    recipe = [("network", "magenta arbitrary"), ("styles", [r.label for r in read]),
              ("style_sha256", [file_sha256(r.given) if r.given else None for r in read]), ("style_weights", weights),
              ("strength", config.strength), ("style_size", config.style_size)]
    return Kind.PAINTING, None, embedding, recipe


def _network(index: int | None, model: str | None,
             mix: list[float] | None) -> tuple[Kind, str | None, list[float], list[tuple[str, Any]]]:
    """A network's style ``index`` (or ``mix``): ``model``'s, the shipped network's, or the 26 demo styles'."""
    from inceptionism.style import magenta
    from inceptionism.style.model_file import read_metadata
    from inceptionism.style.network import mix_weights
    from inceptionism.style.shipped import shipped_model_path

    path = str(Path(model).resolve()) if model else str(shipped_model_path())
    names = [s["name"] for s in read_metadata(path)["styles"]]
    if model or mix is not None or (index is not None and index < len(names)):
        weights = mix_weights(len(names), index=index, mix=mix)[0].tolist()
        return Kind.MODEL, path, weights, [("model", path), ("styles", names), ("mix", weights)]
    assert index is not None
    demo = index - len(names)
    if not 0 <= demo < magenta.DEMO_STYLES:
        total = len(names) + magenta.DEMO_STYLES
        raise ConfigError(f"style index {index} is out of range: the built-in styles are 0 to {total - 1} "
                          f"({either('inceptionism.styles()', '`inceptionism styles`')} lists them)")
    weights = mix_weights(magenta.DEMO_STYLES, index=demo)[0].tolist()
    return Kind.DEMO, None, weights, [("model", Kind.DEMO.value), ("styles", [f"demo {demo}"]), ("style_index", index)]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _regions(paintings: list[Any] | None, styles: list[Any] | None, masks: list[Any], model: str | None,
             config: StylizeConfig, device: torch.device) -> tuple[Kind, str | None, list[float], list[tuple[str, Any]],
                                                                   list[tuple[tuple[float, ...], Any]]]:
    """Several styles, each with its region: one network, a mix (or embedding) per region."""
    from inceptionism.io.images import mask_tensor, read_source

    count = len(paintings if paintings is not None else styles or [])
    if len(masks) != count:
        raise ConfigError(f"{param('regions')}: one region per style ({count} styles, {len(masks)} regions)")
    if paintings is not None:
        parts = [_painting([p], None, config, device) for p in paintings]
    else:
        parts = [_network(style_index(s, model), model, None) for s in styles or []]
    kinds = {(kind, path) for kind, path, _, _ in parts}
    if len(kinds) > 1:
        raise ConfigError(f"{param('regions')}: the styles must come from one network (the 3 shipped ones, the 26 "
                          f"demo ones or {param('model')}'s), not from several")
    kind, path = kinds.pop()
    regions, labels = [], []
    for (_, _, mix, _), mask in zip(parts, masks):
        if isinstance(mask, str):  # a file: workers read it again (its bytes travel with the job)
            mask_tensor(read_source(mask, "regions").image)  # an unreadable or black mask: one line now
            regions.append((tuple(mix), mask))
            labels.append((source_label(mask), file_sha256(mask)))
        else:
            regions.append((tuple(mix), mask_tensor(read_source(mask, "regions").image)))
            labels.append((None, None))
    recipe = [("regions", [[dict(chosen), label, sha] for (_, _, _, chosen), (label, sha) in zip(parts, labels)]),
              ("strength", config.strength)]
    if kind == Kind.PAINTING:
        recipe += [("network", "magenta arbitrary"), ("style_size", config.style_size)]
    return kind, path, list(regions[0][0]), recipe, regions


def choose(*, painting: Any = None, style: Any = None, model: str | None = None, mix: Sequence[float] | None = None,
           style_weights: Sequence[float] | None = None, regions: Sequence[Any] | None = None,
           config: StylizeConfig = StylizeConfig(), device: Any = "auto", command: str = "stylize") -> StylizeJob:
    """The job that paints with what the caller names, checked before any picture is painted.

    ``painting``: any picture (or several, their embeddings mixed by ``style_weights``), painted by Magenta's
    arbitrary network. ``style``: a style's index or name, of ``model`` (a train-style file) or built in.
    ``mix``: weights over ``model``'s styles (or the shipped network's). ``regions``: one mask per painting or
    style (a list then), each style painted where its mask is white.
    """
    from inceptionism import __version__
    from inceptionism.devices import resolve_device
    from inceptionism.precision import resolve_precision

    chosen = [name for name, given in (("painting", painting is not None), ("style", style is not None),
                                       ("mix", mix is not None)) if given]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(param(n) for n in chosen)}: choose one (a painting, a style or a mix)")
    if not chosen:
        raise ConfigError(f"choose a style: {param('painting', 'PAINTING')} (any picture), {param('style', 'I')} "
                          f"({either('inceptionism.styles()', '`inceptionism styles`')} lists them) or {param('mix')}")
    if painting is None and style_weights is not None:
        raise ConfigError(f"{param('style_weights')} goes with {param('painting')}")
    if painting is not None and model is not None:
        raise ConfigError(f"{param('painting')} uses the arbitrary-style network that ships: leave out "
                          f"{param('model')} (or choose one of its styles with {param('style')})")
    where = resolve_device(device)
    config = replace(config, precision=resolve_precision(config.precision, where))
    areas: list[tuple[tuple[float, ...], Any]] = []
    if regions is not None:
        if mix is not None or style_weights is not None:
            raise ConfigError(f"{param('mix')} and {param('style_weights')} blend styles everywhere; with "
                              f"{param('regions')} each style has its own place")
        kind, path, weights, recipe, areas = _regions(_as_list(painting) if painting is not None else None,
                                                      _as_list(style) if style is not None else None,
                                                      _as_list(regions), model, config, where)
    elif painting is not None:
        given = list(style_weights) if style_weights is not None else None
        kind, path, weights, recipe = _painting(_as_list(painting), given, config, where)
    else:
        styles = _as_list(style) if style is not None else [None]
        if len(styles) > 1:
            raise ConfigError(f"one {param('style')} (several go with a region each; {param('mix')} blends styles "
                              "everywhere)")
        index = style_index(styles[0], model) if styles[0] is not None else None
        kind, path, weights, recipe = _network(index, model, list(mix) if mix is not None else None)
    strokes = config.stroke_scale if config.stroke_scale is not None else ("auto" if kind == Kind.PAINTING else 1.0)
    config = replace(config, stroke_scale=strokes)
    if config.strength < 1.0 and kind != Kind.PAINTING:
        recipe += [("strength", config.strength), ("strength_by", config.strength_by)]
    return StylizeJob(kind=kind, model=path, mix=tuple(weights), config=config, device=str(device),
                      regions=tuple(areas),
                      recipe=(("command", command), ("version", __version__), *recipe, ("stroke_scale", strokes),
                              ("preserve_colors", config.preserve_colors), ("precision", config.precision)))


# -- painting ------------------------------------------------------------------------
#: networks loaded lately, by (kind, file, its size and time, device): a notebook or a page paints again at once
_NETWORKS: dict[tuple[Any, ...], Any] = {}


def load_network(kind: Kind, model: str | None, device: Any) -> Any:
    """The network of ``kind`` on ``device`` (the model file's for ``Kind.MODEL``), loaded once while unchanged."""
    from inceptionism.style import magenta
    from inceptionism.style.model_file import load_model

    if kind == Kind.PAINTING:
        return magenta.load_arbitrary(device)
    if kind == Kind.DEMO:
        return magenta.load_multistyle(device)
    assert model is not None
    stat = Path(model).stat()
    key = (kind, str(Path(model).resolve()), stat.st_size, stat.st_mtime_ns, str(device))
    if key not in _NETWORKS:
        _NETWORKS[key] = load_model(model, device)[0]
        while len(_NETWORKS) > 4:
            _NETWORKS.pop(next(iter(_NETWORKS)))
    return _NETWORKS[key]


def painting_embedding(paintings: list[torch.Tensor], device: Any, *, weights: list[float] | None = None,
                       size: int = 256, names: list[str] | None = None) -> torch.Tensor:
    """The ``1,100`` embedding the arbitrary network paints ``paintings`` with (their weighted mean), each
    checked to be large enough to show a style."""
    from inceptionism.style import magenta

    magenta.check_paintings(paintings, names or ["the painting"] * len(paintings))
    return magenta.embed_styles(magenta.load_arbitrary(device), paintings, weights, size=size)


class Stylizer:
    """A :class:`StylizeJob` set up: its network loaded, its regions read."""

    def __init__(self, job: StylizeJob):
        from inceptionism.devices import resolve_device
        from inceptionism.io.images import load_image, load_image_bytes, mask_tensor
        from inceptionism.precision import autocast_dtype
        from inceptionism.style import magenta

        self.job = job
        config = job.config
        self.device = resolve_device(job.device)
        model = job.model
        if job.kind == Kind.MODEL and job.model_data is not None and not (model and Path(model).is_file()):
            import os
            import tempfile

            fd, model = tempfile.mkstemp(suffix=".safetensors", prefix="inceptionism-")  # a worker elsewhere
            with os.fdopen(fd, "wb") as f:
                f.write(job.model_data)
        self.net = load_network(job.kind, model, self.device)
        self.mix = torch.tensor([job.mix], dtype=torch.float32)
        self.autocast = autocast_dtype(config.precision, self.device)
        self.styled = self.net
        #: a train-style --init magenta network: its strength moves toward the photo's own embedding
        self.photo_strength = isinstance(self.net, magenta.FineTunedStyleNetwork)
        if job.kind != Kind.PAINTING and config.strength < 1.0 and config.strength_by == "norms" \
                and not self.photo_strength:
            from inceptionism.style.regions import toward_identity

            self.styled = toward_identity(self.net, config.strength)
        self.regions = []
        for n, (mix, mask) in enumerate(job.regions):
            if isinstance(mask, str):
                data = job.region_data[n] if n < len(job.region_data) else None
                mask, name = mask_tensor(load_image_bytes(data, mask) if data is not None else load_image(mask)), mask
            else:
                name = f"region {n + 1}"
            self.regions.append((torch.tensor([mix], dtype=torch.float32), mask, name))

    def _one(self, rgb: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        from inceptionism.style.magenta import toward_photo, with_strength
        from inceptionism.style.model_file import auto_stroke_scale, stylize_with_strokes

        config, kind = self.job.config, self.job.kind
        net = self.styled
        if kind == Kind.PAINTING and config.strength < 1.0:
            mix = with_strength(self.net, mix.to(self.device), rgb, config.strength, size=config.style_size)
        elif self.photo_strength and config.strength < 1.0 and config.strength_by == "norms":
            net, mix = toward_photo(self.net, mix, rgb, config.strength, size=config.style_size)
        scale = config.stroke_scale
        scale = auto_stroke_scale(*rgb.shape[-2:]) if scale == "auto" else float(scale)  # type: ignore[arg-type]
        result = stylize_with_strokes(net, rgb, mix, stroke_scale=scale, tile=config.tile, autocast=self.autocast)
        if kind != Kind.PAINTING and config.strength < 1.0 and config.strength_by == "fade":
            result = torch.lerp(rgb.float(), result.float(), config.strength)
        return result

    def check_regions(self, size: tuple[int, int]) -> None:
        """Each region fits a picture of ``size`` (``H, W``), or one clear error naming it."""
        from inceptionism.ops import fit_mask

        for _, mask, name in self.regions:
            fit_mask(mask, size, name, kind="region")

    def stylize(self, rgb: torch.Tensor) -> torch.Tensor:
        """One picture (``1,3,H,W`` in [0, 1]) painted as the job says, on the CPU."""
        from inceptionism.ops import fit_mask, preserve_colors
        from inceptionism.style.regions import blend_regions

        if self.regions:
            size = tuple(rgb.shape[-2:])
            masks = [fit_mask(mask, size, name, kind="region") for _, mask, name in self.regions]
            result = blend_regions(rgb.float(), [self._one(rgb, mix).float() for mix, _, _ in self.regions], masks)
        else:
            result = self._one(rgb, self.mix)
        return preserve_colors(result, rgb) if self.job.config.preserve_colors else result

    def recipe(self, content: str | None) -> dict[str, Any]:
        """What an output painted from ``content`` (as the caller named it) records."""
        return {**dict(self.job.recipe), "content": content, "device": str(self.device)}

    def run(self, key: str, payload: tuple[str, bytes, str]) -> bytes:
        """Paint one picture: ``payload`` is (its name in the recipe, its bytes, the output format)."""
        from inceptionism.io.images import encode_image, load_image_bytes

        label, data, fmt = payload
        image = load_image_bytes(data, key)
        return encode_image(self.stylize(image.rgb), fmt, alpha=image.alpha, metadata=self.recipe(label))
