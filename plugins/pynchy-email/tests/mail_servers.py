"""Real mail servers for the tests, on 127.0.0.1 with free ports:

- `Dovecot`: Debian's dovecot-imapd, run in the foreground with a config file of its own in
  a temporary folder (passwd-file login, Maildir storage there). Dovecot keeps mail as an
  unprivileged user, so it needs root to start; the tests run as root in CI.
- `SmtpSink`: aiosmtpd with AUTH required (plain text, no TLS on loopback); it keeps every
  message it accepts.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

USER = "bob@example.com"
PASSWORD = "imap-pw-42"
SMTP_PASSWORD = "smtp-pw-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dovecot_missing() -> str | None:
    """Why Dovecot cannot run here, or None."""
    if shutil.which("dovecot") is None:
        return "dovecot is not installed (apt-get install dovecot-imapd; scripts/test does)"
    if os.geteuid() != 0:
        return "dovecot needs root to start here"
    return None


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%n
}}
mail_location = maildir:{folder}/mail/%n/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# the passwd file lives in a folder only root may list
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
"""


class Dovecot:
    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="pynchy-dovecot-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {
            "EMAIL_IMAP_HOST": "127.0.0.1",
            "EMAIL_IMAP_PORT": str(self.port),
            "EMAIL_IMAP_USER": USER,
            "EMAIL_IMAP_PASSWORD": PASSWORD,
            "EMAIL_IMAP_SECURITY": "none",
        }

    def start(self) -> Dovecot:
        nobody = pwd.getpwnam("nobody")
        self.folder.chmod(0o711)  # mail is kept as nobody, who must pass through
        mail = self.folder / "mail"
        mail.mkdir()
        os.chown(mail, nobody.pw_uid, nobody.pw_gid)
        (self.folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        config = self.folder / "dovecot.conf"
        config.write_text(
            CONFIG.format(folder=self.folder, port=self.port, uid=nobody.pw_uid, gid=nobody.pw_gid)
        )
        self.proc = subprocess.Popen(
            ["dovecot", "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "stderr.log").open("ab"),
        )
        for _ in range(400):  # readiness: the IMAP greeting (bounded, not a speed check)
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=5).logout()
                return self
            except OSError:
                time.sleep(0.025)
        self.stop()
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def log(self) -> str:
        return "".join(
            p.read_text(errors="replace")
            for p in (self.folder / "dovecot.log", self.folder / "stderr.log")
            if p.exists()
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def imap(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def deliver(
        self, raw: str | bytes, folder: str = "INBOX", flags: str = "", received: str = ""
    ) -> None:
        """Put a message into a folder (created if needed), as a mail server would;
        `received` (ISO 8601) is its arrival time, default now."""
        data = raw.encode() if isinstance(raw, str) else raw
        when = imaplib.Time2Internaldate(datetime.fromisoformat(received)) if received else None
        conn = self.imap()
        try:
            conn.create(folder)  # fails harmlessly when it exists
            status, answer = conn.append(folder, flags or None, when, data.replace(b"\n", b"\r\n"))
            assert status == "OK", answer
        finally:
            conn.logout()

    def flags(self, uid: int, folder: str = "INBOX") -> set[str]:
        conn = self.imap()
        try:
            conn.select(folder, readonly=True)
            status, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        finally:
            conn.logout()
        text = data[0].decode() if data and isinstance(data[0], bytes) else ""
        flags = set(text.partition("FLAGS (")[2].partition(")")[0].split())
        return flags - {"\\Recent"}  # the server's own, of no interest here

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SmtpSink:
    """An SMTP server that accepts mail after AUTH and keeps it in `.messages`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[dict[str, Any]] = []
        self.logins: list[str] = []
        self.controller: Any = None

    def env(self) -> dict[str, str]:
        return {
            "EMAIL_SMTP_HOST": "127.0.0.1",
            "EMAIL_SMTP_PORT": str(self.port),
            "EMAIL_SMTP_PASSWORD": SMTP_PASSWORD,
            "EMAIL_SMTP_SECURITY": "none",
        }

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        from aiosmtpd.smtp import AuthResult

        login = data.login.decode() if isinstance(data.login, bytes) else str(data.login)
        password = data.password.decode() if isinstance(data.password, bytes) else ""
        self.logins.append(login)
        good = login == USER and password == SMTP_PASSWORD
        # handled=False: aiosmtpd answers a failure with 535 itself
        return AuthResult(success=good, handled=False, auth_data=data)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", errors="replace"),
            }
        )
        return "250 OK"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=False,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
