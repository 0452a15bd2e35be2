"""pynchy-email: the user's mailbox as MCP tools for pynchy's agents.

Registered through the `pynchy` entry point group as `email` (pynchy_email.plugin): an
MCP server (`python -m pynchy_email.server`) that the host runs with the IMAP and SMTP
credentials in its environment; agents see `mcp__email__search_messages` and the others.
"""

from __future__ import annotations

__version__ = "0.1.0"
