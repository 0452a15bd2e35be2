"""Each test runs with its own PYNCHY_HOME and without the user's CalDAV settings; the
fixture `radicale` is a real Radicale server of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from radicale_server import Radicale

from pynchy_cli import testing

pynchy_home = testing.isolation_fixture("CALDAV_")


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    with Radicale(tmp_path / "radicale") as server:
        yield server
