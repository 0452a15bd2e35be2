"""`pynchy groups`: the conversations pynchy answers, each with its own folder and memory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pynchy_cli.cli import resources as ray_options
from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_mapping, emit_table, success
from pynchy_cli.core.policy.profiles import DEFAULT

if TYPE_CHECKING:
    from pynchy_cli.core.groups import Group

app = typer.Typer(
    no_args_is_help=True, help="Add, list, show, change and remove groups (conversations)."
)
_PROFILE_HELP = "Security profile: default, trusted, locked, or one in [profiles] of config."
_BUDGET_HELP = (
    "Spending cap per local day or month, repeatable: daily=5usd, monthly=2000000tokens"
    " (or 2Mtokens), daily=off; off removes every cap."
)
_VOICE = typer.Option(
    None,
    "--voice/--no-voice",
    help="Speak every reply too / never; unset: [voice] speak in config decides.",
)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Group name: lowercase letters, digits, - or _."),
    admin: bool = typer.Option(False, "--admin", help="The admin group answers every message."),
    trigger: str | None = typer.Option(
        None,
        "--trigger",
        help="Word that addresses the agent (default: @ and the assistant_name setting).",
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
    budget: list[str] = typer.Option([], "--budget", help=_BUDGET_HELP),
    cpus: float | None = ray_options.CPUS,
    memory: str | None = ray_options.MEMORY,
    gpus: float | None = ray_options.GPUS,
    resource: list[str] = ray_options.RESOURCE,
    node_label: list[str] = ray_options.NODE_LABEL,
    voice: bool | None = _VOICE,
) -> None:
    """Add a group and create its folder with a CLAUDE.md memory file."""
    from pynchy_cli.core import budgets
    from pynchy_cli.core import groups as core
    from pynchy_cli.core.agent.agent_user import check_group_request
    from pynchy_cli.core.policy.profiles import check_assignment
    from pynchy_cli.core.voice.group_voice import set_group_voice

    c = context(ctx)
    caps = budgets.parse_budget_flags(budget, None)  # a bad value fails before anything
    asks = ray_options.resource_changes({}, cpus, memory, gpus, resource, node_label)
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
        resources=asks,
    )
    budgets.set_group_budget(c.db, group.id, caps)
    if voice is not None:
        set_group_voice(c.db, group.id, voice)
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
    budget: list[str] = typer.Option([], "--budget", help=_BUDGET_HELP),
    cpus: float | None = ray_options.CPUS,
    memory: str | None = ray_options.MEMORY,
    gpus: float | None = ray_options.GPUS,
    resource: list[str] = ray_options.RESOURCE,
    node_label: list[str] = ray_options.NODE_LABEL,
    voice: bool | None = _VOICE,
) -> None:
    """Change a group's settings: any option of `groups add` but --folder."""
    from pynchy_cli.core import budgets
    from pynchy_cli.core import groups as core
    from pynchy_cli.core.agent.agent_user import check_group_request
    from pynchy_cli.core.policy.profiles import check_assignment
    from pynchy_cli.core.voice.group_voice import set_group_voice

    c = context(ctx)
    group = core.get_group(c.db, name)
    caps = budgets.parse_budget_flags(budget, budgets.group_budget(c.db, group.id))
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
    asks = ray_options.resource_changes(group.resources, cpus, memory, gpus, resource, node_label)
    if asks is not None:
        changes["resources"] = asks
    if mount or no_mounts:
        changes["mounts"] = [] if no_mounts else mount
        check_group_request(c.settings, c.paths, None, mount)
    check_assignment(
        c.settings, changes.get("profile", group.profile), changes.get("network", group.network)
    )
    group = core.set_group(c.db, c.paths, name, **changes)
    if budget:
        budgets.set_group_budget(c.db, group.id, caps)
        changes["budget"] = caps
    if voice is not None:
        set_group_voice(c.db, group.id, voice)
        changes["voice"] = voice
    success(f"changed group {group.name}: " + (", ".join(sorted(changes)) or "nothing"))


def _shown(group: Group, assistant_name: str) -> dict:
    """A group as shown: `effective_trigger` is what addresses the agent there (its own
    trigger, else @assistant_name; every message in an admin group)."""
    return {**group.public(), "effective_trigger": group.answers(assistant_name)}


def _with_voice(db, group: Group, shown: dict) -> dict:
    """`voice`: true (every reply spoken), false (none), null ([voice] speak decides)."""
    from pynchy_cli.core.voice.group_voice import group_voice

    return {**shown, "voice": group_voice(db, group.id)}


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List groups."""
    from pynchy_cli.core import groups as core

    c = context(ctx)
    rows = [_shown(g, c.settings.assistant_name) for g in core.list_groups(c.db)]
    if not as_json:  # the trigger column says what works, not what is stored
        rows = [{**row, "trigger": row["effective_trigger"]} for row in rows]
    emit_table(
        rows,
        ["name", "admin", "trigger", "model", "network", "profile", "channel", "folder"],
        as_json=as_json,
        empty="no groups yet; add one with: pynchy groups add NAME",
    )


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: bool = JSON_OPTION) -> None:
    """Show one group."""
    from pynchy_cli.core import budgets
    from pynchy_cli.core import groups as core

    c = context(ctx)
    group = core.get_group(c.db, name)
    caps = budgets.group_budget(c.db, group.id)
    shown = caps.model_dump(exclude_none=True) if as_json and caps else budgets.describe(caps)
    emit_mapping(
        {**_with_voice(c.db, group, _shown(group, c.settings.assistant_name)), "budget": shown},
        as_json=as_json,
    )


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str,
    delete_files: bool = typer.Option(
        False, "--delete-files", help="Also delete the group's folder (kept by default)."
    ),
) -> None:
    """Remove a group and its history; its folder is kept unless --delete-files."""
    from pynchy_cli.core import groups as core

    c = context(ctx)
    group = core.remove_group(c.db, name, delete_files=delete_files)
    kept = "deleted" if delete_files else "kept"
    success(f"removed group {group.name}; folder {group.folder} {kept}")
