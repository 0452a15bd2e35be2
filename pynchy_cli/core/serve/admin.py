"""The admin listener: `POST /admin/update` pulls (or pip-upgrades) pynchy's install and
restarts serve. Off unless `[admin] listen = "HOST:PORT"` names an address (a tailnet one,
say); it serves nothing else, on that address only, and needs its own token
(DATA/admin-token), so a holder can update pynchy but not read or send messages.

An update that changed something answers first, then serve drains as on SIGTERM and exits
with RESTART_EXIT_CODE (75) for systemd (Restart=on-failure) or a wrapper to start it again.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.serve.api import ensure_token
from pynchy_cli.core.update.install import UpdateFailed, UpdateRefused, find_install, update
from pynchy_cli.core.update.settings import AdminSettings, split_host_port

log = logging.getLogger("pynchy.serve")

ADMIN_TOKEN_FILE = "admin-token"  # in the data folder, 600, made on first use
_WILDCARD = {"0.0.0.0", "::", ""}


def admin_token_file(data_dir: Path) -> Path:
    return data_dir / ADMIN_TOKEN_FILE


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class AdminEndpoint:
    """The update handler; `restart()` is called once an update changed the install."""

    def __init__(self, settings: AdminSettings, token: str, restart: Callable[[], None]):
        self.settings = settings
        self.token = token.encode()
        self.restart = restart
        self.lock = asyncio.Lock()
        self.restarting = False

    def app(self) -> web.Application:
        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            try:
                ok = hmac.compare_digest(given.encode(), self.token)
            except UnicodeEncodeError:
                ok = False
            if not ok:
                return _error(401, "missing or wrong admin token")
            try:
                return await handler(request)
            except web.HTTPException as exc:  # unknown path, wrong method
                if exc.status < 400:
                    raise
                return _error(exc.status, f"{exc.reason.lower()}: {request.method} {request.path}")

        app = web.Application(middlewares=[guard], client_max_size=4096)
        app.router.add_post("/admin/update", self.update)
        return app

    async def update(self, request: web.Request) -> web.StreamResponse:
        if self.restarting:
            return _error(409, "serve is already restarting after an update")
        if self.lock.locked():
            return _error(409, "an update is already running")
        async with self.lock:
            install = find_install(self.settings.install_dir)
            log.info("admin update requested kind=%s where=%s", install.kind, install.where)
            try:
                result = await asyncio.to_thread(update, install, timeout=self.settings.timeout)
            except UpdateRefused as exc:
                log.warning("admin update refused: %s", exc.message)
                return _error(409, exc.message)
            except UpdateFailed as exc:
                log.error("admin update failed: %s", exc.line())
                return _error(500, exc.line())
            body = {**result.as_dict(), "restarting": result.changed}
            if not result.changed:
                log.info("admin update: already up to date (%s)", result.after)
                return web.json_response(body)
            log.info("admin update: %s -> %s; restarting", result.before, result.after)
            self.restarting = True
            response = web.json_response(body)
            await response.prepare(request)  # the answer is out before serve stops
            await response.write_eof()
            self.restart()
            return response


async def start_admin(
    settings: AdminSettings, data_dir: Path, restart: Callable[[], None]
) -> web.AppRunner | None:
    """The admin listener on `[admin] listen`, or None when that is unset."""
    if not settings.listen:
        return None
    host, port = split_host_port(settings.listen)
    if host in _WILDCARD:
        log.warning("admin listener on every address (%s): name one interface", settings.listen)
    token = ensure_token(admin_token_file(data_dir))
    endpoint = AdminEndpoint(settings, token, restart)
    runner = web.AppRunner(endpoint.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise UnavailableError(
            f"cannot listen on {settings.listen} for [admin] ({exc.strerror})",
            "Is that address on this machine (tailscale up?) and the port free? "
            "Or remove [admin] listen",
        ) from exc
    log.info(
        "admin listening on %s (POST /admin/update) token_file=%s",
        settings.listen,
        admin_token_file(data_dir),
    )
    return runner
