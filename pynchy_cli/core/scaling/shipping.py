"""Shipping a group's workspace to the node its run landed on, and the run's changes back.

Out: serve packs the workspace (and the global memory, which the node mounts read-only) into
a tar: folders, regular files and symlinks as links, never followed; FIFOs, sockets and
devices are left out. The node extracts it with tarfile's `data` filter into a folder of its
own and notes what it unpacked.

Back: once the container has stopped, the node packs only what the run added or changed,
and lists what it deleted. The container is hostile, so serve vets every member with the
`data` filter (no absolute paths, no `..`, no link pointing outside, no device) and writes
through core/workspace_files: one component at a time from the workspace's descriptor,
never following a symlink the agent planted. Entries are handed to the workspace's owner.

Both directions are capped (ray.max_workspace_mb); the tar is held in memory.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pynchy_cli.core.errors import PynchyError, UnavailableError
from pynchy_cli.core.workspace_files import folder_fd, parts_of, write_file

log = logging.getLogger("pynchy.scaling")

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
Signature = tuple  # what tells whether an entry changed: kind, mode, and size+mtime or target


class TooLarge(UnavailableError):
    """A workspace (or a run's changes) larger than may be shipped."""


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result, int, str]]:
    """(relative path, lstat, its folder's descriptor, name) of each entry under root,
    parents before children; folders are entered one component at a time, no link followed."""
    pending = [""]
    while pending:
        rel = pending.pop()
        with folder_fd(root, rel) as fd:
            for name in sorted(os.listdir(fd)):
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                path = f"{rel}/{name}" if rel else name
                yield path, info, fd, name
                if stat.S_ISDIR(info.st_mode):
                    pending.append(path)


def signature(info: os.stat_result, target: str | None = None) -> Signature:
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISDIR(info.st_mode):
        return ("dir", mode)  # a folder's mtime moves with its content: not compared
    if stat.S_ISLNK(info.st_mode):
        return ("link", target)
    return ("file", mode, info.st_size, info.st_mtime_ns)


def snapshot(root: Path) -> dict[str, Signature]:
    """What is under root now: folders, regular files and links, by relative path."""
    seen = {}
    for path, info, fd, name in _walk(root):
        if stat.S_ISLNK(info.st_mode):
            seen[path] = signature(info, os.readlink(name, dir_fd=fd))
        elif stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
            seen[path] = signature(info)
    return seen


def pack(root: Path, *, limit: int, only: set[str] | None = None) -> bytes:
    """A tar of root (or of the paths in `only`); TooLarge past `limit` bytes of content."""
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, info, fd, name in _walk(root):
            if only is not None and path not in only:
                continue
            member = tarfile.TarInfo(path)
            member.mode, member.mtime = stat.S_IMODE(info.st_mode), int(info.st_mtime)
            if stat.S_ISDIR(info.st_mode):
                member.type = tarfile.DIRTYPE
                tar.addfile(member)
            elif stat.S_ISLNK(info.st_mode):
                member.type, member.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=fd)
                tar.addfile(member)
            elif stat.S_ISREG(info.st_mode):
                file_fd = os.open(name, _READ_FLAGS, dir_fd=fd)
                with os.fdopen(file_fd, "rb") as fh:
                    opened = os.fstat(file_fd)
                    if not stat.S_ISREG(opened.st_mode):
                        continue  # swapped for something else meanwhile
                    total += opened.st_size
                    if total > limit:
                        raise TooLarge(
                            f"{root} holds more than {limit >> 20} MB to ship to another node",
                            "Raise ray.max_workspace_mb, or clean the workspace",
                        )
                    member.size = opened.st_size
                    tar.addfile(member, fh)
    return buffer.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    """Extract a tar from serve into a folder of the node's own. What the `data` filter
    refuses (a link an agent planted pointing out of the workspace) is left out."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter=_data_or_skip)


def _data_or_skip(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


def changes(root: Path, before: dict[str, Signature], *, limit: int) -> tuple[bytes, list[str]]:
    """(tar of what is new or changed, paths deleted) since `before`."""
    now = snapshot(root)
    changed = {path for path, sig in now.items() if before.get(path) != sig}
    gone = sorted(path for path in before if path not in now)
    # A deleted folder's entries go with it: list the folder alone.
    deleted = [p for p in gone if not any(p.startswith(d + "/") for d in gone if d != p)]
    return pack(root, limit=limit, only=changed), deleted


def apply(root: Path, data: bytes, deleted: list[str]) -> list[str]:
    """Bring a run's changes into the workspace on serve's machine. Returns the refused
    entries (one line each); the others are applied."""
    refused: list[str] = []
    owner = _owner(root)
    for rel in sorted(deleted, reverse=True):
        try:
            parts = parts_of(rel)
            if parts:
                _remove_entry(root, parts)
        except (OSError, ValueError, PynchyError) as exc:
            refused.append(f"delete {rel[:200]}: {exc}")
    with tempfile.TemporaryDirectory() as empty, tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            try:
                vetted = tarfile.data_filter(member, empty)  # lexical: `empty` holds nothing
                _write_member(root, tar, vetted, owner)
            except (tarfile.TarError, OSError, ValueError, PynchyError) as exc:
                refused.append(f"{member.name[:200]}: {exc}")
    for line in refused:
        log.warning("workspace change refused root=%s %s", root, line)
    return refused


def _owner(root: Path) -> tuple[int, int] | None:
    """Who entries written as root must belong to: the workspace folder's owner."""
    info = os.lstat(root)
    if os.geteuid() != 0 or info.st_uid == 0:
        return None
    return info.st_uid, info.st_gid


def _remove_entry(root: Path, parts: list[str]) -> None:
    """Remove root/parts (a folder with its content), reaching it without following links."""
    try:
        with folder_fd(root, "/".join(parts[:-1])) as fd:
            name = parts[-1]
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(name, dir_fd=fd)
            else:
                os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass


def _write_member(
    root: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, owner: tuple[int, int] | None
) -> None:
    parts = parts_of(member.name)
    if not parts:
        return
    parent, name = "/".join(parts[:-1]), parts[-1]
    with folder_fd(root, parent, create=True) as fd:
        try:
            existing = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISDIR(existing) != member.isdir():
            _remove_entry(root, parts)  # a file became a folder, or the other way round
            existing = None
        mode = member.mode if member.mode is not None else 0o644
        if member.isdir():
            if existing is None:
                os.mkdir(name, 0o755, dir_fd=fd)
            os.chmod(name, mode, dir_fd=fd, follow_symlinks=False)
        elif member.issym():
            if existing is not None:
                os.unlink(name, dir_fd=fd)
            os.symlink(member.linkname, name, dir_fd=fd)
        elif member.isreg():
            source = tar.extractfile(member)
            assert source is not None
            write_file(root, member.name, source.read(), mode=mode)
        if owner is not None:
            os.chown(name, *owner, dir_fd=fd, follow_symlinks=False)
