from pynchy_cli.cli.main import run

run()
