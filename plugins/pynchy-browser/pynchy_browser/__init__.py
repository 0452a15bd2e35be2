"""pynchy-browser: a headless Chromium for pynchy's agents, in a container of its own.

Registered through the `pynchy` entry point group as `browser` (pynchy_browser.plugin): an
MCP server (`python -m pynchy_browser.server`) the host runs; agents see
`mcp__browser__open`, `read_text`, `screenshot`, `click` and `fill`. The browser runs in
its own container (network, but nothing of the host), one per group, started on first use
and stopped when its run ends or after idle_timeout without use.
"""

from __future__ import annotations

__version__ = "0.1.0"
