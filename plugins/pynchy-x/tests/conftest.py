"""Each test runs with its own PYNCHY_HOME, without the user's X settings (X_*), and gets
the local X API as the fixture `fake_x`."""

from __future__ import annotations

from x_fake import FakeX

from pynchy_cli import testing

pynchy_home = testing.isolation_fixture("X_")
fake_x = testing.server_fixture(FakeX)
