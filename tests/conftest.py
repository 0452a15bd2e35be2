"""Every test runs in its own temporary PYNCHY_HOME and never sees the user's config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pynchy_cli.cli.main import app

_SCRUB = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
)


@pytest.fixture(autouse=True)
def pynchy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "pynchy-home"
    home.mkdir()
    monkeypatch.setenv("PYNCHY_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the kept root help
    for name in list(os.environ):
        if (
            name.startswith(("PYNCHY_", "TELEGRAM_", "SLACK_", "DISCORD_"))
            and name not in ("PYNCHY_HOME", "PYNCHY_TEST_REQUIRE_PODMAN", "PYNCHY_TEST_REQUIRE_RAY")
            or name in _SCRUB
        ):
            monkeypatch.delenv(name, raising=False)
    return home


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(app, list(args), input=input)


@pytest.fixture
def cli() -> Cli:
    return Cli()
