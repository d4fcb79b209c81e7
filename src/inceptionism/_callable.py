"""The subpackages ``dream``, ``visualize`` and ``style`` are also the one-line functions of those names.

``inceptionism.dream`` is both the package of the DeepDream loop and, as the README's three lines use it,
``inceptionism.dream(photo, "blocks.5")``. Python sets a package's attribute to its subpackage when the
subpackage is first imported, which would hide a function of the same name; so each of these subpackages is a
module that can be called, and calling it calls :mod:`inceptionism.api`'s function. ``inspect.signature`` on it
gives the function's.

The function is found by its module's name when called (``importlib``), not imported here: the subpackages are
the floor the API is built on, and a floor does not import what stands on it.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: the module of the one-line functions
API = "inceptionism.api"


def callable_package(module_name: str, function: str) -> None:
    """Make the module ``module_name`` call ``inceptionism.api.<function>`` when called."""

    def target() -> Any:
        return getattr(importlib.import_module(API), function)

    class CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return target()(*args, **kwargs)

        @property
        def __signature__(self) -> Any:
            import inspect

            return inspect.signature(target())

    CallablePackage.__call__.__doc__ = f"Call ``{API}.{function}`` (see its documentation)."
    sys.modules[module_name].__class__ = CallablePackage
