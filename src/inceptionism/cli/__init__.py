"""The ``inceptionism`` command line: parsing and printing only; the work is in the library.

The commands, one module per command or small family (each adds its sub-commands with ``add_parsers``, and none
imports another):

- :mod:`.dream`: ``dream``, ``train-dream``, ``topics``
- :mod:`.visualize`: ``visualize`` (and its ``--atlas`` sheets)
- :mod:`.animate`: ``animate``, ``video``, ``sweep``
- :mod:`.style`: ``style`` (optimisation), ``train-style``, ``export``
- :mod:`.stylize`: ``stylize``, ``styles`` (the pipeline is :mod:`inceptionism.style.instant`)
- :mod:`.info`: ``models``, ``layers``, ``info``
- :mod:`.web`: ``web``
- :mod:`.completion`: ``completion`` (shell completion scripts)

What they share, one room a concern:

- :mod:`.common`: the parser class, the program's name, and the table from the library's parameters to flags
- :mod:`.options`: option groups several commands take, the actions that pair masks and regions, what they load
- :mod:`.batch`: inputs to outputs, many items here or on Ray, the closing summary, trainers' model files
- :mod:`.recipes`: ``--from`` (a stored recipe checked, its thread count) and ``--resume`` by recipe
- :mod:`.movies`: frames into a GIF, MP4 or WebM, kept on Ctrl-C
- :mod:`.report`: ``--json``, the one document a command prints when done
- :mod:`.main`: the parser assembled, and ``main()`` (errors in one line, in flags)

Progress bars are the library's (:mod:`inceptionism.progress`).
"""

from inceptionism.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
