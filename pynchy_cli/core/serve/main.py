"""Running the service: logging, the API listener, signals, draining on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from aiohttp import web

from pynchy_cli.core.agent.background import wait_for_removals
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.file_modes import PRIVATE_FILE, PrivateLogFile, private_dir, tighten
from pynchy_cli.core.serve.admin import start_admin
from pynchy_cli.core.serve.api import ensure_token, make_app
from pynchy_cli.core.serve.endpoint import record_endpoint, remove_endpoint
from pynchy_cli.core.serve.service import Service
from pynchy_cli.core.update.install import RESTART_EXIT_CODE

log = logging.getLogger("pynchy.serve")

DRAIN_SECONDS = 60.0
LOG_BACKUPS = 3


@dataclass
class Listen:
    host: str
    port: int
    socket: str | None = None  # a unix socket path instead of host:port

    def url(self) -> str:
        return f"unix:{self.socket}" if self.socket else f"http://{self.host}:{self.port}"


def setup_logging(ctx: Context, verbose: bool = False) -> None:
    """Key=value lines, to the data folder's serve.log and to the console."""
    # Quietly: the data folder is made private with the database (Context.db), whose
    # line then reaches this log.
    log_file = private_dir(ctx.paths.logs_dir, quiet=True) / "serve.log"
    for n in range(LOG_BACKUPS + 1):
        old = log_file.with_name(f"serve.log.{n}" if n else "serve.log")
        tighten(old, PRIVATE_FILE, quiet=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    file_handler = PrivateLogFile(log_file, maxBytes=10_000_000, backupCount=LOG_BACKUPS)
    file_handler.setFormatter(fmt)
    console = logging.StreamHandler()
    console.setFormatter(fmt)
    root = logging.getLogger("pynchy")
    root.handlers[:] = [file_handler, console]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


async def serve(
    ctx: Context,
    listen: Listen,
    *,
    model: str | None,
    runtime: str | None,
    ready: asyncio.Event | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (exit code 0) or an admin update (RESTART_EXIT_CODE)."""
    service = Service(ctx, model=model, runtime=runtime)
    await service.start()
    token = ensure_token(ctx.paths.api_token_file)
    runner = web.AppRunner(make_app(service, token), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site: web.BaseSite = (
            web.UnixSite(runner, listen.socket)
            if listen.socket
            else web.TCPSite(runner, listen.host, listen.port)
        )
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UnavailableError(
            f"cannot listen on {listen.url()} ({exc.strerror})",
            "Is another pynchy serve running? Use --port to pick another",
        ) from exc
    # `pynchy chat` finds this address here, whatever --port or --socket was given.
    record_endpoint(ctx.paths, host=listen.host, port=listen.port, socket=listen.socket)
    log.info("api listening url=%s token_file=%s", listen.url(), ctx.paths.api_token_file)
    stop = asyncio.Event()
    restart: list[bool] = []  # POST /admin/update changed the install: exit to be restarted

    def restart_after_update() -> None:
        restart.append(True)
        stop.set()

    try:
        admin = await start_admin(ctx.settings.admin, ctx.paths.data_dir, restart_after_update)
    except UnavailableError:
        await runner.cleanup()
        remove_endpoint(ctx.paths)
        raise
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("stopping: draining running agents")
        try:
            await service.drain(DRAIN_SECONDS)
            service.bus.close()  # end the event streams, or clients hold the stop up
            await runner.cleanup()
            if admin is not None:
                await admin.cleanup()
        finally:
            remove_endpoint(ctx.paths)  # no longer listening
            # finished runs' containers, removed in the background: gone before serve is
            await asyncio.to_thread(wait_for_removals)
    if restart:
        log.info("exiting with code %d to be restarted after the update", RESTART_EXIT_CODE)
        return RESTART_EXIT_CODE
    return 0
