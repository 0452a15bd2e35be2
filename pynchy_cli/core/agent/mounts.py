"""Extra mounts: folders a group asks for, allowed only by the user's allowlist.

The allowlist lives outside every project and workspace, in the config folder
(`mount-allowlist.toml`), so no agent can widen its own reach:

    [[allow]]
    path = "~/projects"        # this folder and everything under it
    read_write = false         # default: read-only

A group asks with `pynchy groups add NAME --mount PATH[:rw]`. At each run every request is
resolved (symlinks, `..`) and must lie inside an allowed folder; credentials folders such
as ~/.ssh are refused even when an allowed folder contains them. The deepest allowed folder
holding a request decides; `:rw` where it says read-only is refused, never quietly made
read-only. Mounted at /mnt/<folder name>.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.config import read_toml
from pynchy_cli.core.errors import ConfigError, DeniedError
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.runtimes.base import Mount

CREDENTIAL_DIRS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".password-store",
    ".config/gcloud",
    ".config/gh",
    ".config/pynchy",
    ".local/share/pynchy",
)
CREDENTIAL_FILES = (".netrc", ".git-credentials", ".pgpass", ".npmrc", ".pypirc")


@dataclass(frozen=True)
class Allowed:
    path: Path
    read_write: bool


def load_allowlist(paths: Paths) -> list[Allowed]:
    data = read_toml(paths.mount_allowlist)
    entries = data.get("allow", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{paths.mount_allowlist}: 'allow' must be a list of [[allow]] tables")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ConfigError(
                f"{paths.mount_allowlist}: each [[allow]] needs a path",
                'e.g. [[allow]] path = "~/projects"',
            )
        out.append(
            Allowed(
                Path(os.path.realpath(Path(entry["path"]).expanduser())),
                bool(entry.get("read_write", False)),
            )
        )
    return out


def parse_request(text: str) -> tuple[str, bool]:
    """'PATH' or 'PATH:ro' -> read-only, 'PATH:rw' -> read-write."""
    path, _, mode = text.rpartition(":") if text.endswith((":ro", ":rw")) else (text, "", "ro")
    return path, mode == "rw"


def _is_credentials(path: Path) -> bool:
    """A credentials folder or file, anything inside one, or a folder that holds one (such
    as the home folder, which holds ~/.ssh)."""
    home = Path(os.path.realpath(Path.home()))
    known = [home / rel for rel in (*CREDENTIAL_DIRS, *CREDENTIAL_FILES)]
    if any(path == c or c in path.parents for c in known):
        return True
    names = {Path(rel).name for rel in (*CREDENTIAL_DIRS, *CREDENTIAL_FILES) if "/" not in rel}
    if names & set(path.parts):
        return True
    return any(path in c.parents for c in known if c.exists())


def _allowing(allowlist: list[Allowed], path: Path) -> Allowed | None:
    """The entry that decides for a resolved path: the deepest allowed folder holding it,
    so a read-only [[allow]] inside a read-write one keeps its folder read-only."""
    holding = [a for a in allowlist if path == a.path or a.path in path.parents]
    return max(holding, key=lambda a: len(a.path.parts), default=None)


def resolve_mounts(paths: Paths, requests: list[str]) -> list[Mount]:
    if not requests:
        return []
    allowlist = load_allowlist(paths)
    mounts: list[Mount] = []
    seen: set[str] = set()
    for text in requests:
        raw, want_rw = parse_request(text)
        path = Path(os.path.realpath(Path(raw).expanduser()))
        if _is_credentials(path):
            raise DeniedError(
                f"mount {raw} is or holds a credentials folder",
                "Mount a folder without .ssh, .gnupg, .aws and the like",
            )
        entry = _allowing(allowlist, path)
        if entry is None:
            raise DeniedError(
                f"mount {raw} is not in the allowlist",
                f'Add [[allow]] path = "{path}" to {paths.mount_allowlist}',
            )
        if want_rw and not entry.read_write:
            raise DeniedError(
                f"mount {raw} asks for read-write, but the allowlist entry {entry.path} "
                "allows read-only",
                f"Set read_write = true for that entry in {paths.mount_allowlist}, or drop :rw",
            )
        if not path.is_dir():
            raise DeniedError(f"mount {raw} is not a folder", "Mount folders only")
        target = f"/mnt/{path.name}"
        if target in seen:
            raise ConfigError(f"two mounts named {path.name}", "Mount folders with other names")
        seen.add(target)
        mounts.append(Mount(str(path), target, read_only=not want_rw))
    return mounts
