"""The root `pynchy` command: global options, the command groups, one error handler."""

from __future__ import annotations

import functools
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
    node,
    periodic,
    plugin,
    serve,
    status,
    tasks,
    usage,
    web,
)
from pynchy_cli.cli.help_format import escape_help_brackets, use_click_metavars
from pynchy_cli.cli.output import err_console
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import ExitCode, PynchyError


class PynchyGroup(TyperGroup):
    """Turns every PynchyError into one line on stderr and its exit code, and keeps the
    brackets of every command's help (built before the root group: typer builds it last)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        escape_help_brackets(self)

    # Plugins' commands load only when asked for (a name that is no built-in, or the root's
    # help lists them): loading plugins costs every other command its start-up time.
    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is None and self._add_plugin_commands():
            found = super().get_command(ctx, cmd_name)
        return found

    def list_commands(self, ctx: Any) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def _add_plugin_commands(self) -> bool:
        added = False
        for name, command in _plugin_commands().items():
            if name not in self.commands:
                escape_help_brackets(command)
                self.add_command(command, name)
                added = True
        return added

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


use_click_metavars()

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
app.add_typer(periodic.app, name="periodic")
app.add_typer(config.app, name="config")
app.command("doctor")(doctor.doctor)
app.command("audit")(audit.audit)
app.command("usage")(usage.usage)
app.command("status")(status.status)
app.command("web")(web.web)
app.add_typer(node.app, name="node")


@functools.cache
def _plugin_commands() -> dict[str, Any]:
    """The `commands` kind, once a process: after the built-ins, never replacing one."""
    return plugin.plugin_commands(app)


def run() -> None:
    app()
