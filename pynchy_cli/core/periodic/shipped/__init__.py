"""pynchy's shipped periodic agents (security-sweep, code-simplifier, upstream-check,
log-recovery, health-report), off until the user enables them in config.toml, each
with a host-side MCP server of its own name (registration, server). See docs/periodic.md,
"Shipped agents"."""

from pynchy_cli.core.periodic.shipped.definitions import SHIPPED

__all__ = ["SHIPPED"]
