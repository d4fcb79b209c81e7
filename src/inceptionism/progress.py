"""Progress bars: ``tqdm.auto`` (a widget in Jupyter, text in a terminal), silenced by ``quiet``.

The library's one-line functions (``progress=False`` silences them) and the command line share these.
"""

from __future__ import annotations

from typing import Any


def progress_bar(total: int, desc: str, quiet: bool, *, unit: str = "step", initial: int = 0, leave: bool = False) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=quiet, unit=unit, leave=leave, dynamic_ncols=True)


class LazyBar:
    """A progress bar that appears at the first step, so that an error before any work prints alone."""

    def __init__(self, name: str, quiet: bool):
        self.name, self.quiet = name, quiet
        self.bar: Any = None

    def step(self, total: int, *, done: int = 1, description: str | None = None, postfix: dict | None = None) -> None:
        """Count one step of ``total``; ``done`` is the step's number (a resumed run starts past 1)."""
        if self.bar is None:
            # the steps done before (a resumed run) are where the bar starts, not progress: rate and ETA stay right
            self.bar = progress_bar(total, self.name, self.quiet, initial=done - 1)
        if description:
            self.bar.set_description(description)
        if postfix:
            self.bar.set_postfix(postfix)
        self.bar.update(1)
        if self.bar.n >= self.bar.total:
            self.bar.refresh()  # tqdm skips draws within its interval: the last step is shown, not 28/29

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
