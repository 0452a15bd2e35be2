"""`POST /admin/update`: a real `pynchy serve` pulls a git checkout standing in for its
install (`[admin] install_dir`) from a local bare remote, then drains and exits with the
restart code; dirty and diverged checkouts, wrong tokens and an unset listener refuse."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from servehelp import Serve, free_port

from pynchy_cli.core.update.install import (
    RESTART_EXIT_CODE,
    UpdateRefused,
    find_install,
    update,
)

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"change {name}")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    """(work, install): clones of one bare remote; work pushes, install is 'pynchy'."""
    remote, work, install = tmp_path / "remote.git", tmp_path / "work", tmp_path / "install"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "checkout", "-q", "-b", "main")
    commit(work, "VERSION", "1\n")
    git(work, "push", "-q", "-u", "origin", "main")
    git(tmp_path, "clone", "-q", str(remote), str(install))
    return work, install


class Admin:
    def __init__(self, home: Path, port: int):
        self.home, self.port = home, port

    @property
    def token(self) -> str:
        return (self.home / "admin-token").read_text().strip()

    def update(self, token: str | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/admin/update", method="POST")
        req.add_header("Authorization", f"Bearer {self.token if token is None else token}")
        try:
            with urllib.request.urlopen(req, data=b"", timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def start(home: Path, install: Path | None) -> tuple[Serve, Admin]:
    port = free_port()
    if install is not None:
        (home / "config.toml").write_text(
            f'[admin]\nlisten = "127.0.0.1:{port}"\ninstall_dir = "{install}"\n'
        )
    return Serve(home, env=GIT_ENV).start(), Admin(home, port)


def test_update_pulls_then_drains_and_exits_to_be_restarted(pynchy_home, repos) -> None:
    work, install = repos
    before = git(install, "rev-parse", "HEAD")
    serve, admin = start(pynchy_home, install)
    assert oct((pynchy_home / "admin-token").stat().st_mode & 0o777) == "0o600"
    new = commit(work, "VERSION", "2\n")
    git(work, "push", "-q")

    status, body = admin.update()

    assert status == 200, body
    assert body == {
        "updated": True,
        "from": before,
        "to": new,
        "how": f"git pull --ff-only in {install}",
        "restarting": True,
    }
    assert serve.proc is not None
    assert serve.proc.wait(timeout=120) == RESTART_EXIT_CODE
    assert git(install, "rev-parse", "HEAD") == new
    log = serve.log.read_text()
    assert "stopping: draining running agents" in log
    assert "serve stopped" in log  # drained as on SIGTERM
    assert f"exiting with code {RESTART_EXIT_CODE} to be restarted" in log
    assert not (pynchy_home / "serve.json").exists()  # a clean stop


def test_dirty_diverged_up_to_date_and_wrong_token_restart_nothing(pynchy_home, repos) -> None:
    work, install = repos
    serve, admin = start(pynchy_home, install)
    try:
        assert admin.update("wrong") == (401, {"error": "missing or wrong admin token"})
        assert admin.update(serve.token)[0] == 401  # the API token is not the admin token

        status, body = admin.update()  # nothing new on the remote
        assert status == 200 and body["updated"] is False and body["restarting"] is False

        head = git(install, "rev-parse", "HEAD")
        commit(work, "VERSION", "2\n")
        git(work, "push", "-q")
        (install / "VERSION").write_text("edited here\n")
        status, body = admin.update()
        assert status == 409
        assert body == {
            "error": f"the checkout {install} has local changes (VERSION); "
            "commit or discard them first"
        }
        assert git(install, "rev-parse", "HEAD") == head  # nothing pulled

        git(install, "checkout", "-q", "VERSION")
        commit(install, "LOCAL", "a commit only this checkout has\n")
        status, body = admin.update()
        assert status == 409
        assert body["error"].startswith(f"git pull --ff-only in {install} failed: ")
        assert "fast-forward" in body["error"]

        assert serve.get("/health")["stopping"] is False  # still serving, nothing restarted
    finally:
        assert serve.terminate() == 0


def test_no_listener_unless_configured(pynchy_home) -> None:
    serve, admin = start(pynchy_home, None)
    try:
        with pytest.raises(urllib.error.URLError) as refused:
            admin.update("anything")
        assert isinstance(refused.value.reason, ConnectionRefusedError)
        assert not (pynchy_home / "admin-token").exists()
        with pytest.raises(urllib.error.HTTPError) as missing:  # not on the API either
            serve.post("/admin/update", {})
        assert missing.value.code == 404
    finally:
        assert serve.terminate() == 0


def test_an_unbindable_admin_address_stops_serve_with_one_line(pynchy_home, tmp_path) -> None:
    # A port another program holds: unbindable on every machine (a foreign address is not:
    # hosts with ip_nonlocal_bind accept it).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (pynchy_home / "config.toml").write_text(f'[admin]\nlisten = "127.0.0.1:{port}"\n')
        with pytest.raises(RuntimeError, match="serve exited early") as failed:
            Serve(pynchy_home).start()
    assert f"pynchy: error: cannot listen on 127.0.0.1:{port} for [admin]" in str(failed.value)


def test_an_invalid_listen_address_is_a_config_error(cli, pynchy_home) -> None:
    (pynchy_home / "config.toml").write_text('[admin]\nlisten = "100.64.0.5"\n')
    result = cli("config", "show")
    assert result.exit_code == 3
    assert "invalid setting admin.listen" in result.output


# --- how the install is found -----------------------------------------------------------------


def fake_distribution(root: Path, direct_url: dict | None) -> None:
    info = root / "pynchy-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pynchy\nVersion: 9.9\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))


def test_find_install_from_the_distributions_record(tmp_path, monkeypatch, repos) -> None:
    _work, install = repos
    cases = {
        "editable": ({"url": install.as_uri(), "dir_info": {"editable": True}}, "checkout"),
        "git": (
            {
                "url": "https://example.org/pynchy.git",
                "vcs_info": {"vcs": "git", "commit_id": "abc", "requested_revision": "main"},
            },
            "package",
        ),
        "index": (None, "package"),
    }
    for name, (direct_url, kind) in cases.items():
        with monkeypatch.context() as patch:
            fake_distribution(tmp_path / name, direct_url)
            patch.syspath_prepend(str(tmp_path / name))
            found = find_install()
            assert found.kind == kind and found.refusal is None, name
            if name == "editable":
                assert found.where == str(install) and found.editable
            if name == "git":
                assert found.where == "git+https://example.org/pynchy.git@main"
            if name == "index":
                assert found.where == "pynchy"

    wheel = {"url": "file:///opt/pynchy/pynchy-0.1.0-py3-none-any.whl", "archive_info": {}}
    fake_distribution(tmp_path / "wheel", wheel)
    monkeypatch.syspath_prepend(str(tmp_path / "wheel"))
    found = find_install()
    with pytest.raises(UpdateRefused, match="update it with pynchy deploy"):
        update(found)
    assert find_install(str(install)).where == str(install)  # [admin] install_dir wins
