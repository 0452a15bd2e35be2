"""The one error the email tools raise: a failure to tell the agent in one line."""

from __future__ import annotations


class MailError(Exception):
    """Server down, login refused, no such message: one line, never the password."""
