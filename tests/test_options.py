"""Every option that is a config field: declared from the dataclass, so the command line's defaults are the
config's, and the help says so (issue 44: a new option has one place to go)."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields

import pytest

from inceptionism.cli import build_parser
from inceptionism.cli.common import UNSET
from inceptionism.cli.dream import build_train_dream_config
from inceptionism.cli.options import build_dream_config, field_help
from inceptionism.cli.style import build_style_config, build_train_config
from inceptionism.cli.stylize import build_stylize_config
from inceptionism.cli.visualize import build_config as build_visualize_config
from inceptionism.configs import (
    DreamConfig, DreamTrainConfig, StyleConfig, StylizeConfig, TrainConfig, VisualizeConfig,
)

#: command: (its config, the least it parses, the function that builds the config from the arguments)
COMMANDS = {
    "dream": (DreamConfig, ["x.png", "-o", "o.png"], build_dream_config),
    "video": (DreamConfig, ["x.mp4", "-o", "o.mp4"], build_dream_config),
    "sweep": (DreamConfig, ["x.png", "-o", "o.png"], None),  # its axes take lists
    "animate": (DreamConfig, ["x.png", "-o", "o.gif"], None),  # its own octaves (below)
    "visualize": (VisualizeConfig, ["-o", "o.png"], build_visualize_config),
    "style": (StyleConfig, ["c.png", "--style", "s.png", "-o", "o.png"], build_style_config),
    "train-style": (TrainConfig, ["--style", "s.png", "--data", "d", "-o", "m.safetensors"], build_train_config),
    "train-dream": (DreamTrainConfig, ["d", "-o", "m.safetensors"], build_train_dream_config),
    "stylize": (StylizeConfig, ["c.png", "--style", "s.png", "-o", "o.png"], build_stylize_config),
}
#: (command, field) whose default differs from the config's on purpose, and why
OWN_DEFAULTS = {
    ("animate", "octaves"): "an endless zoom dreams each frame at fewer scales",
    ("video", "octaves"): "a video's frames dream at fewer scales",
}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_config_option_defaults_to_the_config_and_says_its_default(command):
    config, _, _ = COMMANDS[command]
    by_name = {f.name: f for f in fields(config)}
    seen = set()
    for action in _subparsers()[command]._actions:
        if action.dest not in by_name or not action.option_strings:
            continue
        seen.add(action.dest)
        if (command, action.dest) in OWN_DEFAULTS:
            continue
        assert action.default in (None, UNSET), f"{command} {action.option_strings[0]}: a default of its own"
        help_text = " ".join((action.help or "").split()).replace("%%", "%")
        shown = re.search(r"\(default ([^)]*)\)\s*$", help_text)
        field = by_name[action.dest]
        if shown and field.default is not None and not isinstance(field.default, bool):
            assert shown[1].split(":")[0].strip() == str(field.default), f"{command} {action.option_strings[0]}"
    assert len(seen) >= 5, command


@pytest.mark.parametrize("command", sorted(c for c, (_, _, build) in COMMANDS.items() if build is not None))
def test_no_options_build_the_configs_defaults(command):
    config, argv, build = COMMANDS[command]
    args = build_parser().parse_args([command, *argv])
    assert build(args) == config()


def test_every_config_field_that_is_an_option_has_its_help_in_the_config():
    for command, (config, _, _) in COMMANDS.items():
        docs = field_help(config)
        for action in _subparsers()[command]._actions:
            if action.dest in docs and action.option_strings and action.dest not in ("precision",):
                assert action.help, f"{command} {action.option_strings[0]} has no help"
