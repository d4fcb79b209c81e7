"""Neural style transfer: optimisation (Gatys) and feed-forward networks (Johnson; Dumoulin)."""

from inceptionism.style.gatys import StyleConfig, StyleResult, StyleStep, gram, stylize_optimize

__all__ = ["StyleConfig", "StyleResult", "StyleStep", "gram", "stylize_optimize"]
