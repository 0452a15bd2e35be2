"""One exception hierarchy for every error a user can cause.

Each error carries a one-line message, a hint that says how to fix it, and an exit
code by kind. The CLI's single top-level handler prints `pynchy: error: <what>. <hint>`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # an agent run failed, a check failed
    USAGE = 2  # bad arguments (also typer's own code)
    CONFIG = 3  # config file or environment invalid
    NOT_FOUND = 4  # a named group, run, task, item does not exist
    UNAVAILABLE = 5  # a runtime, model or service is not reachable
    CONFLICT = 6  # already exists, dirty state, newer database
    DENIED = 7  # refused by the security policy
    INTERRUPTED = 130


class PynchyError(Exception):
    """Base of every error pynchy reports to a user."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message.rstrip(".")
        self.hint = hint

    def line(self) -> str:
        text = f"{self.message}."
        if self.hint:
            text += f" {self.hint}"
        return text


class UsageError(PynchyError):
    exit_code = ExitCode.USAGE


class ConfigError(PynchyError):
    exit_code = ExitCode.CONFIG


class NotFoundError(PynchyError):
    exit_code = ExitCode.NOT_FOUND


class UnavailableError(PynchyError):
    exit_code = ExitCode.UNAVAILABLE


class ConflictError(PynchyError):
    exit_code = ExitCode.CONFLICT


class DeniedError(PynchyError):
    exit_code = ExitCode.DENIED
