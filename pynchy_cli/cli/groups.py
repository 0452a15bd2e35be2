"""`pynchy groups`: the conversations pynchy answers, each with its own folder and memory."""

from __future__ import annotations

from pathlib import Path

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_mapping, emit_table, success
from pynchy_cli.core import groups as core
from pynchy_cli.core.agent.agent_user import check_group_request
from pynchy_cli.core.policy.profiles import DEFAULT, check_assignment

app = typer.Typer(
    no_args_is_help=True, help="Add, list, show, change and remove groups (conversations)."
)
_PROFILE_HELP = "Security profile: default, trusted, locked, or one in [profiles] of config."


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
    profile: str = typer.Option(DEFAULT, "--profile", help=_PROFILE_HELP),
) -> None:
    """Add a group and create its folder with a CLAUDE.md memory file."""
    c = context(ctx)
    check_assignment(c.settings, profile, network)
    check_group_request(c.settings, c.paths, folder, mount)
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
        profile=profile,
    )
    success(f"added group {group.name} ({group.folder}), profile {group.profile}")


@app.command("set")
def set_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The group to change."),
    admin: bool | None = typer.Option(None, "--admin/--no-admin", help="Answer every message."),
    trigger: str | None = typer.Option(None, "--trigger", help="Addressing word; '' clears."),
    model: str | None = typer.Option(None, "--model", help="Model for this group; '' clears."),
    account: str | None = typer.Option(None, "--account", help="Account that pays; '' clears."),
    network: bool | None = typer.Option(
        None, "--network/--no-network", help="Let this group's containers reach the network."
    ),
    channel: str | None = typer.Option(None, "--channel", help="Channel this group lives on."),
    chat: str | None = typer.Option(None, "--chat", help="The channel's chat id; '' clears."),
    mount: list[str] = typer.Option(
        [], "--mount", help="Extra folders PATH[:rw]: replace the group's list."
    ),
    no_mounts: bool = typer.Option(False, "--no-mounts", help="Remove every extra folder."),
    profile: str | None = typer.Option(None, "--profile", help=_PROFILE_HELP),
) -> None:
    """Change a group's settings: any option of `groups add` but --folder."""
    c = context(ctx)
    group = core.get_group(c.db, name)
    changes: dict = {
        key: (value or None) if isinstance(value, str) else value
        for key, value in {
            "admin": admin,
            "trigger": trigger,
            "model": model,
            "account": account,
            "network": network,
            "channel": channel,
            "chat_id": chat,
            "profile": profile,
        }.items()
        if value is not None
    }
    if channel == "":
        changes["channel"] = "terminal"
    if mount or no_mounts:
        changes["mounts"] = [] if no_mounts else mount
        check_group_request(c.settings, c.paths, None, mount)
    check_assignment(
        c.settings, changes.get("profile", group.profile), changes.get("network", group.network)
    )
    group = core.set_group(c.db, c.paths, name, **changes)
    success(f"changed group {group.name}: " + (", ".join(sorted(changes)) or "nothing"))


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List groups."""
    c = context(ctx)
    rows = [g.public() for g in core.list_groups(c.db)]
    emit_table(
        rows,
        ["name", "admin", "trigger", "model", "network", "profile", "channel", "folder"],
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
