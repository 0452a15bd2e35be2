"""Who may read pynchy's files: only the user who runs it.

The data folder holds every message, transcript and the API token, so it is 700 and the
database, its -wal/-shm files, the token and serve's logs are 600. New ones are created that
way; an existing one open to other users is tightened, and the log says so once (the next
time it is already private). config.toml may hold keys: `pynchy doctor` warns when other
users can read it.
"""

from __future__ import annotations

import errno
import logging
import logging.handlers
import os
import stat
from pathlib import Path

from pynchy_cli.core.errors import ConfigError
from pynchy_cli.core.paths import Paths

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OTHERS = 0o077  # the group and world bits

log = logging.getLogger("pynchy.files")


def tighten(path: Path, mode: int, *, quiet: bool = False) -> int | None:
    """Drop the group/world bits beyond `mode` from an existing path. Returns the old mode
    when it changed, None when it was already private or does not exist."""
    try:
        old = stat.S_IMODE(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not old & OTHERS & ~mode:
        return None
    new = old & (mode | ~OTHERS)
    try:
        os.chmod(path, new)
    except OSError as exc:
        log.warning("%s is open to other users (mode %o); cannot tighten it: %s", path, old, exc)
        return None
    if not quiet:
        log.warning("%s was open to other users (mode %o); now %o", path, old, new)
    return old


def private_dir(path: Path, *, quiet: bool = False) -> Path:
    """The folder, created 700 (its missing parents as usual), tightened when it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        if not path.is_dir():  # never chmod a file that stands where the folder should
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
        tighten(path, PRIVATE_DIR, quiet=quiet)
    return path


def private_file(path: Path, *, quiet: bool = False) -> Path:
    """The file, created empty and 600 when missing (never truncated), tightened when not."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        tighten(path, PRIVATE_FILE, quiet=quiet)
    return path


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are 600: each new one after a rotation too."""

    def _open(self):  # type: ignore[no-untyped-def]  # the stdlib's hook for opening
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def secure_data_dir(paths: Paths) -> None:
    """The data folder and the folders of logs and run sockets, all 700. A fresh data
    folder someone made by hand (mkdir, 755) is tightened silently: nothing was in it.
    A data folder that cannot be made or written is one ConfigError that says why."""
    try:
        private_dir(paths.data_dir, quiet=not paths.database.exists())
        private_dir(paths.logs_dir, quiet=True)  # inside the data folder: its line says enough
        private_dir(paths.runs_dir, quiet=True)
        if not os.access(paths.data_dir, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(paths.data_dir))
    except OSError as exc:
        raise unusable_data_dir(paths, exc) from exc


def unusable_data_dir(paths: Paths, exc: OSError) -> ConfigError:
    """The data folder cannot be created or written: what stands in the way, and the fix."""
    folder = paths.data_dir
    where = f"{folder} ({paths.home_var})" if paths.home_var else str(folder)
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        what = f"cannot use the data folder {where}: {blocker} is a file"
    else:
        what = f"cannot create or write the data folder {where}: {exc.strerror or exc}"
    if paths.home_var:
        hint = f"Set {paths.home_var} to a folder you can write, or unset it"
    else:
        hint = f"Make {folder} a folder you can write, or set PYNCHY_HOME to one"
    return ConfigError(what, hint)


def open_to_others(paths: Paths) -> list[tuple[Path, int]]:
    """pynchy's files other users can read or write, with their modes (for doctor)."""
    wanted = [
        (paths.config_file, PRIVATE_FILE),
        (paths.mount_allowlist, 0o644),  # no secrets, but others must not widen the mounts
        (paths.data_dir, PRIVATE_DIR),
        (paths.database, PRIVATE_FILE),
        (paths.api_token_file, PRIVATE_FILE),
    ]
    found = []
    for path, mode in wanted:
        try:
            current = stat.S_IMODE(path.stat().st_mode)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if current & OTHERS & ~mode:
            found.append((path, current))
    return found
