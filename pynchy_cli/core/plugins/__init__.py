"""Plugins: pluggy hooks, discovered through the `pynchy` entry point group."""
