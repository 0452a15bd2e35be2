"""pynchy's own components, registered through the same hooks as third-party plugins.

Factories import their implementation only when called, so loading plugins stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pynchy_cli.core.plugins.hookspecs import hookimpl


@hookimpl
def pynchy_runtimes(register: Any) -> None:
    for name in ("auto", "podman", "docker", "process"):
        register(name, _on_call("pynchy_cli.core.runtimes.select", f"{name}_runtime"))


@hookimpl
def pynchy_agent_cores(register: Any) -> None:
    for name in ("echo", "scripted", "anthropic", "openai"):
        register(name, _on_call("pynchy_cli.core.agent_cores.registry", f"{name}_core"))


def _on_call(module: str, attribute: str) -> Callable[..., Any]:
    """The factory `module.attribute`, imported when first called: the runtimes and cores
    import the config, so loading plugins (as `pynchy --help` does) would import it too."""

    def factory(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    factory.__name__ = factory.__qualname__ = attribute
    return factory


@hookimpl
def pynchy_channels(register: Any) -> None:
    register("terminal", _terminal)


def _terminal(settings: Any) -> Any:
    from pynchy_cli.core.serve.channels import TerminalChannel

    return TerminalChannel()


@hookimpl
def pynchy_mcp_servers(register: Any) -> None:
    # The shipped periodic agents' servers: offered only to the groups of enabled agents.
    from pynchy_cli.core.periodic.shipped.registration import register_shipped_servers

    register_shipped_servers(register)
