"""The `process` runtime: the agent as a plain subprocess. No isolation: development and tests only.

What it cannot do, and what it does instead:
- Mounts cannot be remapped. In-container paths in the spec's environment (a value equal to a
  mount target or under it, such as PYNCHY_SOCKET=/run/pynchy/pynchy.sock or
  PYNCHY_WORKSPACE=/workspace) are rewritten to the mount's host path, and the working
  directory is the host path of the mount at spec.workdir. The agent runner reads every path
  it uses from those variables, so it runs unchanged; a command that hard-codes an
  in-container path does not.
- Read-only mounts, the network switch, the user and the cpu/memory limits are not enforced.
- The child gets a minimal environment (PATH, HOME, LANG, PYTHONUNBUFFERED, plus spec.env),
  never the host's, so the host's API keys do not leak into it.
- `python3` as the command runs this interpreter (sys.executable) with pynchy_agent and
  pynchy_cli on PYTHONPATH, as the agent image has them.

Each child runs in its own session (its pid is its process group id), so stop() ends the
whole tree. Output goes to a log file per child, not to pipes. Processes are tracked in this
instance's memory only.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.errors import ConflictError, UnavailableError
from pynchy_cli.core.runtimes.base import LABEL, ContainerHandle, ContainerSpec, Mount
from pynchy_cli.core.runtimes.common import EXIT_GONE, labels_of
from pynchy_cli.core.runtimes.polling import ExitCodes

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class _Child:
    name: str
    run_id: str
    popen: subprocess.Popen[bytes]
    log: Path


def host_path(path: str, mounts: list[Mount]) -> str | None:
    """The host path that an in-container path maps to, through the deepest mount holding it."""
    best: Mount | None = None
    for mount in mounts:
        target = mount.target.rstrip("/") or "/"
        inside = path == target or path.startswith(target if target == "/" else target + "/")
        if inside and (best is None or len(target) > len(best.target.rstrip("/"))):
            best = mount
    if best is None:
        return None
    rest = path[len(best.target.rstrip("/")) :].lstrip("/")
    return os.path.join(best.source, rest) if rest else best.source


def agent_pythonpath() -> list[str]:
    """Folders that make `pynchy_agent` and `pynchy_cli` importable, as in the agent image."""
    folders: list[str] = []
    for package in ("pynchy_agent", "pynchy_cli"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = str(Path(next(iter(spec.submodule_search_locations))).parent)
        if folder not in folders:
            folders.append(folder)
    return folders


def _exit_status(returncode: int) -> int:
    """As a container engine reports it: killed by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class ProcessRuntime:
    name = "process"
    isolated = False

    def __init__(self, log_dir: str | os.PathLike[str] | None = None):
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="pynchy-process-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self._own_log_dir:
            atexit.register(shutil.rmtree, self.log_dir, ignore_errors=True)
        self._children: dict[str, _Child] = {}
        self._lock = threading.Lock()
        self._exits = ExitCodes()

    # --- building the child ---------------------------------------------------------------

    def environment(self, spec: ContainerSpec) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH") or DEFAULT_PATH,
            "HOME": os.environ.get("HOME") or "/tmp",
            "LANG": os.environ.get("LANG") or "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        for key, value in spec.env.items():
            env[key] = host_path(value, spec.mounts) or value
        if spec.command and spec.command[0] == "python3":
            extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*agent_pythonpath(), *extra]))
        return env

    def command(self, spec: ContainerSpec) -> list[str]:
        if spec.command and spec.command[0] == "python3":
            return [sys.executable, *spec.command[1:]]
        return list(spec.command)

    def workdir(self, spec: ContainerSpec) -> str:
        folder = host_path(spec.workdir, spec.mounts)
        if folder is None:
            raise ValueError(f"workdir {spec.workdir} is not inside any mount of {spec.name}")
        return folder

    # --- the Runtime protocol -------------------------------------------------------------

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        command, env, cwd = self.command(spec), self.environment(spec), self.workdir(spec)
        with self._lock:
            if spec.name in self._children:
                raise ConflictError(f"a process named {spec.name} already exists", "Stop it first")
            log = self.log_dir / (re.sub(r"[^a-zA-Z0-9_.-]", "-", spec.name) + ".log")
            try:
                with log.open("wb") as out:
                    popen = subprocess.Popen(
                        command,
                        env=env,
                        cwd=cwd,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        close_fds=True,
                    )
            except OSError as exc:
                log.unlink(missing_ok=True)
                raise UnavailableError(
                    f"cannot start {command[0]} for {spec.name} ({exc.strerror})",
                    "Check the command and the workspace folder",
                ) from exc
            run_id = labels_of(spec)[LABEL]
            self._children[spec.name] = _Child(spec.name, run_id, popen, log)
        return ContainerHandle(name=spec.name, id=spec.name, runtime=self.name, pid=popen.pid)

    def _child(self, handle: ContainerHandle) -> _Child | None:
        with self._lock:
            return self._children.get(handle.name) or self._children.get(handle.id)

    def wait(self, handle: ContainerHandle, timeout: float | None) -> int | None:
        child = self._child(handle)
        if child is None:  # removed already, or not started here
            code = self._exits.get(handle.name, handle.id)
            return EXIT_GONE if code is None else code
        try:
            return _exit_status(child.popen.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, handle: ContainerHandle, grace: float = 5.0) -> None:
        child = self._child(handle)
        if child is None:
            return
        popen = child.popen
        if popen.poll() is None:
            self._signal(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=max(grace, 0.0))
            except subprocess.TimeoutExpired:
                self._signal(popen.pid, signal.SIGKILL)
                popen.wait()
        # Whatever the child left behind in its session goes too.
        self._signal(popen.pid, signal.SIGKILL)
        self.remove(handle)

    @staticmethod
    def _signal(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def logs(self, handle: ContainerHandle, follow: bool = False) -> Iterator[str]:
        """Lines written so far (follow is accepted for symmetry; the file is read once)."""
        child = self._child(handle)
        if child is None or not child.log.exists():
            return iter(())
        return iter(child.log.read_bytes().decode("utf-8", errors="replace").splitlines())

    def remove(self, handle: ContainerHandle) -> None:
        child = self._child(handle)
        if child is None or child.popen.poll() is None:
            return  # unknown, or still running: a running process is not removed
        self._exits.put((child.name,), _exit_status(child.popen.returncode))
        with self._lock:
            self._children.pop(child.name, None)
        child.log.unlink(missing_ok=True)

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        with self._lock:
            children = list(self._children.values())
        return [
            (c.name, c.run_id, "running" if c.popen.poll() is None else "exited") for c in children
        ]

    def cleanup_orphans(self, keep: set[str]) -> list[str]:
        removed = []
        for name, run_id, _state in self.list_pynchy():
            if run_id not in keep:
                self.stop(ContainerHandle(name, name, self.name), grace=1.0)
                removed.append(name)
        return removed

    def close(self) -> None:
        """Stop every child and remove the log folder this instance made."""
        self.cleanup_orphans(set())
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)
