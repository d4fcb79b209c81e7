"""What the commands share: the parser class, common options, progress bars, loading a network.

Command modules import from here and never from each other.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

from inceptionism.errors import ConfigError, InceptionismError, Interrupted, OutputError
from inceptionism.paths import file_sha256, source_label  # noqa: F401 - the commands import them from here
from inceptionism.progress import LazyBar, progress_bar  # noqa: F401 - the commands import them from here

log = logging.getLogger("inceptionism")

PROG = "inceptionism"

#: "not given", where None is a meaningful value
UNSET = object()

#: CLI options that map one to one onto DreamConfig fields (None: not given).
DREAM_CONFIG_OPTIONS = ("steps", "step_size", "octaves", "octave_scale", "jitter", "seed", "preserve_colors", "tile",
                        "precision", "lap_norm", "transforms", "decorrelate")


#: the library's parameters whose flag is not the name with dashes (``--step-size`` for ``step_size``): the one place
#: where the command line turns a parameter that an error names (:func:`inceptionism.errors.param`) into its flag
FLAG_NAMES = {"class_": "--class", "class_value": "--class", "width": "--size", "height": "--size",
              "painting": "--style", "style": "--style-index", "regions": "--region", "from_": "--from",
              "image": "INPUT", "photo": "CONTENT"}


def flag_of(name: str) -> str:
    """The flag of the library's parameter ``name``."""
    return FLAG_NAMES.get(name, "--" + name.strip("_").replace("_", "-"))


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def argument_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """A library parser as an argparse ``type=``, its message kept in the usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


class TrainBar:
    """Training progress: steps with the loss, and the held-out figures once they are measured."""

    def __init__(self, name: str, quiet: bool):
        self.name, self.quiet = name, quiet
        self.bar: Any = None
        self.figures: dict[str, str] = {}

    def report(self, step: Any) -> None:
        if self.bar is None:
            self.bar = progress_bar(step.steps, self.name, self.quiet, initial=step.step - 1, leave=True)
        if step.metrics:
            self.figures = {f"val_{k}": f"{v:.3f}" for k, v in step.metrics.items()}
        self.bar.set_postfix({"loss": f"{step.loss + 0.0:.3g}", **self.figures}, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def input_targets(inputs: list[str], output: str) -> list[tuple[str, Path]]:
    """Each input with where its result goes.

    One input: ``output`` itself. Several, or a folder among them: ``output`` is a
    folder, and each result is ``output/NAME.png`` (a folder's images keep their
    paths below it). Two inputs that would write one file are refused.
    """
    from inceptionism.io.images import SAMPLE_PREFIX
    from inceptionism.training.data import IMAGE_SUFFIXES

    out = Path(output)
    pairs: list[tuple[str, Path]] = []
    folders = False
    for item in inputs:
        path = Path(item)
        if not item.startswith(SAMPLE_PREFIX) and path.is_dir():
            folders = True
            from inceptionism.training.data import walk_images

            found = walk_images(path)  # links to folders followed, each folder once
            if not found:
                raise ConfigError(f"{item}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
            pairs += [(str(f), f.relative_to(path).with_suffix(".png")) for f in found]
        else:
            pairs.append((item, Path(Path(item.replace(SAMPLE_PREFIX, "")).stem + ".png")))
    if len(pairs) == 1 and not folders and not out.is_dir():
        return [(pairs[0][0], out)]
    if out.exists() and not out.is_dir():
        raise OutputError(f"{output}: several inputs need an output folder, not a file")
    seen: dict[Path, str] = {}
    for source, name in pairs:
        if name in seen:
            raise ConfigError(f"{seen[name]} and {source} would both be written to {out / name}: rename one")
        seen[name] = source
    try:
        for parent in {(out / name).parent for _, name in pairs}:
            parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{output}: cannot create the output folder: {exc.strerror or exc}") from exc
    return [(source, out / name) for source, name in pairs]


def output_targets(inputs: list[str], output: str) -> list[Path]:
    """Where each input's result goes (see :func:`input_targets`)."""
    return [target for _, target in input_targets(inputs, output)]


def checked_recipe(recipe: dict[str, Any], path: str, command: str, kinds: dict[str, tuple[type, ...]],
                   config_cls: type, *, lists_of_text: tuple[str, ...] = (),
                   valid: Callable[[str, Any], bool] | None = None) -> dict[str, Any]:
    """A stored recipe of ``command`` whose fields are of the ``kinds`` JSON gives them (lists of text for
    ``lists_of_text``, whatever ``valid`` says besides) and whose config builds ``config_cls``; else one line."""
    from inceptionism.configs import stored_values

    if recipe.get("command") != command:
        raise ConfigError(f"{path}: was not made by `inceptionism {command}`")
    for key, allowed in kinds.items():
        value = recipe.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, allowed) or \
                key in lists_of_text and not all(isinstance(v, str) for v in value) or \
                valid is not None and not valid(key, value):
            raise ConfigError(f"{path}: its recipe is damaged ({key}: {value!r})")
    try:
        config_cls(**stored_values(config_cls, recipe.get("config", {}), "its recipe"))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return recipe


def use_recorded_threads(recipe: dict[str, Any], device: str | None) -> None:
    """``--from`` on the CPU computes with the thread count the recipe records: a CPU's float sums depend on
    how the work is split, so that is what makes the result bit for bit the same (on the same kind of CPU)."""
    import torch

    from inceptionism.devices import resolve_device

    threads = recipe.get("threads")
    if not (isinstance(threads, int) and not isinstance(threads, bool) and 1 <= threads <= 1024):
        return
    if str(recipe.get("device", "")).startswith("cpu") and resolve_device(device or "auto").type == "cpu" \
            and threads != torch.get_num_threads():
        log.info("computing with %d CPU threads, as the recipe was", threads)
        torch.set_num_threads(threads)


def recipe_matches(path: Path, expected: dict[str, Any], *,
                   ignore: tuple[str, ...] = ("version", "device", "threads")) -> bool:
    """Whether ``path`` exists and was made by this recipe (``--resume`` skips it then)."""
    from inceptionism.io.images import read_metadata

    if not path.is_file():
        return False
    try:
        stored = read_metadata(path)
    except InceptionismError:
        return False
    drop = set(ignore)
    same = {k: v for k, v in stored.items() if k not in drop}
    want = {k: v for k, v in expected.items() if k not in drop}
    if isinstance(same.get("config"), dict) and isinstance(want.get("config"), dict):
        # the tile a run used depends on the machine's free memory, not on the recipe
        same["config"] = {k: v for k, v in same["config"].items() if k != "tile"}
        want["config"] = {k: v for k, v in want["config"].items() if k != "tile"}
    return same == want


def model_file_output(output: str, *, resume: bool) -> Path:
    """Check a model file to be written by a trainer: ``.safetensors``, in an existing folder, not clobbering."""
    out = Path(output)
    if out.suffix != ".safetensors":
        raise ConfigError(f"{output}: the model file must end in .safetensors")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise ConfigError(f"{output}: the folder {out.parent} does not exist")
    if out.exists() and not resume:
        raise ConfigError(f"{output} exists: add --resume to continue its training, or choose another name")
    if resume and not out.exists():
        raise ConfigError(f"{output}: nothing to resume (no such model file)")
    return out


# -- options -------------------------------------------------------------------
def add_device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto: CUDA, then MPS, then CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


class MaskAction(argparse.Action):
    """``--mask``: kept with the number of ``--layer`` options before it (0: the whole image's mask)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        masks = list(getattr(namespace, self.dest) or [])
        masks.append((len(getattr(namespace, "layer", None) or []), values))
        setattr(namespace, self.dest, masks)


class StyleChoice(argparse._AppendAction):
    """An appended style option (``--style``, ``--style-index``) that a ``--region`` after it pairs with."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        super().__call__(parser, namespace, values, option_string)
        namespace.last_style = (self.dest, len(getattr(namespace, self.dest)) - 1)


class RegionAction(argparse.Action):
    """``--region MASK``: kept with the style option just before it, as ``(dest, index, path)``."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        regions = list(getattr(namespace, self.dest) or [])
        last = getattr(namespace, "last_style", None)
        regions.append((*(last or (None, -1)), values))
        setattr(namespace, self.dest, regions)


def paired_regions(args: argparse.Namespace, dest: str, count: int) -> list[str]:
    """The ``--region`` of each of ``count`` ``dest`` styles, in order; one clear error for a region without
    a style before it, two regions for one style, or a style left without one."""
    found: dict[int, str] = {}
    for kind, index, path in args.region or []:
        if kind != dest:
            raise ConfigError(f"--region {path}: put it right after the --{dest.replace('_', '-')} it is for")
        if index in found:
            raise ConfigError(f"two --region options for one --{dest.replace('_', '-')}: one region per style")
        found[index] = path
    missing = [i for i in range(count) if i not in found]
    if missing:
        raise ConfigError(f"--region: every --{dest.replace('_', '-')} needs its own region when one has one "
                          f"(style {missing[0] + 1} has none)")
    return [found[i] for i in range(count)]


def _lap_levels(text: str) -> int:
    try:
        levels = int(text)
    except ValueError:
        raise ConfigError(f"--lap-norm takes a number of levels, got {text!r} (put it after the input images)") from None
    if not 1 <= levels <= 12:
        raise ConfigError(f"--lap-norm takes 1 to 12 levels, got {levels} (leave it out for the plain normalisation)")
    return levels


def split_masks(args: argparse.Namespace) -> tuple[str | None, dict[int, str]]:
    """``--mask`` options as (the whole image's mask, {layer index: its mask}), each checked for clashes."""
    whole, per_layer = None, {}
    for after, path in args.mask or []:
        if after == 0:
            if whole is not None:
                raise ConfigError("two --mask options before any --layer: give the whole image one mask "
                                  "(or put each mask after the --layer it is for)")
            whole = path
        else:
            if after - 1 in per_layer:
                raise ConfigError(f"two --mask options after --layer {args.layer[after - 1]}: one mask per layer")
            per_layer[after - 1] = path
    return whole, per_layer


def add_model_options(p: argparse.ArgumentParser, *, layer_help: str = "") -> None:
    """--model, --weights, --layer, --guide, --class, --device, --quiet: what to dream, where."""
    p.add_argument("--model", default=None, help="model name (see `inceptionism models`); default efficientnet_lite0")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="checkpoint for the model's architecture (state dict, .safetensors or TorchScript); "
                        "'random' for untrained weights")
    p.add_argument("--layer", action="append", default=None, metavar="SPEC",
                   help="LAYER[:CHANNEL][=WEIGHT], repeatable; default: the model's own (see `inceptionism layers`)"
                   + layer_help)
    p.add_argument("--mask", action=MaskAction, default=None, metavar="IMAGE",
                   help="dream where this picture is white, fade where grey, keep black untouched (bit for bit); "
                        "after a --layer, that layer's own region (different regions, different layers)")
    p.add_argument("--invert-mask", action="store_true", help="swap the masks' white and black")
    p.add_argument("--lap-norm", type=argument_type(_lap_levels, "--lap-norm"), nargs="?", const=4, default=None,
                   metavar="LEVELS",
                   help="normalise the gradient over a Laplacian pyramid of LEVELS (default 4) levels, as in "
                        "TensorFlow's 2016 notebook: larger, smoother patterns, less speckle")
    p.add_argument("--guide", default=None, metavar="IMAGE",
                   help="amplify in the input what the network sees in this image, at the chosen layers")
    p.add_argument("--class", dest="class_", default=None, metavar="N|NAME",
                   help="amplify a class logit, by number or name (e.g. 285 or 'Egyptian cat'; "
                        "a train-dream model's own class names)")
    p.add_argument("--topic", default=None, metavar="N",
                   help="amplify one topic of a model trained on captions (see `inceptionism topics MODEL`)")
    p.add_argument("--word", default=None, metavar="WORD",
                   help="amplify the topics a word loads on, for a model trained on captions (e.g. food)")
    add_device_options(p)


def dream_config_defaults() -> dict[str, Any]:
    from inceptionism.configs import DreamConfig

    return {f.name: f.default for f in fields(DreamConfig)}


def add_step_options(p: argparse.ArgumentParser, *, steps: bool = True, octaves: int | None = None,
                     lists: bool = False) -> None:
    """The DreamConfig options; every default is DreamConfig's unless ``octaves`` says otherwise.

    ``lists``: ``--steps``, ``--step-size`` and ``--octaves`` take one value or several (``sweep``'s axes).
    """
    from inceptionism.parsing import parse_tile

    d = dream_config_defaults()
    several = " (one or several, comma-separated)" if lists else ""
    kind = (lambda _: str) if lists else (lambda t: t)  # noqa: E731 - sweep parses its lists itself
    if steps:
        p.add_argument("--steps", type=kind(int), default=None, metavar="N[,N...]" if lists else None,
                       help=f"gradient steps per octave{several} (default {d['steps']})")
    p.add_argument("--step-size", type=kind(float), default=None, metavar="X[,X...]" if lists else None,
                   help=f"mean pixel change per step, [0, 1] units{several} (default {d['step_size']})")
    p.add_argument("--octaves", type=kind(int), default=octaves, metavar="N[,N...]" if lists else None,
                   help=f"number of scales{several} (default {octaves if octaves is not None else d['octaves']})")
    p.add_argument("--octave-scale", type=float, default=None,
                   help=f"size ratio between octaves (default {d['octave_scale']})")
    p.add_argument("--jitter", type=int, default=None, help=f"random roll in pixels per step (default {d['jitter']})")
    p.add_argument("--seed", type=int, default=None, help=f"random seed (default {d['seed']})")
    p.add_argument("--preserve-colors", action="store_true", default=None,
                   help="keep the input's colours; only luminance changes")
    p.add_argument("--transforms", choices=("none", "standard", "strong"), default=None,
                   help="random pad/jitter/scale/rotate of the image before every gradient, as `visualize` does: "
                        f"with --class, --topic or --word the concept shows in the picture (default {d['transforms']})")
    p.add_argument("--decorrelate", action="store_true", default=None,
                   help="step as a 1/f-scaled, decorrelated-colour picture would (larger shapes, natural colours)")
    p.add_argument("--tile", type=argument_type(parse_tile, "tile"), default=UNSET, metavar="PX|auto|off",
                   help="work on large images tile by tile (default auto: the largest tile that fits in free memory)")
    add_precision_option(p)


def add_precision_option(p: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--precision auto|bf16|fp32`` and its synonym ``--fp32`` (None: not given; the config's default)."""
    from inceptionism.configs import PRECISIONS

    p.add_argument("--precision", choices=PRECISIONS, default=default,
                   help="compute precision of the network (default auto: bfloat16 on CUDA and on a CPU with "
                        "AVX-512 BF16 or AMX, float32 elsewhere; images, weights and losses stay float32)")
    p.add_argument("--fp32", dest="precision", action="store_const", const="fp32",
                   help="the same as --precision fp32")


def add_watch_options(p: argparse.ArgumentParser, sheet: str) -> None:
    """A trainer's ``--preview-every N`` and ``--log-dir DIR`` (the log CSV is always written)."""

    def steps(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes a number of steps, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 (never) or more, got {value}")
        return value

    p.add_argument("--preview-every", type=steps, default=None, metavar="N",
                   help=f"write a preview sheet ({sheet}) to MODEL's .previews/ folder every N steps and at the end; "
                        "0: never (default: at every checkpoint, as long as previews take at most 5%% of the run's "
                        "time). Every run also logs its figures, one row per step, to MODEL's .log.csv")
    p.add_argument("--log-dir", default=None, metavar="DIR",
                   help="also write TensorBoard files (figures and previews) to DIR/MODEL-NAME, so that "
                        "`tensorboard --logdir DIR` shows runs side by side (needs inceptionism[tensorboard])")


def build_dream_config(args: argparse.Namespace, recipe: dict[str, Any] | None = None) -> Any:
    """The DreamConfig that the arguments (over an optional stored recipe) describe."""
    from inceptionism.configs import DreamConfig, stored_values

    stored = (recipe or {}).get("config", {})
    values = stored_values(DreamConfig, stored, "the recipe")
    if "mixed_precision" in stored and "precision" not in stored:
        # a recipe from before --precision: float32, except bfloat16 autocast on CUDA
        on_cuda = str((recipe or {}).get("device", "")).startswith("cuda")
        values["precision"] = "bf16" if stored["mixed_precision"] is True and on_cuda else "fp32"
    values = {k: v for k, v in values.items() if k in DREAM_CONFIG_OPTIONS}
    for name in DREAM_CONFIG_OPTIONS:
        given = getattr(args, name, None)
        if given is not None and given is not UNSET:
            values[name] = given
    return DreamConfig(**values)


def load_network(args: argparse.Namespace, model: str | None = None, weights: str | None = None, *,
                 device: Any = None) -> Any:
    """The network the options name, on the device they name (or ``device``).

    A ``train-dream`` model given as ``--weights`` names its own backbone, so
    ``--model`` may be left out; otherwise the default is the embedded model.
    """
    from inceptionism.devices import resolve_device
    from inceptionism.models import get_model

    device = device if device is not None else resolve_device(args.device)
    return get_model(model or args.model, weights=weights or args.weights, device=device, progress=not args.quiet)


def dream_objective(network: Any, layers: list[str] | None, guide: str | None, class_value: str | None,
                    topic: str | None = None, word: str | None = None, masks: dict[int, Any] | None = None) -> Any:
    """The objective of the dream options (``--layer``, ``--guide``, ``--class``, ``--topic``, ``--word``,
    a ``--mask`` after a ``--layer``) and its layer addresses."""
    from inceptionism.io.images import load_image
    from inceptionism.objectives import build_objective

    return build_objective(network, layers, guide=load_image(guide).rgb if guide else None, class_value=class_value,
                           topic=topic, word=word, masks=masks)


def mask_pairs(args: argparse.Namespace) -> tuple[tuple[int, str], ...]:
    """``--mask`` options as a job's (index, path) pairs: -1 for the whole image, then each layer's, in order."""
    whole, per_layer = split_masks(args)
    return (((-1, whole),) if whole else ()) + tuple(sorted(per_layer.items()))


def load_masks(args: argparse.Namespace, *, per_layer: bool = True) -> tuple[Any, dict[int, Any]]:
    """The ``--mask`` pictures as tensors: (the whole image's mask or None, {layer index: its mask})."""
    from inceptionism.io.images import load_image, mask_tensor

    whole, layered = split_masks(args)
    if layered and not per_layer:
        raise ConfigError(f"{args.command} takes one --mask for the whole image: put it before any --layer")
    load = lambda path: mask_tensor(load_image(path), invert=args.invert_mask)  # noqa: E731
    return (load(whole) if whole else None), {i: load(path) for i, path in layered.items()}


# -- many items: here, or on a Ray cluster -------------------------------------------
def add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("many items on a Ray cluster (pip install 'inceptionism[cluster]')")
    g.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="spread the items over Ray workers: alone, a local Ray on this machine; 'auto', the running "
                        "cluster (`ray start --head`); ray://HOST:PORT, a remote one")
    g.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="workers (default: one per GPU, else as many as the CPUs allow)")
    g.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C",
                   help="CPUs (and torch threads) per worker (default 1)")
    g.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                   help="GPUs per worker, e.g. 0.5 to share one (default 1 where there are GPUs)")


@dataclass
class ItemsReport:
    total: int
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def run_items(args: argparse.Namespace, job: Any, items: list[tuple[str, Callable[[], Any]]],
              write: Callable[[str, Any], None], *, what: str, unit: str = "image", runner: Any = None) -> ItemsReport:
    """Run ``job`` over ``items`` here (in order) or on Ray (``--ray``); ``write(key, value)`` each result.

    A failing item is reported and the others go on; the caller turns the report
    into the closing summary. Ctrl-C keeps what is written.
    """
    report = ItemsReport(total=len(items))
    bar = progress_bar(len(items), what, args.quiet, unit=unit, leave=True)

    def on_result(status: str, key: str, value: Any) -> None:
        if status == "ok":
            try:
                write(key, value)
            except OutputError as exc:  # a full disk: the rest would fail too
                raise OutputError(f"{exc}; {report.done} of {report.total} {unit}s are written"
                                  + (f"; make room and {resume}" if resume else "")) from None
            report.done += 1
        else:
            report.failed.append((key, value))
            if hasattr(args, "report"):
                args.report.output(None, input=key, status="failed", error=value)
        bar.update(1)

    resume = "add --resume to go on" if hasattr(args, "resume") else ""
    try:
        if getattr(args, "ray", None):
            from inceptionism import cluster

            connection = cluster.connect(args.ray)
            try:
                if not args.quiet:
                    bar.write(f"{PROG}: Ray at {connection.address} ({connection.seconds:.1f} s to connect), "
                              f"{int(connection.resources.get('CPU', 0))} CPUs, {int(connection.resources.get('GPU', 0))} GPUs")
                cluster.run_items(job.portable(), items, on_result, connection=connection, workers=args.ray_workers,
                                  cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker)
            finally:
                cluster.disconnect(connection)
        else:
            runner = runner or job.setup()
            for key, load in items:
                try:
                    value = runner.run(key, load())
                except InceptionismError as exc:
                    on_result("error", key, str(exc))
                else:
                    on_result("ok", key, value)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {report.done} of {report.total} {unit}s are written"
                          + (f"; {resume}" if resume else "")) from None
    finally:
        bar.close()
    return report


def finish_items(report: ItemsReport, what: str, quiet: bool) -> int:
    """The closing summary: every failed item on a line of its own, then the count; exit 1 if any failed."""
    for key, reason in report.failed:
        print(f"{PROG}: error: {reason if key in reason else f'{key}: {reason}'}", file=sys.stderr)
    parts = [f"{report.done} written"]
    if report.skipped:
        parts.append(f"{report.skipped} already done (--resume)")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    if not quiet or report.failed:
        print(f"{PROG}: {what}: {', '.join(parts)} of {report.total}", file=sys.stderr)
    return 1 if report.failed else 0


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
