"""rs3l: pre-train, fine-tune and evaluate RS3L jet backbones."""

from __future__ import annotations

import argparse
import sys

from resim import cliutil

#: Sub-command -> the module that registers it. ``rs3l <command>`` imports only its module (a
#: workflow job pays no start-up for the others: matplotlib, scikit-learn, ...).
COMMANDS = {
    "pretrain": "train.pretrain.run",
    "finetune": "train.finetune.run",
    "evaluate": "train.evaluate.cli",
    "summary": "train.report",
    "anomaly": "train.anomaly.run",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or of ``command`` alone when it is one of them."""
    modules = (COMMANDS[command],) if command in COMMANDS else COMMAND_MODULES
    return cliutil.build_parser("rs3l", __doc__.splitlines()[0], modules)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return cliutil.run(build_parser(argv[0] if argv else None), argv)


if __name__ == "__main__":
    sys.exit(main())
