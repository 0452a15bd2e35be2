"""pynchy-apple-container: the `applecontainer` runtime (Apple's `container` CLI, macOS).

pynchy plugin install ./plugins/pynchy-apple-container
pynchy agent run --runtime applecontainer "hello"     # or runtime = "applecontainer"
"""

from __future__ import annotations

from typing import Any

from pynchy_cli import hookimpl

__version__ = "0.1.0"


def _make(settings: Any) -> Any:
    from pynchy_apple_container.runtime import make_runtime

    return make_runtime(settings)


@hookimpl
def pynchy_runtimes(register: Any) -> None:
    register("applecontainer", _make)
