"""Each test runs with its own PYNCHY_HOME and without the user's Slack settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from slack_fake import FakeSlack  # noqa: E402


@pytest.fixture(autouse=True)
def pynchy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "pynchy-home"
    home.mkdir()
    monkeypatch.setenv("PYNCHY_HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("SLACK_", "PYNCHY_")) and name != "PYNCHY_HOME":
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()
