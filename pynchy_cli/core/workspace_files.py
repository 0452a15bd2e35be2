"""Safe host-side access to folders a container can write (a group's workspace).

A container may plant a symlink (to /proc/self/environ, to the host's config.toml), a FIFO,
a device or a huge file anywhere in its workspace. The host reads and writes there only
through these functions. Every path is relative to a root folder and is opened one
component at a time from the root's descriptor with O_NOFOLLOW, so no symlink on the way is
followed and nothing resolves outside the root (`..` and absolute paths are refused before
any lookup). Only regular files are read: the file is lstat-ed, opened non-blocking (a FIFO
cannot hang the host) and fstat-ed again, and reads stop at a byte cap. Writes go to a new
temporary file in the same folder (O_EXCL|O_NOFOLLOW) renamed over the name, which replaces
a planted symlink instead of writing through it.

Refusals raise UnsafePath, whose one-line message names the path relative to the root,
never what a symlink points at.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.errors import DeniedError

SYMLINK = "is a symlink"
OUTSIDE = "is outside its folder"

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 65536


class UnsafePath(DeniedError):
    """A path the host will not follow: a symlink, a way out of the root, or not a regular
    file (or folder) where one is expected."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path} {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class FileRead:
    data: bytes
    cut: bool  # the file is longer than the cap: data holds its beginning only

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True, order=True)
class Entry:
    name: str
    kind: str  # file | folder | symlink | other


def parts_of(rel: str | Path) -> list[str]:
    """The components of a path relative to a root; UnsafePath if it is absolute or
    climbs out with `..`."""
    text = str(rel)
    if "\x00" in text:
        raise UnsafePath(repr(text), "is not a valid path")
    if text.startswith("/"):
        raise UnsafePath(text, OUTSIDE)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(text, OUTSIDE)
    return parts


def _kind_problem(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISDIR(mode):
        return "is a folder"
    if stat.S_ISFIFO(mode):
        return "is a FIFO, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "is not a regular file"


def _refusal(dir_fd: int, name: str, rel: str, exc: OSError) -> OSError:
    """Why opening `name` as a folder failed: a symlink or a non-folder is UnsafePath,
    anything else (missing, no permission) the OSError itself."""
    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
        return exc
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return exc
    return UnsafePath(rel, SYMLINK if stat.S_ISLNK(mode) else "is not a folder")


@contextmanager
def _folder(root: Path, parts: list[str], *, create: bool = False) -> Iterator[int]:
    """A descriptor of root/parts, each component opened without following a symlink.
    The root itself is the host's choice and may be reached through symlinks."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, part in enumerate(parts):
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise _refusal(fd, part, "/".join(parts[: i + 1]), exc) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def folder_fd(root: Path, rel: str | Path, *, create: bool = False) -> AbstractContextManager[int]:
    """A context manager for a descriptor of the folder root/rel, opened (or created) one
    component at a time without following a symlink."""
    return _folder(root, parts_of(rel), create=create)


def _open_regular(dir_fd: int, name: str, rel: str) -> int:
    """A read descriptor of the regular file `name`: checked before opening (a device or
    FIFO is never opened for long) and again after (it may have been swapped between)."""
    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    if not stat.S_ISREG(mode):
        raise UnsafePath(rel, _kind_problem(mode))
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(rel, SYMLINK) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnsafePath(rel, _kind_problem(mode))
    return fd


def read_file(root: Path, rel: str | Path, *, max_bytes: int) -> FileRead:
    """At most `max_bytes` of the regular file root/rel. FileNotFoundError if it (or a
    folder on the way) does not exist; UnsafePath if the path is refused."""
    parts = parts_of(rel)
    if not parts:
        raise UnsafePath(str(rel) or ".", "is a folder")
    with _folder(root, parts[:-1]) as dir_fd:
        fd = _open_regular(dir_fd, parts[-1], "/".join(parts))
        try:
            chunks: list[bytes] = []
            left = max_bytes + 1  # one byte more tells whether the file was cut
            while left > 0:
                chunk = os.read(fd, min(_CHUNK, left))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
    data = b"".join(chunks)
    return FileRead(data[:max_bytes], len(data) > max_bytes)


def read_text(root: Path, rel: str | Path, *, max_bytes: int) -> tuple[str, bool]:
    """(text, cut) of root/rel, decoded as UTF-8 with bad bytes replaced."""
    read = read_file(root, rel, max_bytes=max_bytes)
    return read.text(), read.cut


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_file(
    root: Path,
    rel: str | Path,
    data: bytes | str,
    *,
    replace: bool = True,
    make_folders: bool = False,
    mode: int = 0o644,
) -> bool:
    """Write the regular file root/rel without following a symlink at the name or on the
    way. replace=False creates it only if nothing has that name (True if it did).
    make_folders: create missing folders on the way (never through a symlink)."""
    payload = data.encode() if isinstance(data, str) else data
    parts = parts_of(rel)
    if not parts:
        raise UnsafePath(str(rel) or ".", "is a folder")
    name = parts[-1]
    with _folder(root, parts[:-1], create=make_folders) as dir_fd:
        if not replace:
            try:
                fd = os.open(name, _CREATE_FLAGS, mode, dir_fd=dir_fd)
            except FileExistsError:
                return False
            try:
                _write_all(fd, payload)
            finally:
                os.close(fd)
            return True
        temp = f".{name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, _CREATE_FLAGS, mode, dir_fd=dir_fd)
        try:
            try:
                _write_all(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            # rename replaces whatever has the name, a symlink included, and follows nothing
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise
    return True


def _entry_kind(entry: os.DirEntry) -> str:
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "other"


def list_folder(root: Path, rel: str | Path = "") -> list[Entry]:
    """The entries of the folder root/rel, sorted by name, symlinks reported as such and
    never followed. FileNotFoundError if it does not exist."""
    with _folder(root, parts_of(rel)) as dir_fd, os.scandir(dir_fd) as entries:
        return sorted(Entry(e.name, _entry_kind(e)) for e in entries)


def list_files(
    root: Path, rel: str | Path = "", *, skip: frozenset[str] = frozenset(), limit: int = 1000
) -> tuple[list[str], bool]:
    """(paths, more): the regular files under root/rel, relative to it and sorted;
    symlinks and names in `skip` are left out; `more` when there were over `limit`."""
    base = parts_of(rel)
    found: list[str] = []
    pending: list[list[str]] = [[]]
    while pending:
        sub = pending.pop()
        folders = []
        for entry in list_folder(root, "/".join(base + sub)):
            if entry.name in skip:
                continue
            if entry.kind == "folder":
                folders.append([*sub, entry.name])
            elif entry.kind == "file":
                if len(found) >= limit:
                    return sorted(found), True
                found.append("/".join([*sub, entry.name]))
        pending.extend(reversed(folders))
    return sorted(found), False
