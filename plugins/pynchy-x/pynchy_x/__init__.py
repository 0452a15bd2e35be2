"""pynchy-x: X (Twitter) tools for pynchy's agents, served by an MCP server on the host.

Registered through the `pynchy` entry point group as `x` (pynchy_x.plugin), which hands
pynchy the MCP server `python -m pynchy_x.server` with the credentials in its environment.
"""

__version__ = "0.1.0"
