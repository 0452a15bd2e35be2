"""Running the service: logging, the API listener, signals, draining on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import signal
from dataclasses import dataclass

from aiohttp import web

from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.file_modes import PRIVATE_FILE, private_dir, tighten
from pynchy_cli.core.serve.api import ensure_token, make_app
from pynchy_cli.core.serve.service import Service

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


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are 600: each new one after a rotation too."""

    def _open(self):  # type: ignore[no-untyped-def]  # the stdlib's hook for opening
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


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
) -> None:
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
    log.info("api listening url=%s token_file=%s", listen.url(), ctx.paths.api_token_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("stopping: draining running agents")
        await service.drain(DRAIN_SECONDS)
        await runner.cleanup()
