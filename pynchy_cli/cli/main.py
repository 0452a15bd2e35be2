"""The root `pynchy` command: global options, the command groups, one error handler."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from pynchy_cli import __version__
from pynchy_cli.cli import (
    agent,
    audit,
    backlog,
    chat,
    config,
    deploy,
    doctor,
    groups,
    plugin,
    serve,
    tasks,
)
from pynchy_cli.cli.output import err_console
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import ExitCode, PynchyError


class PynchyGroup(TyperGroup):
    """Turns every PynchyError into one line on stderr and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PynchyError as exc:
            if _show_traceback(ctx):
                traceback.print_exc(file=sys.stderr)
            err_console.print(f"pynchy: error: {exc.line()}", markup=False, soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            err_console.print("pynchy: interrupted", markup=False)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def _show_traceback(ctx: Any) -> bool:
    obj = ctx.find_root().meta
    return bool(obj.get("pynchy.traceback"))


app = typer.Typer(
    cls=PynchyGroup,
    name="pynchy",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    help="pynchy: a personal AI assistant whose agents run in containers.",
)


def _version(value: bool) -> None:
    if value:
        print(f"pynchy {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    show_traceback: bool = typer.Option(
        False, "--traceback", help="Show the full traceback of an error."
    ),
) -> None:
    ctx.meta["pynchy.traceback"] = show_traceback
    ctx.obj = Context()


app.add_typer(agent.app, name="agent")
app.add_typer(plugin.app, name="plugin")
app.add_typer(backlog.app, name="backlog")
app.add_typer(deploy.app, name="deploy")
app.command("serve")(serve.serve)
app.command("chat")(chat.chat)
app.add_typer(groups.app, name="groups")
app.add_typer(tasks.app, name="tasks")
app.add_typer(config.app, name="config")
app.command("doctor")(doctor.doctor)
app.command("audit")(audit.audit)
plugin.add_plugin_commands(app)  # the `commands` kind: after the built-ins, never replacing one


def run() -> None:
    app()
