"""Updating pynchy where it is installed, for `POST /admin/update`.

How pynchy is installed decides how it is updated (`find_install`):
- a git checkout (`[admin] install_dir`, an install from a local folder that is a git
  checkout, e.g. `pip install -e .` as scripts/install does, or pynchy run from its source):
  `git pull --ff-only` there, refused when the tree has local changes; a non-editable install
  is then reinstalled from the folder, an editable one only when pyproject.toml changed;
- a package from a git URL or an index: `python -m pip install --upgrade` of the same source;
- a wheel or archive file (what `pynchy deploy` uploads by default) has nothing newer to
  upgrade to: refused, update it with `pynchy deploy`.

Refusals (dirty tree, a pull that cannot fast-forward) are UpdateRefused, one line; git or
pip that cannot run at all is UpdateFailed. Nothing restarts on either.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from pynchy_cli.core.errors import ConflictError, PynchyError

DISTRIBUTION = "pynchy"
# EX_TEMPFAIL: `pynchy serve` exits with it after an update; any non-zero exit makes
# systemd's Restart=on-failure (the deployed unit) start it again.
RESTART_EXIT_CODE = 75
SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the folder holding pynchy_cli/


class UpdateRefused(ConflictError):
    """The install is not in a state to update (HTTP 409); nothing was changed."""


class UpdateFailed(PynchyError):
    """git or pip could not run or did not finish (HTTP 500)."""


@dataclass(frozen=True)
class Install:
    kind: str  # checkout | package
    where: str  # the checkout's folder, or the pip requirement to upgrade
    editable: bool = True  # a checkout whose code is imported from the folder itself
    refusal: str | None = None  # why this install cannot be updated in place


@dataclass(frozen=True)
class UpdateResult:
    changed: bool
    before: str
    after: str
    how: str  # the command that updated it

    def as_dict(self) -> dict[str, object]:
        return {"updated": self.changed, "from": self.before, "to": self.after, "how": self.how}


def find_install(install_dir: str | None = None) -> Install:
    """How this pynchy is installed; `install_dir` ([admin] install_dir) names a checkout."""
    if install_dir:
        return Install("checkout", str(Path(install_dir).expanduser().resolve()))
    origin = _direct_url()
    if origin is None:  # from an index, or not installed (run from its source)
        try:
            md.distribution(DISTRIBUTION)
        except md.PackageNotFoundError:
            if _is_checkout(SOURCE_ROOT):
                return Install("checkout", str(SOURCE_ROOT))
            return Install("package", DISTRIBUTION, refusal="pynchy is not installed by pip")
        return Install("package", DISTRIBUTION)
    url = str(origin.get("url", ""))
    if "vcs_info" in origin:
        vcs = origin["vcs_info"]
        revision = vcs.get("requested_revision")
        spec = f"{vcs.get('vcs', 'git')}+{url}" + (f"@{revision}" if revision else "")
        return Install("package", spec)
    folder = _local_path(url)
    if "dir_info" in origin and folder and _is_checkout(Path(folder)):
        editable = bool(origin["dir_info"].get("editable"))
        return Install("checkout", folder, editable=editable)
    what = f"the folder {folder}" if "dir_info" in origin else f"the file {folder or url}"
    return Install(
        "package",
        url,
        refusal=f"pynchy was installed from {what}, which has no newer version to pull; "
        "update it with pynchy deploy (or install from a git checkout or URL)",
    )


def update(install: Install, *, timeout: float = 300) -> UpdateResult:
    """Pull or upgrade; UpdateRefused or UpdateFailed (one line) when it cannot."""
    if install.refusal:
        raise UpdateRefused(install.refusal)
    if install.kind == "checkout":
        return _pull(Path(install.where), install.editable, timeout)
    return _upgrade(install.where, timeout)


# --- a git checkout ----------------------------------------------------------------------


def _pull(folder: Path, editable: bool, timeout: float) -> UpdateResult:
    if not folder.is_dir():
        raise UpdateRefused(f"the install folder {folder} does not exist")
    top = _git(folder, ["rev-parse", "--show-toplevel"], timeout, check=False)
    if top.returncode != 0:
        raise UpdateRefused(f"{folder} is not a git checkout")
    changes = _git(folder, ["status", "--porcelain", "--untracked-files=no"], timeout).stdout
    if changes.strip():
        files = [line[3:] for line in changes.splitlines()]
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        raise UpdateRefused(
            f"the checkout {folder} has local changes ({shown}); commit or discard them first"
        )
    before = _head(folder, timeout)
    pulled = _git(folder, ["pull", "--ff-only"], timeout, check=False)
    if pulled.returncode != 0:
        why = _last_line(pulled.stderr or pulled.stdout) or f"exit code {pulled.returncode}"
        raise UpdateRefused(f"git pull --ff-only in {folder} failed: {why}")
    after = _head(folder, timeout)
    how = f"git pull --ff-only in {folder}"
    if before != after:
        changed = _git(folder, ["diff", "--name-only", before, after], timeout).stdout.split()
        if not editable or "pyproject.toml" in changed:  # new code to install, or new deps
            try:
                _pip(["install", *([] if not editable else ["-e"]), str(folder)], timeout)
            except UpdateFailed as exc:  # the checkout moved: say so, nothing restarts
                raise UpdateFailed(
                    f"pulled {before[:12]}..{after[:12]} in {folder}, then {exc.message}",
                    "Fix the install by hand, then restart pynchy serve",
                ) from exc
            how += f", then pip install {'-e ' if editable else ''}{folder}"
    return UpdateResult(before != after, before, after, how)


def _head(folder: Path, timeout: float) -> str:
    return _git(folder, ["rev-parse", "HEAD"], timeout).stdout.strip()


def _git(
    folder: Path, args: list[str], timeout: float, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    # No prompt for credentials: nobody is at a terminal to answer it.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise UpdateFailed("git is not installed", "Install git on this machine") from exc
    except subprocess.TimeoutExpired as exc:
        raise UpdateFailed(f"git {args[0]} took longer than {timeout:.0f}s") from exc
    if check and done.returncode != 0:
        why = _last_line(done.stderr) or f"exit code {done.returncode}"
        raise UpdateFailed(f"git {' '.join(args)} in {folder} failed: {why}")
    return done


def _is_checkout(folder: Path) -> bool:
    return (folder / ".git").exists()


# --- a pip package -------------------------------------------------------------------------


def _upgrade(spec: str, timeout: float) -> UpdateResult:
    before = _installed_version()
    _pip(["install", "--upgrade", spec], timeout)
    after = _installed_version()
    return UpdateResult(before != after, before, after, f"pip install --upgrade {spec}")


def _installed_version() -> str:
    """The version, with the commit when installed from a git URL."""
    try:
        version = md.version(DISTRIBUTION)
    except md.PackageNotFoundError:
        return "(not installed)"
    commit = ((_direct_url() or {}).get("vcs_info") or {}).get("commit_id")
    return f"{version} ({commit[:12]})" if commit else version


def _pip(args: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", *args, "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise UpdateFailed(f"pip {args[0]} took longer than {timeout:.0f}s") from exc
    if done.returncode != 0:
        why = _last_line(done.stderr or done.stdout) or f"exit code {done.returncode}"
        raise UpdateFailed(f"pip {' '.join(args)} failed: {why}")


def _direct_url() -> dict | None:
    """PEP 610's record of where the installed distribution came from (None: an index)."""
    try:
        text = md.distribution(DISTRIBUTION).read_text("direct_url.json")
    except md.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _local_path(url: str) -> str | None:
    parsed = urlparse(url)
    return unquote(parsed.path) if parsed.scheme == "file" else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
