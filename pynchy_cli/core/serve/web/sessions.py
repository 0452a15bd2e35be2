"""Web sessions: what the session cookie stands for, kept by serve.

A login (the API token, or a one-time link) makes a random session id; the cookie holds
it, and serve keeps only its SHA-256 and expiry, in memory and in the data folder
(`web-sessions.json`, 600) so that a serve restart does not log the browser out. The
file records which API token the sessions were made under: a new token ends them all.
Each session's CSRF token is derived from its id with the API token as key, so it needs
no storage and is worth nothing without the cookie.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from pathlib import Path

from pynchy_cli.core.file_modes import PRIVATE_FILE

SESSION_SECONDS = 7 * 24 * 3600
MAX_SESSIONS = 50  # the oldest goes when a login would pass this
SESSIONS_FILE = "web-sessions.json"

log = logging.getLogger("pynchy.web")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class SessionStore:
    def __init__(self, data_dir: Path, api_token: str):
        self.path = data_dir / SESSIONS_FILE
        self._key = api_token.encode()
        self._token_mark = hmac.new(self._key, b"web sessions", "sha256").hexdigest()
        self._expiry: dict[str, float] = self._load()

    def create(self) -> str:
        """A new session; returns the id the cookie carries."""
        session_id = secrets.token_urlsafe(32)
        self._drop_expired()
        while len(self._expiry) >= MAX_SESSIONS:
            del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
        self._expiry[_digest(session_id)] = time.time() + SESSION_SECONDS
        self._save()
        return session_id

    def valid(self, session_id: str | None) -> bool:
        if not session_id or len(session_id) > 100:
            return False
        expires = self._expiry.get(_digest(session_id))
        return expires is not None and time.time() < expires

    def end(self, session_id: str | None) -> None:
        if session_id and self._expiry.pop(_digest(session_id), None) is not None:
            self._save()

    def csrf_token(self, session_id: str) -> str:
        return hmac.new(self._key, b"csrf:" + session_id.encode(), "sha256").hexdigest()

    def csrf_matches(self, session_id: str, given: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session_id).encode(), given.encode())

    # --- the file ----------------------------------------------------------------------

    def _drop_expired(self) -> None:
        now = time.time()
        for key in [k for k, expires in self._expiry.items() if expires <= now]:
            del self._expiry[key]

    def _load(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text())
            if data.get("token") != self._token_mark:
                return {}  # made under another API token: those sessions are over
            return {str(k): float(v) for k, v in data["sessions"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("web sessions in %s unreadable (%s); starting with none", self.path, exc)
            return {}

    def _save(self) -> None:
        scratch = self.path.with_name(f".{SESSIONS_FILE}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "w") as fh:
            json.dump({"token": self._token_mark, "sessions": self._expiry}, fh)
        os.replace(scratch, self.path)
