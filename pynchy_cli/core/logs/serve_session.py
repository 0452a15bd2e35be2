"""serve's session log: every record of the `pynchy` loggers (the lines serve.log gets)
becomes a structured event too, its key=value pairs unpacked into fields; the session
starts and stops with serve and counts the messages in and the replies out.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from pynchy_cli.core.logs.sessions import SessionLog, serve_log
from pynchy_cli.core.paths import Paths

_PAIR = re.compile(r"(\w+)=(\S+)")
_COUNTED = {"message in": "messages_in", "reply out": "replies_out"}


def record_event(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """("message in", {"group": "main", "id": "3", ...}) from "message in group=main id=3".
    A record with arguments also gives its template: errors group by it."""
    message = record.getMessage()
    first = _PAIR.search(message)
    head = message[: first.start()] if first else message
    event = head.strip().rstrip(":") or message.strip()
    fields: dict[str, Any] = dict(_PAIR.findall(message[first.start() :])) if first else {}
    fields["logger"] = record.name
    if record.args:
        fields["template"] = str(record.msg)
    if record.exc_info and record.exc_info[0] is not None:
        fields["exc_type"] = record.exc_info[0].__name__
        fields["exception"] = logging.Formatter().formatException(record.exc_info)
    return event, fields


class ServeSession(logging.Handler):
    """Attached to the `pynchy` logger while serve runs (INFO and above)."""

    def __init__(self, session: SessionLog):
        super().__init__(logging.INFO)
        self.session = session
        self.counts = dict.fromkeys(_COUNTED.values(), 0)
        self._logger = logging.getLogger("pynchy")
        self._old_level: int | None = None

    @classmethod
    def open(cls, paths: Paths, settings: Any = None, **fields: Any) -> ServeSession:
        bridge = cls(serve_log(paths, settings=settings))
        bridge.session.info("serve_start", pid=os.getpid(), **fields)
        bridge._logger.addHandler(bridge)
        if bridge._logger.getEffectiveLevel() > logging.INFO:  # no setup_logging (tests)
            bridge._old_level = bridge._logger.level
            bridge._logger.setLevel(logging.INFO)
        return bridge

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event, fields = record_event(record)
        except Exception:  # a record that cannot be formatted: serve.log says so
            return
        if event in _COUNTED:
            self.counts[_COUNTED[event]] += 1
        level = record.levelname.lower()
        method = level if level in ("debug", "info", "warning", "error") else "error"
        getattr(self.session, method)(event, **fields)

    def stop(self) -> None:
        """serve stopped: the counts, then the session ends (once)."""
        if self not in self._logger.handlers:
            return
        self._logger.removeHandler(self)
        if self._old_level is not None:
            self._logger.setLevel(self._old_level)
            self._old_level = None
        self.session.info("serve_stop", **self.counts)
        self.session.close()
        self.close()
