"""A training run's curves, drawn from its ``NAME.log.csv`` with matplotlib.

Why matplotlib on our CSV, not TensorBoard's files: every run writes the CSV (TensorBoard's
only with ``--log-dir``), so the curves of any run can be drawn, on a machine without
TensorBoard, into a PNG that a README or a web page shows as it is. matplotlib is an
extra (``inceptionism[plot]``; the web extra has it too); without it, one line says so.

Left: the training loss per step (faint) with its running mean, and the loss's terms;
right: the held-out figures (``val_*`` columns) where they were measured, the fractions
(accuracy, topic agreement) on an axis of their own from 0 to 1, so that neither they nor
the losses are squeezed by the other's scale.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Sequence

from PIL import Image

from inceptionism.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the columns that are not curves of their own
_NOT_TERMS = {"step", "seconds", "loss", "lr", "grad_norm", "samples_per_s"}
#: held-out figures that are fractions (0 to 1), drawn on their own axis
_FRACTIONS = ("accuracy", "agreement")


def running_mean(values: Sequence[float], window: int) -> list[float]:
    """The mean of each value with the ``window - 1`` before it (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def draw_curves(rows: Sequence[dict[str, float]], title: str, *, width_px: int = 1100, height_px: int = 420) -> Image.Image:
    """The curves of a log's rows (as :func:`inceptionism.training.watch.read_log` reads them)."""
    fig = curves_figure(rows, title, width_px=width_px, height_px=height_px)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def curves_figure(rows: Sequence[dict[str, float]], title: str, *, width_px: int = 1100, height_px: int = 420) -> Figure:
    """The matplotlib figure :func:`draw_curves` renders: its axes are training, held out and, where the
    held-out figures include fractions beside losses, the fractions' own axis (0 to 1, on the right)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("drawing curves needs matplotlib: pip install 'inceptionism[plot]'") from None
    rows = [r for r in rows if "loss" in r and math.isfinite(r["loss"])]
    if not rows:
        raise ConfigError(f"{title}: the log has no steps yet")
    steps = [r["step"] for r in rows]
    names = list(dict.fromkeys(k for r in rows for k in r))
    terms = [k for k in names if k not in _NOT_TERMS and not k.startswith("val_")]
    held = [k for k in names if k.startswith("val_")]
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    left, right = fig.subplots(1, 2)
    losses = [r["loss"] for r in rows]
    window = max(1, len(rows) // 50)
    left.plot(steps, losses, color="0.75" if window > 1 else "black", linewidth=0.8 if window > 1 else 1.6,
              label="loss")
    if window > 1:
        left.plot(steps, running_mean(losses, window), color="black", linewidth=1.6,
                  label=f"loss, mean of {window} steps")
    for term in terms:
        points = [(r["step"], r[term]) for r in rows if term in r]
        values = running_mean([v for _, v in points], window)
        left.plot([s for s, _ in points], values, linewidth=1.2, label=term)
    left.set_xlabel("step")
    left.set_title("training")
    positive = all(v > 0 for v in losses) and all(r[t] > 0 for r in rows for t in terms if t in r)
    if positive and max(losses) / min(losses) > 20:
        left.set_yscale("log")
    left.legend(fontsize="small")
    left.grid(alpha=0.3)
    if held:
        fractions = [k for k in held if k.endswith(_FRACTIONS)]
        others = [k for k in held if k not in fractions]
        share = right.twinx() if fractions and others else right
        lines = []
        for i, name in enumerate(held):
            points = [(r["step"], r[name]) for r in rows if name in r]
            axis = share if name in fractions else right
            label = name.removeprefix("val_").replace("_", " ") + (" (right axis)" if axis is not right else "")
            lines += axis.plot([s for s, _ in points], [v for _, v in points], marker="o", markersize=3,
                               linewidth=1.4, color=f"C{i}", linestyle="--" if axis is not right else "-",
                               label=label)
        if fractions:
            share.set_ylim(0, 1.02)
        if share is not right:
            share.set_ylabel("fraction")
            right.set_ylabel("loss")
        right.legend(lines, [line.get_label() for line in lines], fontsize="small")
        right.set_title("held out")
    else:
        right.text(0.5, 0.5, "no held-out figures yet", ha="center", va="center", transform=right.transAxes)
        right.set_title("held out")
    right.set_xlabel("step")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    return fig
