"""A real Radicale CalDAV server for the tests: `python -m radicale` on 127.0.0.1 with a
free port, plain-text htpasswd logins and its storage in a temporary folder."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

USER = "alice"
PASSWORD = "wonderland-7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Radicale:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "radicale.log"

    def env(self) -> dict[str, str]:
        """The plugin's settings for this server, as environment variables."""
        return {"CALDAV_URL": self.url, "CALDAV_USERNAME": USER, "CALDAV_PASSWORD": PASSWORD}

    def start(self) -> Radicale:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "users").write_text(f"{USER}:{PASSWORD}\n")
        config = self.folder / "radicale.conf"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n\n"
            "[auth]\ntype = htpasswd\nhtpasswd_encryption = plain\n"
            f"htpasswd_filename = {self.folder / 'users'}\ndelay = 0\n\n"
            f"[storage]\nfilesystem_folder = {self.folder / 'collections'}\n\n"
            "[rights]\ntype = owner_only\n\n[logging]\nlevel = warning\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        for _ in range(400):  # readiness: it answers HTTP (bounded, not a speed check)
            if self.proc.poll() is not None:
                raise RuntimeError(f"radicale exited:\n{self.log.read_text()}")
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return self
            except urllib.error.HTTPError:
                return self  # 401 and friends: it is up
            except OSError:
                time.sleep(0.025)
        self.stop()
        raise RuntimeError("radicale did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self) -> Any:
        """A caldav client of our own, to set up and check what the tools did."""
        import caldav

        return caldav.DAVClient(
            url=self.url, username=USER, password=PASSWORD, enable_rfc6764=False
        )

    def calendar(self, cal_id: str, name: str) -> Any:
        return self.client().principal().make_calendar(name=name, cal_id=cal_id)

    def __enter__(self) -> Radicale:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
