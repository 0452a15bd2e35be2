"""Who the agent is on the host: the uid:gid its container runs as, and the files it gets.

pynchy run by an ordinary user: the agent runs as that user's uid:gid, with the user's own
file permissions and nothing more. pynchy run by root: the agent runs as `agent_uid`
(default 10001, gid the same; no host account needed), never as root. The host then hands
each workspace it made (under the data folder's groups/) to that uid (chowned once, when
its top folder is not the agent's yet), keeps the global memory readable by it, and refuses
a workspace elsewhere (`groups add --folder`) or a read-write extra mount that uid cannot
write: pynchy never changes the owner of a folder a person brought.

A rootless engine maps the uid itself (see core/runtimes/engine.py). The process runtime
(development only) runs the agent as pynchy's own user: it gets no AgentUser.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.agent.mounts import resolve_mounts
from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import DeniedError
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.runtimes.base import Mount


@dataclass(frozen=True)
class AgentUser:
    uid: int
    gid: int

    @property
    def spec(self) -> str:
        return f"{self.uid}:{self.gid}"

    @property
    def is_host_user(self) -> bool:
        """The agent has pynchy's own uid: its files are already the agent's."""
        return self.uid == os.geteuid()


def agent_user(settings: Settings) -> AgentUser:
    if os.geteuid() == 0:
        return AgentUser(settings.agent_uid, settings.agent_uid)
    return AgentUser(os.geteuid(), os.getegid())


def hand_over(user: AgentUser | None, workspace: Path, paths: Paths) -> None:
    """Before a run: the workspace the agent's own (or refused, if a person's folder it
    cannot write), the global memory readable by it."""
    if user is None or user.is_host_user:
        return
    groups = Path(os.path.realpath(paths.groups_dir))
    if groups in Path(os.path.realpath(workspace)).parents:
        give_tree(workspace, user)
    else:
        refuse_unwritable(workspace, user, "the workspace")
    _readable_by_others(paths.global_memory_dir)


def give_tree(folder: Path, user: AgentUser) -> None:
    """Chown a workspace to the agent: the whole tree when its top folder is not the
    agent's yet (the first run), otherwise only the top folder's entries that are not
    (files the host made there since, such as a new memory file). Symlinks are chowned
    themselves, never followed, and every name is taken relative to its folder's open
    descriptor: a container writes this tree and may swap a folder for a link mid-walk."""
    if os.lstat(folder).st_uid != user.uid:
        os.chown(folder, user.uid, user.gid, follow_symlinks=False)
        for _, dirs, files, dir_fd in os.fwalk(folder, follow_symlinks=False):
            _chown_names(dir_fd, [*dirs, *files], user)
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        _chown_names(fd, os.listdir(fd), user)
    finally:
        os.close(fd)


def _chown_names(dir_fd: int, names: list[str], user: AgentUser) -> None:
    """Chown each name in the open folder `dir_fd` that the agent does not own yet."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile by the agent
            if os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_uid != user.uid:
                os.chown(name, user.uid, user.gid, dir_fd=dir_fd, follow_symlinks=False)


def _readable_by_others(folder: Path) -> None:
    """o+r on files, o+rx on folders: the global memory is the host's (mounted read-only),
    and a restrictive umask must not hide it from the agent."""
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        for name, bits in [(n, 0o005) for n in dirs] + [(n, 0o004) for n in files]:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode) and mode & bits != bits:
                os.chmod(path, stat.S_IMODE(mode) | bits)
    mode = os.lstat(folder).st_mode
    if mode & 0o005 != 0o005:
        os.chmod(folder, stat.S_IMODE(mode) | 0o005)


def writable_by(path: Path, user: AgentUser) -> bool:
    """Can `user` create files in folder `path`? Asked of the kernel (modes, groups, ACLs)
    by `test -w` run as that user from inside the folder, so the folders above it, which a
    container never walks through, do not count."""
    if user.is_host_user:
        return True
    try:
        done = subprocess.run(
            ["test", "-w", ".", "-a", "-x", "."],
            cwd=path,
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


def refuse_unwritable(folder: Path, user: AgentUser, what: str) -> None:
    """A folder the agent must write but cannot: one line and how to fix it."""
    if not writable_by(folder, user):
        raise DeniedError(
            f"{what} {folder} is not writable by the agent (uid {user.uid})",
            f"Let it: chown -R {user.spec} {folder}, or setfacl -R -m u:{user.uid}:rwX"
            f" -m d:u:{user.uid}:rwX {folder}",
        )


def refuse_unwritable_mounts(mounts: list[Mount], user: AgentUser | None) -> None:
    if user is not None:
        for mount in mounts:
            if not mount.read_only:
                refuse_unwritable(Path(mount.source), user, "read-write mount")


def check_group_request(
    settings: Settings, paths: Paths, folder: Path | None, mounts: list[str]
) -> None:
    """At `groups add`: refuse now what every run would refuse, a person's existing folder
    or a read-write mount the agent cannot write."""
    if settings.runtime == "process":
        return
    user = agent_user(settings)
    if folder is not None and not user.is_host_user:
        target = Path(os.path.realpath(folder.expanduser()))
        groups = Path(os.path.realpath(paths.groups_dir))
        if target.is_dir() and groups not in target.parents:
            refuse_unwritable(target, user, "the workspace")
    if mounts:
        refuse_unwritable_mounts(resolve_mounts(paths, mounts), user)
