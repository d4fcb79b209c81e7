"""Shell completion: ``inceptionism completion bash|zsh`` prints a script that asks the tool itself.

The script calls ``inceptionism __complete INDEX WORD...`` (``INDEX``: the word being
completed, 0 for ``inceptionism``), which answers one candidate a line: commands,
a command's options, model names after ``--model``, the layers and aliases of the
chosen ``--model`` (the default one otherwise) after ``--layer``, the values of an
option with choices; nothing means files, which the shell completes itself.
Commands and options come from the parser alone; only model and layer names import
the model registry (and torch).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from inceptionism.cli.common import command

BASH = r"""# inceptionism: bash completion (add to ~/.bashrc: eval "$(inceptionism completion bash)")
_inceptionism() {
    local IFS=$'\n'
    COMPREPLY=($(inceptionism __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null))
}
complete -o default -F _inceptionism inceptionism
"""

ZSH = r"""#compdef inceptionism
# inceptionism: zsh completion (add to ~/.zshrc: eval "$(inceptionism completion zsh)")
_inceptionism() {
    local -a found
    found=("${(@f)$(inceptionism __complete $((CURRENT - 1)) "${words[@]}" 2>/dev/null)}")
    if [[ -n "${found[1]}" ]]; then
        compadd -- "${found[@]}"
    else
        _files
    fi
}
compdef _inceptionism inceptionism
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH}


def add_parsers(sub: Any) -> None:
    p = command(
        sub, "completion",
        help="print a shell completion script (bash or zsh)",
        description="Prints a completion script: commands, options, model names and the layers of "
                    "the chosen --model.",
        examples=(
            'eval "$(inceptionism completion bash)"   # in ~/.bashrc',
            'eval "$(inceptionism completion zsh)"    # in ~/.zshrc',
        ),
    )
    p.add_argument("shell", choices=sorted(SCRIPTS))
    p.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(SCRIPTS[args.shell])
    return 0


def _option_values(words: list[str], option: str) -> str | None:
    """The value last given to ``option`` among ``words`` (``--model vgg16`` or ``--model=vgg16``)."""
    found = None
    for i, word in enumerate(words):
        if word == option and i + 1 < len(words):
            found = words[i + 1]
        elif word.startswith(option + "="):
            found = word.split("=", 1)[1]
    return found


def _layer_names(model: str | None) -> list[str]:
    from inceptionism.models import DEFAULT_MODEL, get_model_spec

    try:
        spec = get_model_spec(model or DEFAULT_MODEL)
    except Exception:  # noqa: BLE001 - an unknown model while typing: nothing to offer
        return []
    return list(dict.fromkeys([*spec.layers, *spec.aliases]))


def candidates(parser: argparse.ArgumentParser, words: list[str], index: int) -> list[str]:
    """What may stand at ``words[index]`` (``words[0]`` is the program)."""
    current = words[index] if index < len(words) else ""
    before = words[1:index]
    sub = parser._subparsers._group_actions[0] if parser._subparsers else None  # noqa: SLF001 - argparse's own
    commands = sorted(c for c in (sub.choices if sub else {}) if not c.startswith("_"))
    command = next((w for w in before if w in commands), None)
    if command is None:
        return [c for c in commands if c.startswith(current)] if not current.startswith("-") else \
            [o for o in ("--help", "--version") if o.startswith(current)]
    cmd_parser = sub.choices[command]
    options = {o: a for a in cmd_parser._actions for o in a.option_strings}  # noqa: SLF001
    previous = words[index - 1] if index >= 1 else ""
    if previous in options and options[previous].nargs != 0:
        action = options[previous]
        if previous == "--model":
            from inceptionism.models import list_models

            return [m for m in list_models() if m.startswith(current)]
        if previous == "--layer":
            model = _option_values(words[:index], "--model")
            return [name for name in _layer_names(model) if name.startswith(current)]
        if action.choices:
            return [str(c) for c in action.choices if str(c).startswith(current)]
        return []  # a file or a number: the shell's own completion
    if current.startswith("-"):
        return sorted(o for o in options if o.startswith(current) and o.startswith("--"))
    return []


def complete(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    """``__complete INDEX WORD...``: the candidates, one a line."""
    try:
        index, words = int(argv[0]), list(argv[1:])
    except (IndexError, ValueError):
        return 2
    for line in candidates(parser, words, index):
        print(line)
    return 0
