"""The `robot` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .dialer import commands as dialer_commands
from .dialog import commands as dialog_commands
from .sip import commands as sip_commands
from .speech import commands as speech_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robot", description="Offline anti-fraud warning call robot")
    parser.add_argument("--version", action="version", version=f"robot {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dialog_commands.add_parser(subparsers)
    speech_commands.add_parser(subparsers)
    sip_commands.add_parser(subparsers)
    dialer_commands.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`robot ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
