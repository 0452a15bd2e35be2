"""`pynchy node`: make this machine a node of pynchy's Ray cluster (scaling = ray)."""

from __future__ import annotations

from pathlib import Path

import typer

from pynchy_cli.cli.common import context
from pynchy_cli.cli.output import err_console

app = typer.Typer(
    no_args_is_help=True,
    help="Start or stop this machine's Ray node (scaling = ray; see docs/scaling.md).",
)


@app.command("start")
def start(
    ctx: typer.Context,
    address: str | None = typer.Option(
        None, "--address", help="HEAD:PORT of the cluster to join (a worker node)."
    ),
    head: bool = typer.Option(False, "--head", help="Start the cluster's head here."),
    port: int = typer.Option(6379, "--port", help="The head's port."),
    node_ip: str | None = typer.Option(
        None, "--node-ip", help="Address Ray uses here (default: [ray] node_ip, else Ray's)."
    ),
    num_cpus: float | None = typer.Option(None, "--num-cpus", help="CPUs to offer."),
    num_gpus: float | None = typer.Option(None, "--num-gpus", help="GPUs to offer."),
    resources: str | None = typer.Option(
        None, "--resources", help="Custom resources as JSON: '{\"bigmem\": 1}'."
    ),
    labels: list[str] = typer.Option([], "--labels", help="Node label KEY=VALUE, repeatable."),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="The cluster's token (default: ray-token in the data folder)."
    ),
    block: bool = typer.Option(False, "--block", help="Stay in the foreground (systemd)."),
) -> None:
    """Start a Ray node with token auth: the head (--head) or a worker (--address)."""
    import subprocess

    from pynchy_cli.core.errors import UnavailableError
    from pynchy_cli.core.scaling import node as core

    c = context(ctx)
    options = core.NodeOptions(
        head=head,
        address=address,
        port=port,
        node_ip=node_ip or c.settings.ray.node_ip,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        resources=core.parse_resources(resources),
        labels=core.parse_labels(labels),
        token_file=token_file,
        block=block,
    )
    command = core.start_command(options)
    env = core.start_env(c.paths, options)
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0:
        raise UnavailableError(f"ray start failed (exit {done.returncode})", "See its output above")
    if head:
        err_console.print(
            f"Token: {env.get('RAY_AUTH_TOKEN_PATH', 'RAY_AUTH_TOKEN')}. Copy it to each worker"
            f" (mode 600), then there: pynchy node start --address HEAD_IP:{port}",
            markup=False,
            soft_wrap=True,
        )


@app.command("stop")
def stop() -> None:
    """Stop every Ray process of this machine (its node, and a head if it runs here)."""
    import subprocess

    from pynchy_cli.core.errors import UnavailableError
    from pynchy_cli.core.scaling import node as core

    done = subprocess.run([core.ray_cli(), "stop"], check=False)
    if done.returncode != 0:
        raise UnavailableError(f"ray stop failed (exit {done.returncode})")
