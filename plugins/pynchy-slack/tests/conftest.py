"""Each test runs with its own PYNCHY_HOME, without the user's Slack settings, and gets the
local Slack as the fixture `slack`."""

from __future__ import annotations

from slack_fake import FakeSlack

from pynchy_cli import testing

pynchy_home = testing.isolation_fixture("SLACK_")
slack = testing.server_fixture(FakeSlack)
