"""Fixtures: a temporary PYNCHY_HOME and the local Discord server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_discord import FakeDiscord  # noqa: E402


@pytest.fixture(autouse=True)
def pynchy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "pynchy-home"
    home.mkdir()
    monkeypatch.setenv("PYNCHY_HOME", str(home))
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def fake():
    server = FakeDiscord().start()
    yield server
    server.close()
