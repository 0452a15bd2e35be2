"""The `pynchy` console script: `--version` answers before typer and the commands load, and
the root help comes from its kept copy while nothing it was made from has changed."""

from __future__ import annotations

import sys


def run() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from pynchy_cli import __version__

        print(f"pynchy {__version__}")
        return
    if args in ([], ["--help"]):
        from pynchy_cli.cli.help_cache import show_root_help

        show_root_help(args, _run_cli)
        return
    _run_cli()


def _run_cli() -> None:
    from pynchy_cli.cli.main import run as run_cli

    run_cli()
