"""The options of `groups add/set` that say what a group's runs ask Ray for (scaling = ray)."""

from __future__ import annotations

from typing import Any

import typer

CPUS = typer.Option(None, "--cpus", help="CPUs its runs reserve (scaling = ray).")
MEMORY = typer.Option(None, "--memory", help="Memory its runs reserve, e.g. 4g; '' clears.")
GPUS = typer.Option(None, "--gpus", help="GPUs its runs reserve: only nodes with them.")
RESOURCE = typer.Option(
    [], "--resource", help="Custom Ray resource NAME=N, repeatable (N=0: none)."
)
NODE_LABEL = typer.Option(
    [], "--node-label", help="Run only on nodes labelled KEY=VALUE, repeatable (KEY= removes)."
)


def resource_changes(
    stored: dict[str, Any],
    cpus: float | None,
    memory: str | None,
    gpus: float | None,
    resource: list[str],
    node_label: list[str],
) -> dict[str, Any] | None:
    """The group's new stored request, or None when no option was given."""
    if cpus is None and memory is None and gpus is None and not resource and not node_label:
        return None
    from pynchy_cli.core.scaling.requests import change_resources

    return change_resources(
        stored, cpus=cpus, memory=memory, gpus=gpus, resources=resource, labels=node_label
    )
