"""pynchy: a personal AI assistant whose agents run in containers.

The names exported here are pynchy's public API for plugins.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
