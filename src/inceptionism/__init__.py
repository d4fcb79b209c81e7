"""inceptionism: DeepDream and neural style transfer that work offline out of the box."""

from __future__ import annotations

__version__ = "0.1.0"

from inceptionism.errors import InceptionismError  # noqa: E402

__all__ = ["InceptionismError", "__version__"]
