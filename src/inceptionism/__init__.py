"""inceptionism: DeepDream, feature visualisation and neural style transfer that work offline out of the box.

In three lines::

    import inceptionism as inc
    inc.dream("skimage:chelsea", "blocks.5")            # shows itself in a notebook
    inc.visualize("flamingo").save("flamingo.png")      # the file records how it was made

The one-line functions (:func:`dream`, :func:`visualize`, :func:`stylize`, :func:`style`; :func:`models`,
:func:`layers`, :func:`classes`, :func:`styles`, :func:`topics`; :func:`wrap` for any ``torch.nn.Module``) live
in :mod:`inceptionism.api`; the parts below them stay public (:mod:`inceptionism.objectives`,
:mod:`inceptionism.configs`, :mod:`inceptionism.dream`, :mod:`inceptionism.visualize`, :mod:`inceptionism.style`).
Importing this package imports nothing heavy: torch loads at the first call.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from inceptionism.errors import InceptionismError  # noqa: E402

#: public name -> the module that defines it (imported at first use)
_LAZY = {
    **{name: "inceptionism.api" for name in ("classes", "layers", "network", "styles", "stylize", "topics")},
    "wrap": "inceptionism.models.wrap",
    "Picture": "inceptionism.results", "Pictures": "inceptionism.results", "painting": "inceptionism.examples",
    "load_image": "inceptionism.io.images", "to_pil": "inceptionism.io.images", "read_metadata": "inceptionism.io.images",
    "DreamConfig": "inceptionism.configs", "VisualizeConfig": "inceptionism.configs",
    "StyleConfig": "inceptionism.configs", "StylizeConfig": "inceptionism.configs",
}
#: submodules reached as attributes; ``dream``, ``visualize``, ``style`` and ``models`` are also the one-line
#: functions of those names (calling the package calls :mod:`inceptionism.api`'s: :mod:`inceptionism._callable`)
_MODULES = ("objectives", "dream", "visualize", "style", "models", "api")

__all__ = ["InceptionismError", "__version__", *_LAZY, *_MODULES]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"inceptionism.{name}")
    else:
        raise AttributeError(f"module 'inceptionism' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
