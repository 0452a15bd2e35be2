"""The pynchy names this plugin uses, from pynchy's public top level where it exports them
(older pynchy versions only have them in their home modules)."""

from __future__ import annotations

try:
    from pynchy_cli import ConfigError, Group, PynchyError, UnavailableError, hookimpl
except ImportError:  # pynchy_cli without the lazy re-exports
    from pynchy_cli.core.errors import ConfigError, PynchyError, UnavailableError
    from pynchy_cli.core.groups import Group
    from pynchy_cli.core.plugins.hookspecs import hookimpl

try:
    from pynchy_cli import resolve_paths
except ImportError:
    from pynchy_cli.core.paths import resolve_paths

__all__ = [
    "ConfigError",
    "Group",
    "PynchyError",
    "UnavailableError",
    "hookimpl",
    "resolve_paths",
]
