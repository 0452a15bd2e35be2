"""The agent runner: the code that runs inside an agent container.

Dependency-free on purpose: it imports only the standard library and pynchy_cli.protocol,
so the image carries nothing else of pynchy (no model SDKs, no container clients).
"""

__version__ = "0.1.0"
