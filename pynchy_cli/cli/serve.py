"""`pynchy serve`: the long-running service a person leaves on."""

from __future__ import annotations

import typer

from pynchy_cli.cli.common import context


def serve(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Model for every group without its own; before config's model (e.g. echo).",
    ),
    runtime: str | None = typer.Option(
        None, "--runtime", help="podman, docker or process (default: configured/auto)."
    ),
    host: str | None = typer.Option(None, "--host", help="API address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="API port (default 8787)."),
    socket: str | None = typer.Option(None, "--socket", help="Serve the API on a unix socket."),
    scaling: str | None = typer.Option(
        None, "--scaling", help="local or ray: where runs wait and land (docs/scaling.md)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="HOST:PORT of a Ray cluster to join (default: embedded)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Run pynchy: channels in, agents in containers, replies out, scheduled tasks."""
    import asyncio

    from pynchy_cli.core.serve.main import Listen, setup_logging
    from pynchy_cli.core.serve.main import serve as run_service

    api = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    ray = {"address": ray_address} if ray_address else None
    c = context(ctx).with_overrides(api=api or None, scaling=scaling, ray=ray)
    settings = c.settings
    setup_logging(c, verbose)
    listen = Listen(host or settings.api.host, port or settings.api.port, socket)
    code = asyncio.run(run_service(c, listen, model=model, runtime=runtime))
    if code:  # an admin update: exit for systemd (or a wrapper) to start the new code
        raise typer.Exit(code)
