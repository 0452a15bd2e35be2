"""`pynchy groups`: the conversations pynchy answers, each with its own folder and memory."""

from __future__ import annotations

from pathlib import Path

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_mapping, emit_table, success
from pynchy_cli.core import groups as core

app = typer.Typer(no_args_is_help=True, help="Add, list, show and remove groups (conversations).")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Group name: lowercase letters, digits, - or _."),
    admin: bool = typer.Option(False, "--admin", help="The admin group answers every message."),
    trigger: str | None = typer.Option(
        None, "--trigger", help="Word that addresses the agent (default: @<assistant_name>)."
    ),
    folder: Path | None = typer.Option(None, "--folder", help="Workspace folder to use."),
    model: str | None = typer.Option(None, "--model", help="Model for this group's agent."),
    account: str | None = typer.Option(None, "--account", help="Account whose key pays."),
    network: bool = typer.Option(
        False, "--network", help="Let this group's containers reach the network."
    ),
    channel: str = typer.Option("terminal", "--channel", help="Channel this group lives on."),
    chat: str | None = typer.Option(None, "--chat", help="The channel's chat id for this group."),
    mount: list[str] = typer.Option(
        [], "--mount", help="Extra folder PATH[:rw] at /mnt/NAME; must be in the mount allowlist."
    ),
) -> None:
    """Add a group and create its folder with a CLAUDE.md memory file."""
    c = context(ctx)
    group = core.add_group(
        c.db,
        c.paths,
        name,
        admin=admin,
        trigger=trigger,
        folder=folder,
        model=model,
        account=account,
        network=network,
        channel=channel,
        chat_id=chat,
        mounts=mount,
    )
    success(f"added group {group.name} ({group.folder})")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List groups."""
    c = context(ctx)
    rows = [g.public() for g in core.list_groups(c.db)]
    emit_table(
        rows,
        ["name", "admin", "trigger", "model", "network", "channel", "folder"],
        as_json=as_json,
        empty="no groups yet; add one with: pynchy groups add NAME",
    )


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: bool = JSON_OPTION) -> None:
    """Show one group."""
    c = context(ctx)
    emit_mapping(core.get_group(c.db, name).public(), as_json=as_json)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str,
    delete_files: bool = typer.Option(
        False, "--delete-files", help="Also delete the group's folder (kept by default)."
    ),
) -> None:
    """Remove a group and its history; its folder is kept unless --delete-files."""
    c = context(ctx)
    group = core.remove_group(c.db, name, delete_files=delete_files)
    kept = "deleted" if delete_files else "kept"
    success(f"removed group {group.name}; folder {group.folder} {kept}")
