"""Typer apps only: parse arguments, call core, render with rich."""
