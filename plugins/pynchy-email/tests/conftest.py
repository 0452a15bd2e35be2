"""Each test runs with its own PYNCHY_HOME and without the user's EMAIL_* settings; the
fixtures `dovecot` (IMAP) and `smtp` are real servers of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from mail_servers import Dovecot, SmtpSink, dovecot_missing

from pynchy_cli import testing

pynchy_home = testing.isolation_fixture("EMAIL_")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    missing = dovecot_missing()
    if missing:
        if os.environ.get("CI"):  # CI installs it (scripts/test): not having it is a failure
            pytest.fail(missing)
        pytest.skip(missing)
    with Dovecot() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server
