"""pynchy's own components, registered through the same hooks as third-party plugins."""

from __future__ import annotations

from typing import Any

from pynchy_cli.core.plugins.hookspecs import hookimpl


@hookimpl
def pynchy_channels(register: Any) -> None:
    from pynchy_cli.core.serve.channels import TerminalChannel

    register("terminal", lambda settings: TerminalChannel())
