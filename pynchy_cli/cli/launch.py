"""The `pynchy` console script: `--version` answers before typer and the commands load."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from pynchy_cli import __version__

        print(f"pynchy {__version__}")
        return
    from pynchy_cli.cli.main import run as run_cli

    run_cli()
