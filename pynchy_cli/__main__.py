from pynchy_cli.cli.launch import run

run()
