"""Reading the session logs back: events since a time, and errors grouped with counts
(for `pynchy status`, the log-recovery agent and `pynchy agent logs --session`)."""

from __future__ import annotations

import contextlib
import heapq
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pynchy_cli.core.logs.sessions import EVENTS_FILE, sessions_dir
from pynchy_cli.core.paths import Paths

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_VARYING = re.compile(r"\b(?:[0-9a-f]{8,}|\d+(?:\.\d+)?)\b")  # ids, counts, durations
KEY_CHARS = 160


@dataclass
class ErrorGroup:
    key: str  # the event (or its message template) and the exception type
    count: int
    first: datetime
    last: datetime
    sample: dict[str, Any]  # the newest event of the group


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _session_files(folder: Path) -> list[Path]:
    """A session's JSONL files oldest first: events.jsonl.2, events.jsonl.1, events.jsonl."""
    rotated = sorted(
        folder.glob(f"{EVENTS_FILE}.*"),
        key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0,
        reverse=True,
    )
    return [*rotated, folder / EVENTS_FILE]


def _session_events(folder: Path, since: datetime, floor: int) -> Iterator[dict[str, Any]]:
    for path in _session_files(folder):
        with contextlib.suppress(OSError), path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash or a full disk
                if not isinstance(event, dict):
                    continue
                moment = _parse_time(event.get("timestamp"))
                if moment is None or moment < since:
                    continue
                if LEVELS.get(str(event.get("level")), 20) < floor:
                    continue
                event.setdefault("session", folder.name)
                yield event


def session_folders(paths: Paths, since: datetime | None = None) -> list[Path]:
    """Session folders, oldest first; with `since`, only those written since then."""
    root = sessions_dir(paths)
    found = []
    for folder in root.iterdir() if root.is_dir() else ():
        with contextlib.suppress(OSError):
            written = max(p.stat().st_mtime for p in _session_files(folder) if p.exists())
            if since is None or written >= _utc(since).timestamp():
                found.append((written, folder))
    return [folder for _, folder in sorted(found)]


def read_events(
    paths: Paths, since: datetime, level: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every event of every session since `since` (naive means UTC), in time order;
    with `level`, only events at that level or above (warning: warnings and errors)."""
    since = _utc(since)
    floor = LEVELS.get(level.lower(), 0) if level else 0
    streams = [_session_events(f, since, floor) for f in session_folders(paths, since)]
    yield from heapq.merge(*streams, key=lambda e: str(e.get("timestamp")))


def run_session_events(paths: Paths, run_id: str) -> Iterator[dict[str, Any]]:
    """Every event of one run's session, oldest first (nothing when it wrote none)."""
    root = sessions_dir(paths)
    for folder in sorted(root.glob(f"run-{run_id}_*")) if root.is_dir() else ():
        yield from _session_events(folder, datetime.min.replace(tzinfo=UTC), 0)


def group_key(event: dict[str, Any]) -> str:
    """What makes two errors the same: the message template (stdlib records) or the event
    and its message with ids and numbers blanked, plus the exception type."""
    text = str(event.get("template") or event.get("event") or "")
    message = event.get("message")
    if not event.get("template") and isinstance(message, str) and message:
        text = f"{text}: {message.splitlines()[0]}"
    text = _VARYING.sub("N", text)[:KEY_CHARS]
    exc_type = event.get("exc_type")
    return f"{text} [{exc_type}]" if exc_type else text


def error_groups(paths: Paths, since: datetime) -> list[ErrorGroup]:
    """Errors since `since`, grouped (group_key), most frequent first."""
    groups: dict[str, ErrorGroup] = {}
    for event in read_events(paths, since, level="error"):
        moment = _parse_time(event["timestamp"])
        assert moment is not None  # read_events skips events without a time
        key = group_key(event)
        group = groups.get(key)
        if group is None:
            groups[key] = ErrorGroup(key, 1, moment, moment, event)
        else:
            group.count += 1
            group.last, group.sample = moment, event
    return sorted(groups.values(), key=lambda g: (-g.count, -g.last.timestamp()))
