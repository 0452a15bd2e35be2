"""The names this plugin uses from pynchy, from pynchy_cli's public API (its top-level
exports), with the internal modules as a fallback for a pynchy that does not export them yet.
`resolve_paths` (where the data folder is) is not exported: it comes from pynchy_cli.core."""

from __future__ import annotations

from typing import TYPE_CHECKING

try:
    from pynchy_cli import ConfigError, PynchyError, UnavailableError, hookimpl
except ImportError:  # pragma: no cover - a pynchy before the public re-exports
    from pynchy_cli.core.errors import ConfigError, PynchyError, UnavailableError
    from pynchy_cli.core.plugins.hookspecs import hookimpl

from pynchy_cli.core.paths import resolve_paths

if TYPE_CHECKING:
    from pynchy_cli import ChannelHost, Group

__all__ = [
    "ChannelHost",
    "ConfigError",
    "Group",
    "PynchyError",
    "UnavailableError",
    "hookimpl",
    "resolve_paths",
]
