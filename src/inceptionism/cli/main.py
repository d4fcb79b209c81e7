"""The ``inceptionism`` command: the parser assembled from the command modules, and ``main()``.

Every command module (dream, animate, style, web, info) adds its sub-commands with
``add_parsers(sub)``; none imports another, and what they share is in :mod:`.common`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Callable, Iterator, Sequence

from inceptionism import __version__
from inceptionism.cli import animate, dream, info, style, web
from inceptionism.cli.common import PROG, Parser
from inceptionism.errors import InceptionismError, Interrupted


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="DeepDream and neural style transfer, offline out of the box.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in (dream, animate, style, info, web):
        module.add_parsers(sub)
    return parser


@contextlib.contextmanager
def _logging_to_stderr() -> Iterator[None]:
    """Send the library's warnings to stderr as one line each, for this call only.

    The logger's previous state is put back afterwards, so calling ``main()`` from
    Python (tests, notebooks) leaves no handler behind on a stream that may close.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    logger = logging.getLogger("inceptionism")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (a scheduler, ``kill``, a container stopping) stops a command the way Ctrl-C does."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _other_rank() -> bool:
    """A process of a distributed run other than rank 0, which speaks for all of them."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and int(os.environ.get("RANK", "0")) != 0
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # for commands that start copies of themselves (--nproc)
    func: Callable[..., int] = args.func
    with _logging_to_stderr(), _sigterm_as_ctrl_c():
        try:
            return func(args)
        except Interrupted as exc:
            if not _other_rank():
                print(f"{PROG}: {exc}", file=sys.stderr)
            return 130
        except InceptionismError as exc:
            if not _other_rank():
                # one line, whatever a file's contents put into the message
                print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; finished outputs are kept", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0
        except MemoryError:
            print(f"{PROG}: error: out of memory (try a smaller image)", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
