"""pynchy's shared library. Nothing here imports typer or pynchy_cli.cli."""
