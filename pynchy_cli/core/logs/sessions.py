"""Session folders of structured logs: one per agent run, one per serve start.

Each is a `dossier` session (structlog underneath): DATA/logs/sessions/NAME_YYYYmmdd_HHMMSS/
events.jsonl, one JSON object per line with "timestamp" (UTC, ISO), "level", "event",
"session" and the event's fields, dataclasses and pydantic models unpacked into fields.
Folders are 700 and files 600; a file is rotated at `logs.max_file_bytes`; opening a
session prunes the folders past `logs.keep_days` or beyond the newest `logs.keep_sessions`.
Logging never fails the caller: a write that fails is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from pynchy_cli.core.file_modes import PRIVATE_DIR, PrivateLogFile, private_dir, private_file
from pynchy_cli.core.logs.scrub import Scrubber, known_secrets
from pynchy_cli.core.logs.settings import LogSettings
from pynchy_cli.core.paths import Paths

EVENTS_FILE = "events.jsonl"
log = logging.getLogger("pynchy.logs")

_open_lock = threading.Lock()
_open_dirs: set[Path] = set()  # sessions of this process still writing: never pruned


def sessions_dir(paths: Paths) -> Path:
    return paths.logs_dir / "sessions"


def _log_settings(settings: Any) -> LogSettings:
    found = getattr(settings, "logs", None)
    return found if isinstance(found, LogSettings) else LogSettings()


class SessionLog:
    """A structlog-style logger of one session: info/warning/error/debug(event, **fields),
    bind(**fields); close() (or a with block) ends it. A disabled log writes nothing.

    Writes go through a thread of the session's own: it imports dossier (0.2 s) and opens
    the folder while the run goes on, then writes the queued events in order; close()
    waits for the queue to be written."""

    def __init__(self, opener: Any = None, name: str = ""):
        self.name = name
        self.path: Path | None = None
        self._queue: queue.SimpleQueue | None = None
        if opener is not None:
            self._queue = queue.SimpleQueue()
            self._ready = threading.Event()
            self._thread = threading.Thread(
                target=self._drain, args=(opener, self._queue), name=f"log-{name}", daemon=True
            )
            self._thread.start()

    def _drain(self, opener: Any, items: queue.SimpleQueue) -> None:
        session = None
        try:
            session = opener()
            self.path = session.get_session_path()
            self.name = self.path.name
        except Exception as exc:  # a full disk or an unwritable folder: unlogged
            log.warning("session log %s not written: %s", self.name, exc)
        finally:
            self._ready.set()
        while True:
            item = items.get()
            if item is None:
                break
            if session is None:
                continue
            method, event, fields = item
            try:
                if method == "bind":
                    session.bind(**fields)
                else:
                    getattr(session, method)(event, **fields)
            except Exception as exc:  # a log must never stop a run or serve
                log.debug("dropped a %s event for %s: %s", method, self.name, exc)
        if session is not None:
            _close(session)

    def _write(self, method: str, event: Any, fields: dict[str, Any]) -> None:
        if self._queue is None:
            return
        exc = fields.pop("exc_info", None)
        exc = sys.exc_info()[1] if exc is True else exc
        if isinstance(exc, BaseException):  # formatted here, so the scrubber sees it
            fields["exc_type"] = type(exc).__name__
            # The end of a traceback says most: kept whole below the scrubber's cap.
            fields["exception"] = "".join(traceback.format_exception(exc))[-1_500:]
        self._queue.put((method, event, fields))

    def debug(self, event: Any, **fields: Any) -> None:
        self._write("debug", event, fields)

    def info(self, event: Any, **fields: Any) -> None:
        self._write("info", event, fields)

    def warning(self, event: Any, **fields: Any) -> None:
        self._write("warning", event, fields)

    def error(self, event: Any, **fields: Any) -> None:
        self._write("error", event, fields)

    def bind(self, **fields: Any) -> SessionLog:
        self._write("bind", None, fields)
        return self

    def wait_open(self, timeout: float = 10.0) -> Path | None:
        """The session's folder, once its thread has opened it (None: not written)."""
        if self._queue is not None:
            self._ready.wait(timeout)
        return self.path

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and end the session."""
        log_queue, self._queue = self._queue, None
        if log_queue is None:
            return
        log_queue.put(None)
        self._thread.join(timeout)

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _close(session: Any) -> None:
    from dossier import close_session

    with contextlib.suppress(KeyError):  # closed already
        close_session(session.get_session_id())
    # dossier's stdlib loggers (session.FOLDER.NAMESPACE) would stay registered for
    # good: a serve with thousands of runs would keep thousands of them.
    folder = f"session.{session.get_session_path().name}"
    registered = logging.Logger.manager.loggerDict
    for name in [n for n in list(registered) if n == folder or n.startswith(f"{folder}.")]:
        registered.pop(name, None)
    with _open_lock:
        _open_dirs.discard(session.get_session_path())


def open_session(paths: Paths, name: str, settings: Any = None) -> SessionLog:
    """A new session folder NAME_TIMESTAMP under DATA/logs/sessions (pruning the old ones
    first), opened by the log's own thread; `name` must be unique in this process;
    `settings` gives the [logs] limits and the secrets to redact."""
    limits = _log_settings(settings)
    if not limits.enabled:
        return SessionLog()
    return SessionLog(lambda: _open(paths, name, settings, limits), name)


def _open(paths: Paths, name: str, settings: Any, limits: LogSettings) -> Any:
    from dossier import get_session  # 0.2 s of imports: only when a log is written
    from dossier.processors import unpack_objects

    private_dir(paths.logs_dir, quiet=True)
    root = private_dir(sessions_dir(paths), quiet=True)
    if _prune_due(root):
        prune_sessions(root, keep_days=limits.keep_days, keep_sessions=limits.keep_sessions)
    scrubber = Scrubber(known_secrets(paths, settings), limits.max_value_chars)
    with _open_lock:  # `name` is also dossier's cache key: unique in this process
        # dossier unpacks dataclasses and models into fields (call=Call(..) -> call_tool),
        # then the scrubber sees every field; dossier's own chain adds level and time.
        chain = [unpack_objects, scrubber]
        session = get_session(root, session_id=name, processors=chain, force_new=True)
        folder = session.get_session_path()
        folder.chmod(PRIVATE_DIR)
        _open_dirs.add(folder)
    events = private_file(folder / EVENTS_FILE, quiet=True)  # 600 before the handler opens it
    session.bind(session=folder.name)  # opens dossier's file handler for events.jsonl
    _rotate(folder.name, events, limits)
    return session


def _rotate(folder_name: str, events: Path, limits: LogSettings) -> None:
    """Swap dossier's plain FileHandler (stdlib logger `session.FOLDER.events`) for a
    rotating one with 600 files."""
    stdlib_logger = logging.getLogger(f"session.{folder_name}.events")
    for handler in list(stdlib_logger.handlers):
        if Path(getattr(handler, "baseFilename", "")) != events.resolve():
            continue
        rotating = PrivateLogFile(
            events, maxBytes=limits.max_file_bytes, backupCount=limits.file_backups
        )
        rotating.setFormatter(handler.formatter)
        stdlib_logger.removeHandler(handler)
        handler.close()
        stdlib_logger.addHandler(rotating)
        return
    log.warning("session log %s: no file handler to rotate (dossier changed?)", folder_name)


PRUNE_EVERY = 600.0  # seconds: listing every folder on every run would grow with them
PRUNE_STAMP = "sessions.pruned"  # beside the sessions folder


def _prune_due(root: Path) -> bool:
    """True at most once per PRUNE_EVERY for a folder (its stamp file's time says)."""
    stamp = root.parent / PRUNE_STAMP
    try:
        if time.time() - stamp.stat().st_mtime < PRUNE_EVERY:
            return False
    except OSError:
        pass
    with contextlib.suppress(OSError):
        private_file(stamp, quiet=True)
        os.utime(stamp)
    return True


def _last_write(folder: Path) -> float:
    """When the session last wrote: its newest file (appends do not touch the folder)."""
    newest = folder.stat().st_mtime
    for item in folder.iterdir():
        with contextlib.suppress(OSError):
            newest = max(newest, item.stat().st_mtime)
    return newest


def prune_sessions(root: Path, *, keep_days: int, keep_sessions: int) -> list[Path]:
    """Remove session folders older than keep_days or beyond the newest keep_sessions;
    a session this process still writes stays. Returns the removed folders."""
    folders = []
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.is_dir() and not folder.is_symlink():
            with contextlib.suppress(OSError):
                folders.append((_last_write(folder), folder))
    folders.sort(reverse=True)
    cutoff = time.time() - keep_days * 86_400
    removed = []
    with _open_lock:
        still_open = set(_open_dirs)
    for index, (written, folder) in enumerate(folders):
        if folder in still_open or (index < keep_sessions and written >= cutoff):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def run_log(paths: Paths, run_id: str, *, settings: Any = None) -> SessionLog:
    """The session log of one agent run: DATA/logs/sessions/run-RUNID_TIMESTAMP/."""
    return open_session(paths, f"run-{run_id}", settings).bind(run_id=run_id)


def serve_log(paths: Paths, *, settings: Any = None) -> SessionLog:
    """The session log of one serve start: DATA/logs/sessions/serve-XXXXXX_TIMESTAMP/."""
    return open_session(paths, f"serve-{secrets.token_hex(3)}", settings)
