"""The ``inceptionism`` command: the parser assembled from the command modules, and ``main()``.

Every command module (dream, animate, style, web, info) adds its sub-commands with
``add_parsers(sub)``; none imports another, and what they share is in :mod:`.common`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import time
from typing import Any, Iterator, Sequence

from inceptionism import __version__
from inceptionism.cli import animate, completion, dream, info, report, style, stylize, visualize, web
from inceptionism.cli.common import flag_of, Parser, PROG
from inceptionism.errors import ConfigError, InceptionismError, Interrupted, speaking_flags


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="DeepDream and neural style transfer, offline out of the box.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in (dream, visualize, animate, style, stylize, info, web, completion):
        module.add_parsers(sub)
    for name, command in sub.choices.items():
        if name not in ("web", "completion"):  # a server has nothing to report when it ends
            command.add_argument("--json", action="store_true",
                                 help="one JSON document on stdout when done (README: Scripting); messages on stderr")
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
def _warnings_in_one_line() -> Iterator[None]:
    """A warning from a library (torch, Pillow, numpy...) reaches the terminal as one line of ours, once.

    Python's default shows the warning with its source file and line, which breaks
    through progress bars and says nothing a user can act on; those we know to be
    useful are said in our own words where they arise.
    """
    import warnings

    seen: set[str] = set()

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        text = " ".join(str(message).split())
        if text in seen:
            return
        seen.add(text)
        print(f"{PROG}: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show  # type: ignore[assignment]
        yield


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


def _parse(parser: Parser, argv: list[str]) -> Any:
    """The parsed arguments; with --json, a usage error is a JSON document too (and still the usage on stderr)."""
    if "--json" not in argv:
        return parser.parse_args(argv)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            return parser.parse_args(argv)
    except SystemExit as exc:
        sys.stderr.write(captured.getvalue())
        if exc.code:
            lines = [line for line in captured.getvalue().splitlines() if line.strip()]
            command = next((a for a in argv if not a.startswith("-")), None)
            print(json.dumps({"schema": report.SCHEMA, "command": command, "ok": False, "exit_code": exc.code,
                              "error": lines[-1] if lines else "usage error"}))
        raise


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["__complete"]:  # the shell completion scripts ask here (cli/completion.py)
        return completion.complete(build_parser(), argv[1:])
    with speaking_flags(flag_of):  # the library's errors name flags, not parameters
        return _main(argv)


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = _parse(parser, argv)
    args.argv = argv  # for commands that start copies of themselves (--nproc)
    args.report = report.Report(args.command)
    as_json = getattr(args, "json", False) and not _other_rank()
    stdout = sys.stdout
    started = time.perf_counter()
    code, error = 1, None
    with _logging_to_stderr(), _warnings_in_one_line(), _sigterm_as_ctrl_c(), \
            (contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()):
        try:
            if as_json and getattr(args, "output", None) == "-":
                raise ConfigError("--json and -o - both want standard output: write the image to a file")
            code = func_code = args.func(args)
            return func_code
        except Interrupted as exc:
            if not _other_rank():
                print(f"{PROG}: {exc}", file=sys.stderr)
            code, error = 130, str(exc)
            return 130
        except InceptionismError as exc:
            # one line, whatever a file's contents put into the message
            error = f"{' '.join(str(exc).split())}"
            if not _other_rank():
                print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; finished outputs are kept", file=sys.stderr)
            code, error = 130, "interrupted; finished outputs are kept"
            return 130
        except BrokenPipeError:
            code = 0
            return 0
        except MemoryError:
            error = "out of memory (try a smaller image)"
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        finally:
            if as_json:
                doc = report.document(args.report, code=code, seconds=time.perf_counter() - started, error=error)
                print(json.dumps(doc, default=str), file=stdout, flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
