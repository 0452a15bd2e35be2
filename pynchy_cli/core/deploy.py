"""`pynchy deploy`: run pyinfra's CLI on an inventory with the deploy in deploy/pynchy.py.

pyinfra runs as a child process (`python -m pyinfra`, from the same interpreter) so its
output, prompts and exit status are its own; the deploy writes a JSON report of what each
operation did on each host (deploy/util/report.py) that this module reads back to summarize
the changes per host and to name the operation that failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pynchy_cli
from pynchy_cli.core.errors import NotFoundError, PynchyError, UnavailableError, UsageError

DEPLOY_FILE = Path("deploy") / "pynchy.py"
INVENTORY_DIR = Path("inventories")
DEFAULT_INVENTORY = "local"
REPORT_ENV = "PYNCHY_DEPLOY_REPORT"
_TAIL_LINES = 200


class DeployFailed(PynchyError):
    """pyinfra ran and a host or an operation failed."""


@dataclass(frozen=True)
class OpResult:
    op: str
    status: str  # changed unchanged error would-change may-change no-change not-run


@dataclass
class HostResult:
    name: str
    failed: bool = False
    ops: list[OpResult] = field(default_factory=list)

    def with_status(self, *statuses: str) -> list[str]:
        return [o.op for o in self.ops if o.status in statuses]


@dataclass
class DeployResult:
    returncode: int
    dry: bool
    hosts: list[HostResult]
    failed_ops: list[tuple[str, str]]  # (host, operation)
    error: str | None  # pyinfra's own last error line, if any

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def changed(self) -> int:
        states = ("would-change",) if self.dry else ("changed",)
        return sum(len(h.with_status(*states)) for h in self.hosts)


def find_checkout(start: Path | None = None) -> Path:
    """The pynchy source checkout holding deploy/ and inventories/.

    The checkout pynchy is installed from (editable installs) comes first, then the current
    folder and its parents.
    """
    candidates = [Path(pynchy_cli.__file__).resolve().parent.parent]
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents]
    for folder in candidates:
        if (folder / DEPLOY_FILE).is_file():
            return folder
    raise NotFoundError(
        "no pynchy checkout with deploy/pynchy.py found (pynchy is not installed from one, "
        f"and {here} is not inside one)",
        "Run pynchy deploy from a clone of pynchy's repository",
    )


def resolve_inventory(name: str | None, checkout: Path) -> Path | str:
    """An inventory file: a path, or a name in the checkout's inventories/ (default: local).

    pyinfra's connector syntax (`@local`, `@ssh/HOST`, `@chroot/PATH`, ...) passes through as
    an inline inventory of one host, with the deploy's default data.
    """
    folder = checkout / INVENTORY_DIR
    name = name or DEFAULT_INVENTORY
    if name.startswith("@"):
        return name
    given = Path(name).expanduser()
    candidates = [given] if given.suffix == ".py" or "/" in name else []
    candidates += [folder / f"{name}.py", folder / name]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    known = sorted(p.stem for p in folder.glob("*.py")) if folder.is_dir() else []
    hint = (
        f"Inventories in {folder}: {', '.join(known)}; or give a path to an inventory file"
        if known
        else "Give the path to a pyinfra inventory file"
    )
    raise NotFoundError(f"inventory {name} not found", hint)


def pyinfra_command(
    inventory: Path | str,
    deploy_file: Path,
    *,
    dry: bool = False,
    yes: bool = False,
    limit: list[str] | None = None,
    diff: bool = False,
    verbose: int = 0,
) -> list[str]:
    cmd = [sys.executable, "-m", "pyinfra", str(inventory), str(deploy_file)]
    if dry:
        cmd.append("--dry")
    if yes:
        cmd.append("-y")
    if diff:
        cmd.append("--diff")
    for host in limit or []:
        cmd += ["--limit", host]
    if verbose:
        cmd.append("-" + "v" * min(verbose, 3))
    return cmd


def _pyinfra_available() -> None:
    try:
        import pyinfra  # noqa: F401
    except ImportError as exc:
        raise UnavailableError(
            "pyinfra is not installed in pynchy's environment",
            f"Install it: {sys.executable} -m pip install pyinfra",
        ) from exc


def run_deploy(
    inventory: str | None = None,
    *,
    dry: bool = False,
    yes: bool = False,
    limit: list[str] | None = None,
    diff: bool = False,
    verbose: int = 0,
    interactive: bool = True,
    checkout: Path | None = None,
    on_output: Callable[[bytes], None] | None = None,
) -> DeployResult:
    """Run the deploy and return what it did; raise DeployFailed if it failed.

    `on_output` receives pyinfra's output as it comes (stdout and stderr together).
    Without `yes` (and without `dry`) pyinfra asks before changing anything, so a terminal
    is needed: `interactive` says whether there is one.
    """
    checkout = checkout or find_checkout()
    path = resolve_inventory(inventory, checkout)
    if not yes and not dry and not interactive:
        raise UsageError(
            "pyinfra asks for confirmation before changing hosts, and there is no terminal",
            "Pass -y to deploy without asking, or --dry to see what would change",
        )
    _pyinfra_available()
    cmd = pyinfra_command(
        path, checkout / DEPLOY_FILE, dry=dry, yes=yes, limit=limit, diff=diff, verbose=verbose
    )
    with tempfile.TemporaryDirectory(prefix="pynchy-deploy-") as tmp:
        report_path = Path(tmp) / "report.json"
        env = dict(os.environ, **{REPORT_ENV: str(report_path)})
        returncode, tail = _stream(cmd, checkout, env, on_output)
        report = _read_report(report_path)
    result = DeployResult(
        returncode=returncode,
        dry=dry,
        hosts=[
            HostResult(
                name,
                failed=bool(h.get("failed")),
                ops=[OpResult(o["op"], o["status"]) for o in h.get("ops", [])],
            )
            for name, h in report.get("hosts", {}).items()
        ],
        failed_ops=[(f["host"], f["op"]) for f in report.get("failed_ops", [])],
        error=_pyinfra_error(tail),
    )
    if returncode != 0 or result.failed_ops:
        raise DeployFailed(_failure_line(result, tail), _failure_hint(result))
    return result


def _stream(
    cmd: list[str], cwd: Path, env: dict[str, str], on_output: Callable[[bytes], None] | None
) -> tuple[int, list[str]]:
    """Run `cmd`, pass its output on as it comes, keep the last lines for the error message."""
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    except OSError as exc:
        raise UnavailableError(f"cannot run pyinfra ({exc.strerror})") from exc
    assert proc.stdout is not None
    pending = b""
    tail: list[str] = []
    try:
        while True:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            if on_output:
                on_output(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            tail.extend(line.decode(errors="replace") for line in lines)
            del tail[:-_TAIL_LINES]
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    finally:
        proc.stdout.close()
    if pending:
        tail.append(pending.decode(errors="replace"))
    return proc.wait(), tail


def _read_report(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_ERROR = re.compile(r"^--> pyinfra error(?: in .*? line \d+)?: (?P<msg>.*)$")
_HOST_LINE = re.compile(r"^\s+\[(?P<host>[^\]]+)\] (?P<msg>.+)$")
_BENIGN = ("Connected", "Ready:", "Success", "No changes", "Loading", "Loaded fact")


def _pyinfra_error(tail: list[str]) -> str | None:
    for line in reversed(tail):
        match = _ERROR.match(line.rstrip())
        if match:
            return match.group("msg").strip()
    return None


def _first_host_problem(tail: list[str]) -> str | None:
    """A host's own message before "No hosts remaining!" (a failed connection)."""
    for line in tail:
        match = _HOST_LINE.match(line)
        if match and not match.group("msg").startswith(_BENIGN):
            return f"{match.group('host')}: {match.group('msg').strip()}"
    return None


def _failure_line(result: DeployResult, tail: list[str]) -> str:
    if result.failed_ops:
        seen: dict[str, list[str]] = {}
        for host, op in result.failed_ops:
            seen.setdefault(op, []).append(host)
        parts = [f'operation "{op}" failed on {", ".join(hosts)}' for op, hosts in seen.items()]
        return "deploy failed: " + "; ".join(parts)
    error = result.error
    if error and error.rstrip("!") == "No hosts remaining":
        problem = _first_host_problem(tail)
        if problem:
            return f"deploy failed: no host left to deploy to ({problem})"
    if error:
        return f"deploy failed: {error}"
    return f"deploy failed: pyinfra exited with status {result.returncode}"


def _failure_hint(result: DeployResult) -> str:
    if result.failed_ops:
        return "pyinfra's output above shows the command and its error; fix it and run again"
    return "See pyinfra's output above"
