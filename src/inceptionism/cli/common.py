"""What every command shares: the parser class (a usage error is one line), the program's name, "not given", and
the one table that turns the library's parameters into flags for its errors."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from inceptionism.errors import ConfigError

PROG = "inceptionism"

#: "not given", where None is a meaningful value
UNSET = object()


#: the library's parameters whose flag is not the name with dashes (``--step-size`` for ``step_size``): the one place
#: where the command line turns a parameter that an error names (:func:`inceptionism.errors.param`) into its flag
FLAG_NAMES = {"class_": "--class", "class_value": "--class", "width": "--size", "height": "--size",
              "painting": "--style", "style": "--style-index", "regions": "--region", "from_": "--from",
              "image": "INPUT", "photo": "CONTENT"}


def flag_of(name: str) -> str:
    """The flag of the library's parameter ``name``."""
    return FLAG_NAMES.get(name, "--" + name.strip("_").replace("_", "-"))


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def argument_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """A library parser as an argparse ``type=``, its message kept in the usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def command(sub: Any, name: str, *, help: str, description: str | None = None,
            examples: tuple[str, ...] = (), **extra: Any) -> Any:
    """A command's parser: its line in the command list, its description, and examples shown under ``--help``."""
    epilog = None
    if examples:
        epilog = ("Examples:\n" if len(examples) > 1 else "Example:\n") + "".join(f"  {e}\n" for e in examples)
        epilog = epilog.rstrip("\n")
    return sub.add_parser(name, help=help, description=description, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter, **extra)
