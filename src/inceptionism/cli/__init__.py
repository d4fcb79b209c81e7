"""The ``inceptionism`` command line: parsing and printing only; the work is in the library.

One module per command group (:mod:`.dream`, :mod:`.animate` with video and sweep,
:mod:`.style`, :mod:`.web`, :mod:`.info`), what they share in :mod:`.common`, and
:mod:`.main` assembling the parser.
"""

from inceptionism.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
