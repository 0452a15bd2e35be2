"""pynchy's files are private to the user who runs it: the data folder 700, the database
(and its -wal/-shm), the API token and serve's logs 600; older, wider ones are tightened."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from servehelp import Serve

from pynchy_cli.core.db import open_db
from pynchy_cli.core.serve.main import PrivateLogFile


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def pynchy(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYNCHY_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)  # what most systems use: files 644 unless pynchy says otherwise
    yield
    os.umask(old)


def test_a_fresh_home_is_private_and_says_nothing(pynchy_home):
    pynchy_home.chmod(0o755)  # as `mkdir` leaves it
    out = pynchy(pynchy_home, "groups", "list")
    assert out.returncode == 0, out.stderr
    assert mode(pynchy_home) == 0o700
    assert mode(pynchy_home / "pynchy.db") == 0o600
    assert mode(pynchy_home / "runs") == 0o700
    assert mode(pynchy_home / "logs") == 0o700
    assert "open to other users" not in out.stderr  # nothing was in it to expose


def test_an_old_world_readable_database_is_tightened_and_said_once(pynchy_home):
    assert pynchy(pynchy_home, "groups", "add", "family").returncode == 0
    pynchy_home.chmod(0o755)
    (pynchy_home / "pynchy.db").chmod(0o644)
    (pynchy_home / "pynchy.db-wal").touch(0o644)  # a left-over empty WAL
    first = pynchy(pynchy_home, "groups", "list")
    assert first.returncode == 0, first.stderr
    assert "family" in first.stdout
    assert f"{pynchy_home} was open to other users (mode 755); now 700" in first.stderr
    assert "pynchy.db was open to other users (mode 644); now 600" in first.stderr
    assert mode(pynchy_home) == 0o700
    assert mode(pynchy_home / "pynchy.db") == 0o600
    again = pynchy(pynchy_home, "groups", "list")
    assert "open to other users" not in again.stderr


def test_sqlite_makes_wal_and_shm_private_like_the_database(tmp_path):
    db = open_db(tmp_path / "fresh.db")
    db["notes"].insert({"text": "kept while the connection is open"})
    wal, shm = tmp_path / "fresh.db-wal", tmp_path / "fresh.db-shm"
    assert wal.exists() and shm.exists()
    assert [mode(p) for p in (tmp_path / "fresh.db", wal, shm)] == [0o600] * 3
    db.conn.close()


def test_serve_keeps_token_logs_and_database_private(pynchy_home):
    service = Serve(pynchy_home).start()
    try:
        service.send("main", "hello")
        service.wait_for(
            lambda: any(m["sender_kind"] == "assistant" for m in service.messages("main")),
            "a reply",
        )
        assert mode(pynchy_home) == 0o700
        assert mode(pynchy_home / "api-token") == 0o600
        assert mode(pynchy_home / "logs" / "serve.log") == 0o600
        assert mode(pynchy_home / "runs") == 0o700
        for name in ("pynchy.db", "pynchy.db-wal", "pynchy.db-shm"):
            assert mode(pynchy_home / name) == 0o600, name
    finally:
        service.kill9()


@pytest.mark.parametrize("old", ["an-old-token-others-could-read\n", ""])
def test_a_readable_or_empty_token_is_replaced(pynchy_home, old):
    token = pynchy_home / "api-token"
    token.write_text(old)
    token.chmod(0o644 if old else 0o600)
    service = Serve(pynchy_home).start()
    try:
        assert mode(token) == 0o600
        assert service.token and service.token != old.strip()
        assert service.get("/status")["groups"]  # the new token works
        request = urllib.request.Request(f"http://127.0.0.1:{service.port}/status")
        request.add_header("Authorization", f"Bearer {old.strip()}")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 401
        log = (pynchy_home / "logs" / "serve.log").read_text()
        assert "the API token" in log and "replaced it with a new one" in log
    finally:
        service.kill9()


def test_serve_logs_stay_private_after_rotation(tmp_path):
    handler = PrivateLogFile(tmp_path / "serve.log", maxBytes=200, backupCount=2)
    logger = logging.getLogger("pynchy.test-rotation")
    logger.addHandler(handler)
    try:
        for n in range(20):
            logger.warning("line %d of a log that rotates: %s", n, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(tmp_path.glob("serve.log*"))
    assert [p.name for p in files] == ["serve.log", "serve.log.1", "serve.log.2"]
    assert [mode(p) for p in files] == [0o600] * 3


def test_doctor_warns_about_a_readable_config(pynchy_home):
    config = pynchy_home / "config.toml"
    config.write_text('[accounts.work]\nprovider = "anthropic"\napi_key = "sk-not-real"\n')
    config.chmod(0o644)

    def file_modes() -> dict:
        checks = json.loads(pynchy(pynchy_home, "doctor", "--json").stdout)
        return next(c for c in checks if c["name"] == "file modes")

    check = file_modes()
    assert not check["ok"] and not check["required"]
    assert f"{config} (644)" in check["detail"]
    assert f"chmod go-rwx {config}" in check["fix"]
    config.chmod(0o600)
    assert file_modes()["ok"]
