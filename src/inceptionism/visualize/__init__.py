"""Feature visualisation: render an objective (a class, topic, word, channel or neuron) from nothing.

The rooms follow lucent's ``optvis``: :mod:`.param` (how a picture is represented),
:mod:`.transforms` (transformation robustness), :mod:`.render` (the loop) and
:mod:`.atlas` (a labelled sheet of many). The objectives are the dream's
(:mod:`inceptionism.objectives`).
"""

from inceptionism.configs import VisualizeConfig
from inceptionism.visualize.render import VisualizeResult, VisualizeStep, diversity_layer, render

__all__ = ["VisualizeConfig", "VisualizeResult", "VisualizeStep", "diversity_layer", "render"]

from inceptionism._callable import callable_package  # noqa: E402

# ``inceptionism.visualize(...)`` is :func:`inceptionism.api.visualize` (see :mod:`inceptionism._callable`)
callable_package(__name__, "visualize")
