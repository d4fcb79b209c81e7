"""Neural style transfer: optimisation (Gatys) and feed-forward networks (Johnson; Dumoulin)."""

from inceptionism.style.gatys import StyleConfig, StyleResult, StyleStep, gram, stylize_optimize

__all__ = ["StyleConfig", "StyleResult", "StyleStep", "gram", "stylize_optimize"]

from inceptionism._callable import callable_package  # noqa: E402

# ``inceptionism.style(...)`` is :func:`inceptionism.api.style` (see :mod:`inceptionism._callable`)
callable_package(__name__, "style")
