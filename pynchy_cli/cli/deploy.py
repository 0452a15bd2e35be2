"""`pynchy deploy`: install pynchy on hosts with pyinfra, from a bare host to a running service."""

from __future__ import annotations

import sys

import typer

from pynchy_cli.cli.output import console, success
from pynchy_cli.core import deploy as core

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    subcommand_metavar="",  # one command: no COMMAND in its usage line
    context_settings={"allow_interspersed_args": True},  # options after INVENTORY too
)


@app.callback()
def deploy(
    inventory: str | None = typer.Argument(
        None,
        help="A name in the checkout's inventories/ (default: local), an inventory file, "
        "or a pyinfra connector such as @ssh/HOST.",
        metavar="INVENTORY",
        show_default=False,
    ),
    data: list[str] | None = typer.Option(
        None,
        "--data",
        help="Set inventory data KEY=VALUE for every host, over the inventory's (repeatable; "
        "true/false, numbers, null and JSON lists/objects are parsed, the rest is a string).",
        metavar="KEY=VALUE",
        show_default=False,
    ),
    dry: bool = typer.Option(False, "--dry", help="Show what would change; change nothing."),
    limit: list[str] | None = typer.Option(
        None, "--limit", help="Only this host or group (repeatable).", metavar="HOST"
    ),
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask before changing hosts."),
    diff: bool = typer.Option(
        False, "--diff", help="Show changes to text files (config.toml's content is never shown)."
    ),
    verbose: int = typer.Option(
        0, "-v", "--verbose", count=True, help="More of pyinfra's output (-v, -vv, -vvv)."
    ),
) -> None:
    """Deploy pynchy to hosts with pyinfra: from a bare host to a running service.

    Runs deploy/pynchy.py on INVENTORY and summarizes the changes per host.
    The same as, from the checkout: pyinfra inventories/NAME.py deploy/pynchy.py

    Into a chroot: pynchy deploy @chroot/PATH --data pynchy_start_services=false
    --data pynchy_build_image=false

    Data keys the deploy reads: inventories/group_data/all.py and docs/deploy.md.
    """

    def show(chunk: bytes) -> None:
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()

    result = core.run_deploy(
        inventory,
        data=core.parse_data(data or []),
        dry=dry,
        yes=yes,
        limit=limit or [],
        diff=diff,
        verbose=verbose,
        interactive=sys.stdin.isatty(),
        on_output=show,
    )
    _summary(result)


def _summary(result: core.DeployResult) -> None:
    """Per host: the operations that changed something (or would, with --dry)."""
    changed_states = ("would-change",) if result.dry else ("changed",)
    verb = "would change" if result.dry else "changed"
    if result.hosts:
        console.print()
    for host in result.hosts:
        changed = host.with_status(*changed_states)
        if not changed:
            console.print(f"{host.name}: no changes", markup=False, soft_wrap=True)
            continue
        console.print(
            f"{host.name}: {len(changed)} operations {verb}", markup=False, soft_wrap=True
        )
        for op in changed:
            console.print(f"  {op}", markup=False, soft_wrap=True)
    if result.dry:
        success(f"dry run: {result.changed} operations would change")
    else:
        success(f"deploy finished: {result.changed} operations changed")
