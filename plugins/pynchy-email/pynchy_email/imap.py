"""Reading mail over IMAP (the standard library's imaplib): folders, search, read, mark.

Every operation opens its own connection and logs out after. Messages are named by their
UID within a folder. Reading uses BODY.PEEK and a read-only SELECT, so it never marks a
message read; mark_message does that when asked. Failures become `MailError` with one
line an agent can act on; the password never appears in one.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from pynchy_email.config import Account
from pynchy_email.errors import MailError
from pynchy_email.messages import flag_names, full, summary

TIMEOUT = 30  # seconds per connection
MAX_FETCH = 5_000_000  # bytes of one message read at most
MAX_FOLDERS = 200
SUMMARY_FIELDS = "BODY.PEEK[HEADER.FIELDS (FROM TO CC REPLY-TO DATE SUBJECT MESSAGE-ID)]"
MARKS = {
    "read": ("+FLAGS", "\\Seen"),
    "unread": ("-FLAGS", "\\Seen"),
    "flagged": ("+FLAGS", "\\Flagged"),
    "unflagged": ("-FLAGS", "\\Flagged"),
    "answered": ("+FLAGS", "\\Answered"),  # after a reply was sent
}
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')


def quote(text: str) -> str:
    """An IMAP quoted string (ASCII only; control characters are refused)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise MailError("text with control characters (line breaks) cannot be searched for")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    if text.startswith('"') and text.endswith('"'):
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _imap_date(text: str) -> str:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise MailError(f"{text!r} is not a date: use 2027-01-05") from None
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return f"{day.day:02d}-{months[day.month - 1]}-{day.year}"


def _fetched(data: list[Any]) -> list[tuple[bytes, bytes]]:
    """(the response line's head, its literal) for each message of a FETCH answer."""
    return [(item[0], item[1]) for item in data if isinstance(item, tuple) and len(item) == 2]


def _number(head: bytes, name: bytes) -> int:
    found = re.search(rb"\b" + name + rb" (\d+)", head)
    return int(found.group(1)) if found else 0


def _received(head: bytes) -> str | None:
    """When the server got the message (INTERNALDATE), as ISO 8601."""
    moment = imaplib.Internaldate2tuple(head)
    if moment is None:
        return None
    return datetime.fromtimestamp(time.mktime(moment), UTC).isoformat()


def _flags(head: bytes) -> list[str]:
    found = re.search(rb"FLAGS \(([^)]*)\)", head)
    return found.group(1).decode(errors="replace").split() if found else []


class Mailbox:
    def __init__(self, account: Account):
        self.account = account

    @contextlib.contextmanager
    def _connect(self) -> Iterator[imaplib.IMAP4]:
        account = self.account
        try:
            if account.security == "ssl":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    account.host,
                    account.port,
                    ssl_context=ssl.create_default_context(),
                    timeout=TIMEOUT,
                )
            else:
                conn = imaplib.IMAP4(account.host, account.port, timeout=TIMEOUT)
                if account.security == "starttls":
                    conn.starttls(ssl.create_default_context())
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailError(
                f"cannot reach the IMAP server {account.host}:{account.port}"
                f" ({type(exc).__name__}); is EMAIL_IMAP_HOST right?"
            ) from None
        try:
            try:
                conn.login(account.user, account.password)
            except imaplib.IMAP4.error:
                raise MailError(
                    f"the IMAP server refused the login of {account.user!r}: check"
                    " EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD (or [plugin.email]) on the host"
                ) from None
            yield conn
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailError(f"the IMAP connection failed: {type(exc).__name__}") from None
        except imaplib.IMAP4.error as exc:
            raise MailError(f"the IMAP server answered an error: {_says(exc)}") from None
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    @staticmethod
    def _select(conn: imaplib.IMAP4, folder: str, readonly: bool = True) -> None:
        status, data = conn.select(quote(folder), readonly=readonly)
        if status != "OK":
            raise MailError(f"no folder named {folder!r} (list_folders shows them)")

    def list_folders(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            status, data = conn.list()
        folders = []
        for line in data if status == "OK" else []:
            found = _LIST_LINE.match(line) if isinstance(line, bytes) else None
            if found:
                flags = found.group("flags").decode(errors="replace").split()
                folders.append({"name": _unquote(found.group("name")), "flags": flags})
        return folders[:MAX_FOLDERS]

    def search(self, folder: str, criteria: dict[str, Any], limit: int) -> dict[str, Any]:
        plain, literals = _criteria(criteria)
        with self._connect() as conn:
            self._select(conn, folder)
            uids = _search(conn, plain, literals)
            newest = sorted(uids, reverse=True)[:limit]
            found = []
            if newest:
                ids = ",".join(str(u) for u in newest)
                status, data = conn.uid(
                    "FETCH", ids, f"(UID FLAGS INTERNALDATE RFC822.SIZE {SUMMARY_FIELDS})"
                )
                for head, raw in _fetched(data if status == "OK" else []):
                    uid = _number(head, b"UID")
                    message = summary(uid, raw, _flags(head), _number(head, b"RFC822.SIZE"))
                    found.append({**message, "received": _received(head)})
        found.sort(key=lambda m: m["uid"], reverse=True)
        return {"folder": folder, "messages": found, "more": len(uids) - len(found)}

    def read(self, folder: str, uid: int, max_chars: int) -> dict[str, Any]:
        with self._connect() as conn:
            self._select(conn, folder)
            status, data = conn.uid(
                "FETCH", str(uid), f"(UID FLAGS RFC822.SIZE BODY.PEEK[]<0.{MAX_FETCH}>)"
            )
        items = _fetched(data if status == "OK" else [])
        if not items:
            raise MailError(f"no message with uid {uid} in {folder!r}")
        head, raw = items[0]
        size = _number(head, b"RFC822.SIZE")
        return full(uid, raw, _flags(head), size, max_chars, partial=size > MAX_FETCH)

    def headers_of(self, folder: str, uid: int) -> bytes:
        """The raw headers of one message (for a reply)."""
        with self._connect() as conn:
            self._select(conn, folder)
            status, data = conn.uid("FETCH", str(uid), "(UID BODY.PEEK[HEADER])")
        items = _fetched(data if status == "OK" else [])
        if not items:
            raise MailError(f"no message with uid {uid} in {folder!r}")
        return items[0][1]

    def mark(self, folder: str, uid: int, *marks: str) -> dict[str, Any]:
        with self._connect() as conn:
            self._select(conn, folder, readonly=False)
            status, data = conn.uid("SEARCH", "UID", str(uid))
            if status != "OK" or str(uid).encode() not in (data[0] or b"").split():
                raise MailError(f"no message with uid {uid} in {folder!r}")
            for mark in marks:
                how, flag = MARKS[mark]
                conn.uid("STORE", str(uid), how, f"({flag})")
            status, data = conn.uid("FETCH", str(uid), "(UID FLAGS)")
        flags = _flags(data[0] if data and isinstance(data[0], bytes) else b"")
        return {"folder": folder, "uid": uid, **flag_names(flags)}


def _criteria(criteria: dict[str, Any]) -> tuple[list[str], list[tuple[str, bytes]]]:
    """IMAP SEARCH keys: ASCII ones inline, each non-ASCII text as (key, UTF-8 literal)."""
    plain: list[str] = []
    literals: list[tuple[str, bytes]] = []
    for key, imap_key in (
        ("from_address", "FROM"),
        ("to", "TO"),
        ("subject", "SUBJECT"),
        ("text", "TEXT"),
    ):
        value = criteria.get(key)
        if not value:
            continue
        if value.isascii():
            plain += [imap_key, quote(value)]
        else:
            quote(value)  # the same refusal of control characters
            literals.append((imap_key, value.encode()))
    for key, imap_key in (("since", "SINCE"), ("before", "BEFORE")):
        if criteria.get(key):
            plain += [imap_key, _imap_date(criteria[key])]
    if criteria.get("unread_only"):
        plain.append("UNSEEN")
    if criteria.get("flagged_only"):
        plain.append("FLAGGED")
    return plain or ["ALL"], literals


def _search(conn: imaplib.IMAP4, plain: list[str], literals: list[tuple[str, bytes]]) -> list[int]:
    """UIDs matching every key. imaplib sends one literal per command, so each non-ASCII
    text is its own search and the answers are intersected."""
    found: set[int] | None = None
    for key, literal in literals or [("", b"")]:
        if literal:
            conn.literal = literal
            status, data = conn.uid("SEARCH", "CHARSET", "UTF-8", *plain, key)
        else:
            status, data = conn.uid("SEARCH", *plain)
        if status != "OK":
            raise MailError(f"the IMAP server refused the search: {_says(data)}")
        uids = {int(u) for u in (data[0] or b"").split()}
        found = uids if found is None else found & uids
    return sorted(found or ())


def _says(what: Any) -> str:
    if isinstance(what, list):
        what = b" ".join(x for x in what if isinstance(x, bytes))
    text = what.decode(errors="replace") if isinstance(what, bytes) else str(what)
    return " ".join(text.split())[:300] or "no reason given"
