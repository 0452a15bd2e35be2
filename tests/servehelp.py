"""Running a real `pynchy serve` in a subprocess for end-to-end tests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """`pynchy serve --model echo --runtime process` on a free port, in its own PYNCHY_HOME."""

    def __init__(
        self,
        home: Path,
        *args: str,
        env: dict[str, str] | None = None,
        model: str | None = "echo",  # None: no --model, serve's own default
        socket: Path | None = None,  # listen on this unix socket instead of a port
    ):
        self.home = home
        self.model = model
        self.socket = socket
        self.port = free_port()
        self.args = args
        self.env = {
            **os.environ,
            "PYNCHY_HOME": str(home),
            "PYNCHY_ALLOW_PROCESS_RUNTIME": "true",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.log = home / "serve-stdout.log"
        self.ready_tries = 300  # of 0.05 s; an embedded Ray takes longer to start

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pynchy_cli",
            "serve",
            *(["--model", self.model] if self.model else []),
            "--runtime",
            "process",
            *(["--socket", str(self.socket)] if self.socket else ["--port", str(self.port)]),
            *self.args,
        ]

    def start(self) -> Serve:
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(self.ready_tries):  # readiness: the health endpoint answers
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.log.read_text()}")
            try:
                self.get("/health", auth=False)
                return self
            except (urllib.error.URLError, ConnectionError, FileNotFoundError):
                time.sleep(0.05)
        raise RuntimeError("serve did not become ready")

    def kill9(self) -> None:
        assert self.proc
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def terminate(self) -> int:
        assert self.proc
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)

    @property
    def token(self) -> str:
        return (self.home / "api-token").read_text().strip()

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        if self.socket:
            return self._unix_request(method, path, body, auth)
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, data=data, timeout=10) as resp:
            return json.loads(resp.read())

    def _unix_request(self, method: str, path: str, body: Any, auth: bool) -> Any:
        conn = UnixConnection(str(self.socket))
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def get(self, path: str, auth: bool = True) -> Any:
        return self._request("GET", path, auth=auth)

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", path, body)

    def send(self, group: str, text: str, sender: str = "ann") -> dict:
        return self.post(f"/groups/{group}/messages", {"text": text, "sender": sender})

    def messages(self, group: str) -> list[dict]:
        return self.get(f"/groups/{group}/messages")["messages"]

    def wait_for(self, predicate, what: str, tries: int = 600) -> Any:
        """Poll until predicate() is truthy (bounded); for readiness, not for timing."""
        for _ in range(tries):
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"gave up waiting for {what}\n{self.log.read_text()[-3000:]}")


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (serve --socket)."""

    def __init__(self, path: str):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)
