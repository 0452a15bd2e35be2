"""The CLI skeleton, config layering, storage and groups, through the real CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from pynchy_cli.core.config import load_settings
from pynchy_cli.core.db import open_db
from pynchy_cli.core.errors import ExitCode
from pynchy_cli.core.paths import resolve_paths

COMMAND_GROUPS = [
    "agent",
    "plugin",
    "backlog",
    "deploy",
    "groups",
    "tasks",
    "config",
    "doctor",
]


def test_help_lists_every_command_group(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for name in COMMAND_GROUPS:
        assert name in result.stdout


def test_version_from_the_installed_console_script():
    out = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith("pynchy 0.")


def test_groups_add_then_list_json(cli, pynchy_home):
    assert cli("groups", "add", "family").exit_code == 0
    result = cli("groups", "list", "--json")
    assert result.exit_code == 0
    groups = json.loads(result.stdout)
    assert [g["name"] for g in groups] == ["family"]
    folder = Path(groups[0]["folder"])
    assert folder == pynchy_home / "groups" / "family"
    assert (folder / "CLAUDE.md").read_text().startswith("# family")
    assert (pynchy_home / "global" / "CLAUDE.md").exists()


def test_group_options_and_show(cli, tmp_path):
    folder = tmp_path / "work"
    result = cli(
        "groups",
        "add",
        "ops",
        "--admin",
        "--trigger",
        "@bot",
        "--folder",
        str(folder),
        "--network",
        "--model",
        "echo",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("groups", "show", "ops", "--json").stdout)
    assert shown["admin"] is True and shown["network"] is True
    assert shown["trigger"] == "@bot" and shown["model"] == "echo"
    assert shown["folder"] == str(folder.resolve())


def test_duplicate_and_bad_names_are_refused(cli):
    assert cli("groups", "add", "family").exit_code == 0
    again = cli("groups", "add", "family")
    assert again.exit_code == ExitCode.CONFLICT
    assert "already exists" in again.stderr
    bad = cli("groups", "add", "Bad Name!")
    assert bad.exit_code == ExitCode.USAGE
    assert "invalid group name" in bad.stderr


def test_remove_keeps_folder_unless_asked(cli, pynchy_home):
    cli("groups", "add", "a")
    cli("groups", "add", "b")
    assert cli("groups", "remove", "a").exit_code == 0
    assert (pynchy_home / "groups" / "a" / "CLAUDE.md").exists()
    assert cli("groups", "remove", "b", "--delete-files").exit_code == 0
    assert not (pynchy_home / "groups" / "b").exists()
    assert json.loads(cli("groups", "list", "--json").stdout) == []


def test_unknown_group_is_one_line_with_hint(cli):
    result = cli("groups", "show", "nope")
    assert result.exit_code == ExitCode.NOT_FOUND
    lines = result.stderr.strip().splitlines()
    assert lines == ["pynchy: error: no group named 'nope'. List groups with: pynchy groups list"]


def test_malformed_config_is_one_line_and_untouched(cli, pynchy_home):
    config = pynchy_home / "config.toml"
    config.write_text("model = [\n")
    result = cli("config", "show")
    assert result.exit_code == ExitCode.CONFIG
    assert len(result.stderr.strip().splitlines()) == 1
    assert "is not valid TOML" in result.stderr
    assert config.read_text() == "model = [\n"


def test_invalid_value_names_the_key(cli, pynchy_home):
    (pynchy_home / "config.toml").write_text("[limits]\nrun_timeout = -5\n")
    result = cli("config", "show")
    assert result.exit_code == ExitCode.CONFIG
    assert "limits.run_timeout" in result.stderr


def test_traceback_flag_shows_more(cli, pynchy_home):
    (pynchy_home / "config.toml").write_text("nonsense = 1\n")
    result = cli("--traceback", "config", "show")
    assert result.exit_code == ExitCode.CONFIG
    assert "Traceback" in result.stderr


def test_layering_defaults_file_env_flags(pynchy_home, monkeypatch):
    paths = resolve_paths()
    assert load_settings(paths).limits.run_timeout == 600
    (pynchy_home / "config.toml").write_text('model = "echo"\n[limits]\nrun_timeout = 30\n')
    assert load_settings(paths).limits.run_timeout == 30
    monkeypatch.setenv("PYNCHY_LIMITS__RUN_TIMEOUT", "20")
    monkeypatch.setenv("PYNCHY_MODEL", "openai:gpt-4o")
    settings = load_settings(paths)
    assert settings.limits.run_timeout == 20 and settings.model == "openai:gpt-4o"
    assert load_settings(paths, {"model": "echo"}).model == "echo"


def test_config_show_masks_secrets(cli, monkeypatch, pynchy_home):
    secret = "sk-ant-test-0123456789abcdefghij"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    (pynchy_home / "config.toml").write_text(
        '[accounts.work]\nprovider = "openai"\napi_key = "sk-work-9876543210zyxwvu"\n'
    )
    result = cli("config", "show", "--json")
    assert result.exit_code == 0
    assert secret not in result.stdout and "9876543210" not in result.stdout
    data = json.loads(result.stdout)
    assert data["accounts"]["anthropic"]["api_key"] == "**** (set)"
    assert data["accounts"]["work"]["provider"] == "openai"


def test_config_path_under_pynchy_home(cli, pynchy_home):
    data = json.loads(cli("config", "path", "--json").stdout)
    assert data["config_file"] == str(pynchy_home / "config.toml")
    assert data["database"] == str(pynchy_home / "pynchy.db")


def test_xdg_paths_without_pynchy_home(tmp_path):
    paths = resolve_paths({"HOME": str(tmp_path)})
    assert paths.config_file == tmp_path / ".config" / "pynchy" / "config.toml"
    assert paths.database == tmp_path / ".local" / "share" / "pynchy" / "pynchy.db"


def test_migrations_from_empty_database(tmp_path):
    db = open_db(tmp_path / "fresh.db")
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    for table in (
        "groups",
        "messages",
        "runs",
        "run_events",
        "sessions",
        "tasks",
        "task_runs",
        "accounts",
        "approvals",
        "audit",
    ):
        assert table in db.table_names()
    applied = [r["name"] for r in db.query("select name from _sqlite_migrations")]
    assert applied[0] == "0001_initial"
    # Opening again applies nothing twice.
    again = open_db(tmp_path / "fresh.db")
    assert [r["name"] for r in again.query("select name from _sqlite_migrations")] == applied


def test_newer_database_is_refused_untouched(cli, pynchy_home):
    cli("groups", "add", "family")
    db_path = pynchy_home / "pynchy.db"
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "insert into _sqlite_migrations (migration_set, name, applied_at) "
            "values ('pynchy', '9999_from_the_future', '2030-01-01')"
        )
    before = db_path.read_bytes()
    result = cli("groups", "list")
    assert result.exit_code == ExitCode.CONFLICT
    assert "newer pynchy" in result.stderr
    assert db_path.read_bytes() == before


def test_piped_list_is_plain_text(cli):
    cli("groups", "add", "family")
    out = cli("groups", "list").stdout
    assert out.splitlines()[0].startswith("name\t")
    assert "family\t" in out


def test_doctor_reports_missing_model_and_fails(cli, monkeypatch):
    monkeypatch.setenv("PYNCHY_CONTAINER_SOCKET", "/nonexistent/podman.sock")
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")
    result = cli("doctor", "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["python"]["ok"] and checks["database"]["ok"]
    assert not checks["model"]["ok"]
    assert "--model echo" in checks["model"]["fix"]
    assert not checks["runtime"]["ok"] and "podman" in checks["runtime"]["fix"]


def test_doctor_checks_each_channel_plugins_credentials(cli, monkeypatch):
    # The first-party channel plugins are installed by scripts/test.
    checks = [
        c for c in json.loads(cli("doctor", "--json").stdout) if c["name"] == "channel telegram"
    ]
    assert checks and not checks[0]["ok"] and "TELEGRAM_BOT_TOKEN" in checks[0]["fix"]
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAFakeTokenForTheDoctorTest_0123456")
    checks = [
        c for c in json.loads(cli("doctor", "--json").stdout) if c["name"] == "channel telegram"
    ]
    assert [c["ok"] for c in checks] == [True]
