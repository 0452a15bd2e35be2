"""pynchy's own components, registered through the same hooks as third-party plugins.

Factories import their implementation only when called, so loading plugins stays cheap.
"""

from __future__ import annotations

from typing import Any

from pynchy_cli.core.plugins.hookspecs import hookimpl


@hookimpl
def pynchy_runtimes(register: Any) -> None:
    from pynchy_cli.core.runtimes import select

    register("auto", select.auto_runtime)
    register("podman", select.podman_runtime)
    register("docker", select.docker_runtime)
    register("process", select.process_runtime)


@hookimpl
def pynchy_agent_cores(register: Any) -> None:
    from pynchy_cli.core.agent_cores import registry

    register("echo", registry.echo_core)
    register("scripted", registry.scripted_core)
    register("anthropic", registry.anthropic_core)
    register("openai", registry.openai_core)


@hookimpl
def pynchy_channels(register: Any) -> None:
    register("terminal", _terminal)


def _terminal(settings: Any) -> Any:
    from pynchy_cli.core.serve.channels import TerminalChannel

    return TerminalChannel()
