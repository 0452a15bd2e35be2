"""The browser container's first process (python3's standard library only).

It starts headless chromium with its DevTools endpoint on the container's own loopback and
forwards the container's port 9222 to it: the host publishes that port on its 127.0.0.1
only. A connection is forwarded only when its first request carries the header
X-Pynchy-Browser with the token of $PYNCHY_BROWSER_TOKEN (DevTools itself has no login:
without this, another container on the same bridge, or another user of the host, could
drive this browser). Every byte that passes counts as use; after --idle seconds without
any, or when chromium dies, or on SIGTERM, it stops chromium and exits, and the container
(run with --rm) goes away. So a browser the host forgot (its MCP server killed) still stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import os
import signal
import subprocess
import sys
import time

PUBLIC_PORT = 9222  # what the container exposes
CHROMIUM_PORT = 9223  # chromium's own, on the container's loopback only
BINARIES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
# Debian's chromium, headless and quiet: no calls home, no first-run pages, the profile in
# /tmp (a tmpfs). --no-sandbox: chromium's sandbox needs user namespaces or a setuid helper,
# which this container does not grant (caps dropped, no-new-privileges); the container is
# the sandbox.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--password-store=basic",
    "--user-data-dir=/tmp/profile",
    f"--remote-debugging-port={CHROMIUM_PORT}",
    "--remote-debugging-address=127.0.0.1",
]


TOKEN_ENV = "PYNCHY_BROWSER_TOKEN"
TOKEN_HEADER = b"x-pynchy-browser"
MAX_HEAD = 16384  # bytes of a first request's line and headers
HEAD_TIMEOUT = 10.0
FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def carries_token(head: bytes, token: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == TOKEN_HEADER:
            return hmac.compare_digest(value.strip(), token)
    return False


class Forwarder:
    def __init__(self, token: bytes) -> None:
        self.token = token
        self.last_use = time.monotonic()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        if not carries_token(head, self.token):
            writer.write(FORBIDDEN)
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
            writer.close()
            return
        self.last_use = time.monotonic()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", CHROMIUM_PORT)
        except OSError:
            writer.close()
            return
        up_writer.write(head)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                self.last_use = time.monotonic()
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def chromium_ready(process: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", CHROMIUM_PORT)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return True
    return False


async def main(idle: float, window: str) -> int:
    token = os.environ.pop(TOKEN_ENV, "").encode()  # chromium does not inherit it
    if len(token) < 32:
        print(f"pynchy-browser: no access token in ${TOKEN_ENV}", file=sys.stderr)
        return 2
    binary = next((b for b in BINARIES if os.access(b, os.X_OK)), "chromium")
    os.makedirs("/tmp/home", exist_ok=True)
    process = subprocess.Popen([binary, *FLAGS, f"--window-size={window}", "about:blank"])
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        if not await chromium_ready(process):
            print("pynchy-browser: chromium did not start", file=sys.stderr)
            return 1
        forwarder = Forwarder(token)
        server = await asyncio.start_server(
            forwarder.handle, "0.0.0.0", PUBLIC_PORT, limit=MAX_HEAD
        )
        print(f"pynchy-browser: ready (idle stop after {idle:g}s)", file=sys.stderr, flush=True)
        async with server:
            while not stopping.is_set() and process.poll() is None:
                if time.monotonic() - forwarder.last_use > idle:
                    print("pynchy-browser: idle, stopping", file=sys.stderr, flush=True)
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1.0)
        return 0
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=600.0, help="seconds without use")
    parser.add_argument("--window", default="1280,800", help="width,height of the page")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.idle, args.window)))
