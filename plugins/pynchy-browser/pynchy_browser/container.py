"""The browser containers: one per group, started on first use, found again by name.

Each runs the browser image unprivileged (the image's `browser` user, every capability
dropped, no-new-privileges), with a read-only root file system and its profile in a tmpfs,
a memory and process limit, no host folder mounted, and its DevTools port published on the
host's 127.0.0.1 only. Its network is the engine's default (or [plugin.browser] network);
the agent's own container stays offline. The container stops itself after idle_timeout
seconds without use (recipe/entrypoint.py) and is removed when it stops (--rm); its
DevTools answer only connections that carry the host's access token. It carries
pynchy's run and group labels, so pynchy's orphan cleanup removes one a crash left behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass

from pynchy_browser.config import BrowserConfig
from pynchy_browser.image import build_image, engine_argv
from pynchy_browser.stamp import RunStamp
from pynchy_cli import GROUP_LABEL, RUN_LABEL, UnavailableError

DEVTOOLS_PORT = 9222  # inside the container
TOKEN_ENV = "PYNCHY_BROWSER_TOKEN"  # the DevTools access token, read by the entrypoint
BROWSER_LABEL = "pynchy.browser"
TMPFS_SIZE = "512m"
PIDS_LIMIT = 1024
ENGINE_TIMEOUT = 120.0  # seconds for one engine command (not a build)


@dataclass(frozen=True)
class Running:
    name: str
    port: int  # on the host's 127.0.0.1
    owned: bool  # this process started it, so it stops it


def container_name(group: str, workspace: str) -> str:
    """Per group and pynchy home: two homes on one engine may both have a group `main`."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", group.lower()).strip("-.")[:40] or "group"
    digest = hashlib.sha256(f"{group}\0{workspace}".encode()).hexdigest()[:10]
    return f"pynchy-browser-{slug}-{digest}"


def run_argv(config: BrowserConfig, name: str, stamp: RunStamp) -> list[str]:
    memory = config.memory
    argv = [
        "run",
        "--detach",
        "--rm",
        "--name",
        name,
        "--label",
        f"{BROWSER_LABEL}=1",
        "--label",
        f"{RUN_LABEL}={stamp.run_id}",
        "--label",
        f"{GROUP_LABEL}={stamp.group}",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--read-only",
        "--tmpfs",
        f"/tmp:rw,nosuid,nodev,size={TMPFS_SIZE},mode=1777",
        "--memory",
        memory,
        "--memory-swap",
        memory,
        "--pids-limit",
        str(PIDS_LIMIT),
        "--publish",
        f"127.0.0.1::{DEVTOOLS_PORT}",
        "--env",
        TOKEN_ENV,  # its value from the engine command's environment, not its command line
    ]
    if config.network:
        argv += ["--network", config.network]
    return [
        *argv,
        config.image,
        "--idle",
        f"{config.idle_timeout:g}",
        "--window",
        config.window,
    ]


class Containers:
    def __init__(self, config: BrowserConfig):
        self.config = config

    async def _engine(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            *engine_argv(self.config.engine),
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env} if env else None,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), ENGINE_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            return -9, f"{self.config.engine} {args[0]} did not finish"
        return process.returncode or 0, out.decode(errors="replace").strip()

    async def port_of(self, name: str) -> int | None:
        """The host port of a running container's DevTools; None when it is not running."""
        code, out = await self._engine("port", name, f"{DEVTOOLS_PORT}/tcp")
        match = re.search(r"127\.0\.0\.1:(\d+)", out) if code == 0 else None
        return int(match.group(1)) if match else None

    async def ensure_image(self) -> None:
        config = self.config

        def build() -> None:
            say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
            build_image(config.engine, config.image, config.base, on_line=say)

        await asyncio.to_thread(build)  # skipped at once while the image is current

    async def start(self, stamp: RunStamp, token: str, *, fresh: bool = False) -> Running:
        """The group's running browser, started (image built first if need be) if none is;
        `fresh`: remove the one running first (its token is not this host's)."""
        name = container_name(stamp.group, stamp.workspace)
        port = None if fresh else await self.port_of(name)
        if port is not None:
            return Running(name, port, owned=False)
        if fresh:
            await self.remove(name)
        await self.ensure_image()
        argv, env = run_argv(self.config, name, stamp), {TOKEN_ENV: token}
        code, out = await self._engine(*argv, env=env)
        if code != 0 and "already in use" in out:  # a stopped one not yet removed
            await self.remove(name)
            code, out = await self._engine(*argv, env=env)
        port = await self.port_of(name) if code == 0 else None
        if port is None:
            last = out.splitlines()[-1] if out else "no output"
            raise UnavailableError(
                f"the browser container did not start ({last})",
                f"Check `{self.config.engine} logs {name}` and [plugin.browser]",
            )
        return Running(name, port, owned=True)

    async def remove(self, name: str) -> None:
        await self._engine("rm", "--force", "--time", "3", name)

    def remove_detached(self, names: list[str]) -> None:
        """Remove containers without waiting, in a process group of its own: used as the
        MCP server exits, when pynchy may kill this process's group moments later."""
        if not names:
            return
        argv = [*engine_argv(self.config.engine), "rm", "--force", "--time", "3", *names]
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
