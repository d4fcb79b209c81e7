"""One error family for everything a user can get wrong.

The CLI turns any :class:`InceptionismError` into a single line on stderr and a
non-zero exit status; anything else escaping is a bug.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from contextvars import ContextVar
from typing import Any, Callable, Iterator

#: how a parameter is written where the caller speaks flags (set by the command line; None: Python's words)
_FLAGS: ContextVar[Callable[[str], str] | None] = ContextVar("inceptionism_flags", default=None)
_NO_VALUE = object()
# a parameter inside a message: NAME, or NAME and its value, between private-use characters
_OPEN, _SEP, _CLOSE, _ALT = "\ue000", "\ue001", "\ue002", "\ue003"
_MARK = re.compile(f"{_OPEN}([^{_SEP}{_CLOSE}{_ALT}]*)(?:{_SEP}([^{_CLOSE}{_ALT}]*))?(?:{_ALT}([^{_CLOSE}]*))?{_CLOSE}")


def param(name: str, value: Any = _NO_VALUE) -> str:
    """A parameter named in an error message, in the caller's words when it is shown.

    To Python it reads ``batch=2`` (or ``batch``); the command line, which maps
    parameters to its flags in one place (:func:`speaking_flags`), shows ``--batch 2``.
    """
    if value is _NO_VALUE:
        return f"{_OPEN}{name}{_CLOSE}"
    return f"{_OPEN}{name}{_SEP}{value!r}{_ALT}{value}{_CLOSE}"


def either(python: str, cli: str) -> str:
    """Words that differ between Python and the command line (how to list layers, say)."""
    return f"{_OPEN}{_SEP}{python}{_ALT}{cli}{_CLOSE}"


@contextlib.contextmanager
def speaking_flags(flag_of: Callable[[str], str]) -> Iterator[None]:
    """Within this block, errors name parameters as the command line's flags (``flag_of(name)``)."""
    token = _FLAGS.set(flag_of)
    try:
        yield
    finally:
        _FLAGS.reset(token)


def in_words(text: str) -> str:
    """``text`` with its parameters in the current caller's words."""
    flag_of = _FLAGS.get()

    def one(m: re.Match[str]) -> str:
        name, python, cli = m.group(1), m.group(2), m.group(3)
        if not name:  # either(python, cli)
            return cli if flag_of is not None else python
        if flag_of is None:
            return name if python is None else f"{name}={python}"
        flag = flag_of(name)
        if cli is None or cli == "True":
            return flag
        return f"{flag} {shlex.quote(cli)}"

    return _MARK.sub(one, text)


def first_line(exc: BaseException) -> str:
    """An exception in one line for a message: the first line of its text, else its type's name."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


class InceptionismError(Exception):
    """Base class of every error this package raises on purpose.

    Its text names parameters in the caller's words: ``batch=2`` to Python, ``--batch 2``
    on the command line (see :func:`param`).
    """

    def __str__(self) -> str:
        return in_words(super().__str__())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


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
