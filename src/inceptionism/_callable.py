"""The subpackages ``dream``, ``visualize`` and ``style`` are also the one-line functions of those names.

``inceptionism.dream`` is both the package of the DeepDream loop and, as the README's three lines use it,
``inceptionism.dream(photo, "blocks.5")``. Python sets a package's attribute to its subpackage when the
subpackage is first imported, which would hide a function of the same name; so each of these subpackages is a
module that can be called, and calling it calls :mod:`inceptionism.api`'s function. ``inspect.signature`` and
``help`` on it give the function's.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def callable_package(module_name: str, function: str) -> None:
    """Make the module ``module_name`` call ``inceptionism.api.<function>`` when called."""

    class CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            from inceptionism import api

            return getattr(api, function)(*args, **kwargs)

        @property
        def __signature__(self) -> Any:
            import inspect

            from inceptionism import api

            return inspect.signature(getattr(api, function))

    CallablePackage.__call__.__doc__ = f"Call ``inceptionism.api.{function}`` (see its documentation)."
    sys.modules[module_name].__class__ = CallablePackage
