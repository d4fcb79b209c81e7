"""One error family for everything a user can get wrong.

The CLI turns any :class:`InceptionismError` into a single line on stderr and a
non-zero exit status; anything else escaping is a bug.
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """An exception in one line for a message: the first line of its text, else its type's name."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


class InceptionismError(Exception):
    """Base class of every error this package raises on purpose."""


class ImageReadError(InceptionismError):
    """An input image is missing, unreadable or unusable."""


class OutputError(InceptionismError):
    """An output cannot be written where it was asked for."""


class ModelError(InceptionismError):
    """An unknown model, or weights that cannot be found or loaded."""


class LayerError(InceptionismError):
    """A layer address that does not name a layer of the model, or a bad channel."""


class ConfigError(InceptionismError, ValueError):
    """A parameter outside what is allowed."""


class Interrupted(InceptionismError):
    """Ctrl-C or SIGTERM stopped a long run; the message says what was kept and how to go on."""
