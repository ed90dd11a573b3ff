"""rs3l: pre-train, fine-tune and evaluate RS3L jet backbones."""

from __future__ import annotations

import argparse
import sys

from resim import cliutil

COMMAND_MODULES = (
    "train.pretrain",        # rs3l pretrain
    "train.finetune",        # rs3l finetune
    "train.evaluate.cli",    # rs3l evaluate / tables / plots
    "train.report",          # rs3l summary
    "train.anomaly_run",     # rs3l anomaly
)


def build_parser() -> argparse.ArgumentParser:
    return cliutil.build_parser("rs3l", __doc__.splitlines()[0], COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return cliutil.run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
