"""`pynchy deploy`: run pyinfra's CLI on an inventory with the deploy in deploy/pynchy.py.

pyinfra runs as a child process (`python -m pyinfra`, from the same interpreter) so its
output, prompts and exit status are its own; the deploy writes a JSON report of what each
operation did on each host (deploy/util/report.py) that this module reads back to summarize
the changes per host and to name the operation that failed. Before it starts, an inventory
file's syntax is checked (one line naming file:line instead of pyinfra's "internal
exception"), and an empty ~/.ssh/known_hosts is created if there is none (pyinfra cannot
record a new host's key without it). pyinfra's own pyinfra-debug.log is moved out of the
checkout into the temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynchy_cli
from pynchy_cli.core.errors import (
    ConfigError,
    NotFoundError,
    PynchyError,
    UnavailableError,
    UsageError,
)

DEPLOY_FILE = Path("deploy") / "pynchy.py"
INVENTORY_DIR = Path("inventories")
DEFAULT_INVENTORY = "local"
REPORT_ENV = "PYNCHY_DEPLOY_REPORT"
DEBUG_LOG = "pyinfra-debug.log"  # pyinfra writes it into its working folder on a crash
KEPT_DEBUG_LOG = Path(tempfile.gettempdir()) / "pynchy-deploy-debug.log"
_TAIL_LINES = 200
_DATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


def parse_data(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings as inventory data: true/false, null, numbers and JSON lists or
    objects become those; anything else stays a string ("2222" is a number, "abc" a string).
    """
    data: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not _DATA_KEY.match(key):
            raise UsageError(
                f"--data {item!r} is not KEY=VALUE",
                "Give a data key and its value, e.g. --data pynchy_start_services=false "
                'or --data \'pynchy_config={"model": "echo"}\'',
            )
        data[key] = _data_value(text)
    return data


def _data_value(text: str) -> Any:
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    try:
        return json.loads(text)
    except ValueError:
        return text


def check_inventory(path: Path) -> None:
    """Refuse an inventory file (or a group_data file beside it) that is not valid Python."""
    for file in [path, *sorted((path.parent / "group_data").glob("*.py"))]:
        try:
            compile(file.read_bytes(), str(file), "exec")
        except SyntaxError as exc:
            raise ConfigError(
                f"inventory {exc.filename}:{exc.lineno}: {exc.msg}",
                "Fix the syntax error and run again",
            ) from None
        except (OSError, ValueError):
            continue  # unreadable, or a null byte: pyinfra reports it


def ensure_known_hosts(target: Path | str) -> Path | None:
    """Create an empty ~/.ssh/known_hosts (~/.ssh mode 700, the file 600) if there is none.

    pyinfra's default for a host it has not seen is ssh's StrictHostKeyChecking=accept-new:
    record its key, check it on later connects. It appends to this file and fails when the
    file cannot be opened. Not done for connectors other than @ssh. Returns the file if made.
    """
    if isinstance(target, str) and not target.startswith("@ssh/"):
        return None
    ssh_dir = Path(os.path.expanduser("~")) / ".ssh"
    known = ssh_dir / "known_hosts"
    if known.exists():
        return None
    try:
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        os.close(os.open(known, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError:
        return None  # the connect error then says what to do
    return known


def pyinfra_command(
    inventory: Path | str,
    deploy_file: Path,
    *,
    data: dict[str, Any] | None = None,
    dry: bool = False,
    yes: bool = False,
    limit: list[str] | None = None,
    diff: bool = False,
    verbose: int = 0,
) -> list[str]:
    cmd = [sys.executable, "-m", "pyinfra", str(inventory), str(deploy_file)]
    for key, value in (data or {}).items():
        cmd += ["--data", f"{key}={json.dumps(value)}"]  # pyinfra reads JSON back exactly
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
    data: dict[str, Any] | None = None,
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

    `data` overrides inventory data for every host (pyinfra's --data). `on_output` receives
    pyinfra's output as it comes (stdout and stderr together). Without `yes` (and without
    `dry`) pyinfra asks before changing anything, so a terminal is needed: `interactive` says
    whether there is one.
    """
    checkout = checkout or find_checkout()
    path = resolve_inventory(inventory, checkout)
    if not yes and not dry and not interactive:
        raise UsageError(
            "pyinfra asks for confirmation before changing hosts, and there is no terminal",
            "Pass -y to deploy without asking, or --dry to see what would change",
        )
    _pyinfra_available()
    if isinstance(path, Path):
        check_inventory(path)
    created = ensure_known_hosts(path)
    if created and on_output:
        on_output(
            f"pynchy deploy: created an empty {created}; a new host's key is recorded there "
            "on first connect and checked after\n".encode()
        )
    cmd = pyinfra_command(
        path,
        checkout / DEPLOY_FILE,
        data=data,
        dry=dry,
        yes=yes,
        limit=limit,
        diff=diff,
        verbose=verbose,
    )
    debug_log = checkout / DEBUG_LOG
    before = _mtime(debug_log)
    with tempfile.TemporaryDirectory(prefix="pynchy-deploy-") as tmp:
        report_path = Path(tmp) / "report.json"
        env = dict(os.environ, **{REPORT_ENV: str(report_path)})
        try:
            returncode, tail = _stream(cmd, checkout, env, on_output)
        finally:
            kept = _move_debug_log(debug_log, before)
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
        line = _failure_line(result, tail)
        if kept:
            line += f" (pyinfra's traceback: {kept})"
        raise DeployFailed(line, _failure_hint(result, line))
    return result


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _move_debug_log(path: Path, before: float | None) -> Path | None:
    """Move a pyinfra-debug.log this run wrote out of the checkout; where it went, if it did."""
    after = _mtime(path)
    if after is None or after == before:
        return None
    try:
        shutil.move(path, KEPT_DEBUG_LOG)
    except OSError:
        return None
    return KEPT_DEBUG_LOG


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
_CRASH = ("--> An internal exception occurred", "--> An exception occurred in: ")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(: .*)?$")
_HOST_LINE = re.compile(r"^\s+\[(?P<host>[^\]]+)\] (?P<msg>.+)$")
_BENIGN = ("Connected", "Ready:", "Success", "No changes", "Loading", "Loaded fact")


def _pyinfra_error(tail: list[str]) -> str | None:
    for line in reversed(tail):
        match = _ERROR.match(line.rstrip())
        if match:
            return match.group("msg").strip()
    return None


def _crash(tail: list[str]) -> str | None:
    """pyinfra's report of an exception (in an inventory, a deploy file or pyinfra itself) as
    one line: `FILE:LINE: ExceptionName: message`, the place left out when it is in pyinfra."""
    starts = [i for i, line in enumerate(tail) if line.startswith(_CRASH)]
    if not starts:
        return None
    body = tail[starts[-1] + 1 :]
    exceptions = [line.strip() for line in body if _EXCEPTION.match(line.strip())]
    if not exceptions:
        return None
    frames = [m for m in map(_FRAME.match, body) if m and "site-packages" not in m["file"]]
    where = f"{frames[-1]['file']}:{frames[-1]['line']}: " if frames else ""
    return where + exceptions[-1]


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
    crash = _crash(tail)
    if crash:
        return f"deploy failed: {crash}"
    error = result.error.rstrip("!") if result.error else None
    if error == "No hosts remaining":
        problem = _first_host_problem(tail)
        if problem:
            return f"deploy failed: no host left to deploy to ({problem})"
    if error:
        return f"deploy failed: {error}"
    return f"deploy failed: pyinfra exited with status {result.returncode}"


def _failure_hint(result: DeployResult, line: str) -> str:
    if result.failed_ops:
        return "pyinfra's output above shows the command and its error; fix it and run again"
    if "known_hosts" in line:
        return (
            "pyinfra records a new host's key in ~/.ssh/known_hosts: create it "
            "(mkdir -p -m 700 ~/.ssh && touch ~/.ssh/known_hosts) or set the data key "
            "ssh_known_hosts_file"
        )
    if "does not match" in line:
        return (
            "The host's SSH key differs from the one in known_hosts: find out why, then "
            "remove the old key (ssh-keygen -R HOST, or -R '[HOST]:PORT')"
        )
    return "See pyinfra's output above"
