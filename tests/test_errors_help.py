"""Every sub-command of resim and rs3l says what it does, and every argument has help."""

from __future__ import annotations

import argparse

import pytest

from resim import cli as resim_cli
from resim.cliutil import sub_parsers
from train import cli as rs3l_cli


@pytest.mark.parametrize("script", [resim_cli, rs3l_cli], ids=["resim", "rs3l"])
def test_every_command_and_argument_has_help(script):
    parser = script.build_parser()
    missing = []
    commands = list(sub_parsers(parser))
    assert len(commands) >= 4
    for command in [parser, *commands]:
        if not command.description:
            missing.append(f"{command.prog}: no description")
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{command.prog} {choice.dest}: no help"
                            for choice in action._choices_actions if not choice.help]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{command.prog} {'/'.join(action.option_strings) or action.dest}: "
                               f"no help")
    assert not missing, "\n".join(missing)
