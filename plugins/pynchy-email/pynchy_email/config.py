"""Where the email settings come from, what the MCP server is given, and what `pynchy
doctor` says about them.

Read on the host only: the values reach the MCP server process (which pynchy runs on the
host) through its environment, never a container. Each setting comes from its environment
variable if set, else from `[plugin.email]` in config.toml:

    EMAIL_IMAP_HOST      imap_host       the IMAP server, for reading
    EMAIL_IMAP_PORT      imap_port       default 993 (ssl), 143 (starttls, none)
    EMAIL_IMAP_USER      imap_user
    EMAIL_IMAP_PASSWORD  imap_password
    EMAIL_IMAP_SECURITY  imap_security   ssl (default) | starttls | none
    EMAIL_SMTP_HOST      smtp_host       the SMTP server, for sending
    EMAIL_SMTP_PORT      smtp_port       default 587 (starttls), 465 (ssl), 25 (none)
    EMAIL_SMTP_USER      smtp_user       default: imap_user
    EMAIL_SMTP_PASSWORD  smtp_password   default: imap_password
    EMAIL_SMTP_SECURITY  smtp_security   starttls (default) | ssl | none
    EMAIL_FROM           from_address    the sender, e.g. "Ann <ann@example.com>";
                                         default: smtp_user when it is an address
                         groups          groups whose agents see the tools (default: all)

Reading needs the IMAP settings, sending the SMTP ones; either works without the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from pynchy_cli import ConfigError, plugin_table_problems, plugin_values

NAME = "email"
ENV = {
    "imap_host": "EMAIL_IMAP_HOST",
    "imap_port": "EMAIL_IMAP_PORT",
    "imap_user": "EMAIL_IMAP_USER",
    "imap_password": "EMAIL_IMAP_PASSWORD",
    "imap_security": "EMAIL_IMAP_SECURITY",
    "smtp_host": "EMAIL_SMTP_HOST",
    "smtp_port": "EMAIL_SMTP_PORT",
    "smtp_user": "EMAIL_SMTP_USER",
    "smtp_password": "EMAIL_SMTP_PASSWORD",
    "smtp_security": "EMAIL_SMTP_SECURITY",
    "from_address": "EMAIL_FROM",
}
KNOWN = {*ENV, "groups", "enabled"}
SECURITY = ("ssl", "starttls", "none")
PORTS = {
    "imap": {"ssl": 993, "starttls": 143, "none": 143},
    "smtp": {"ssl": 465, "starttls": 587, "none": 25},
}
DEFAULT_SECURITY = {"imap": "ssl", "smtp": "starttls"}


def _hint(side: str) -> str:
    up = side.upper()
    return (
        f"Set EMAIL_{up}_HOST, EMAIL_{up}_USER and EMAIL_{up}_PASSWORD on the host, or"
        f" {side}_host, {side}_user and {side}_password in [plugin.email] of config.toml"
    )


@dataclass(frozen=True)
class Account:
    """One server: where it is, how to log in, and how the connection is protected."""

    side: str  # imap | smtp
    host: str
    port: int
    user: str
    password: str
    security: str

    def __repr__(self) -> str:  # never print the password
        return f"Account({self.side} {self.user}@{self.host}:{self.port}, {self.security})"


def check(
    table: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
    """The settings (environment first, then the table; SMTP login defaulting to IMAP's)
    and (what, fix) for each problem."""
    values = plugin_values(table, ENV, environ)
    for key in ("user", "password"):
        values[f"smtp_{key}"] = values[f"smtp_{key}"] or values[f"imap_{key}"]
    sender = values["from_address"] or values["smtp_user"]
    values["from_address"] = sender if sender and "@" in parseaddr(sender)[1] else None
    problems: list[tuple[str, str]] = []
    if not values["imap_host"] and not values["smtp_host"]:
        problems.append(("email: no IMAP or SMTP host is set", _hint("imap")))
    for side in ("imap", "smtp"):  # a side left out on purpose is fine
        problems += _side_problems(side, values) if values[f"{side}_host"] else []
    if values["smtp_host"] and not values["from_address"]:
        problems.append(
            (
                "email: no sender address (EMAIL_FROM) is set",
                'Set EMAIL_FROM or from_address = "Name <you@example.com>" in [plugin.email]',
            )
        )
    problems += plugin_table_problems(NAME, table, KNOWN)
    return values, problems


def _side_problems(side: str, values: Mapping[str, str | None]) -> list[tuple[str, str]]:
    what = "reading" if side == "imap" else "sending"
    if not values[f"{side}_host"]:
        return [
            (f"email: no {side.upper()} host (EMAIL_{side.upper()}_HOST): no {what}", _hint(side))
        ]
    problems = []
    for key in ("user", "password"):
        if not values[f"{side}_{key}"]:
            problems.append((f"email: EMAIL_{side.upper()}_{key.upper()} is not set", _hint(side)))
    security = values[f"{side}_security"]
    if security is not None and security not in SECURITY:
        problems.append(
            (
                f"email: {side}_security {security!r} is not one of {', '.join(SECURITY)}",
                f"Use ssl (a TLS port such as {PORTS[side]['ssl']}) or starttls",
            )
        )
    port = values[f"{side}_port"]
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        problems.append((f"email: {side}_port {port!r} is not a port number", "Use 1-65535"))
    return problems


def usable_sides(values: Mapping[str, str | None]) -> list[str]:
    """imap and/or smtp: the sides set up well enough to log in."""
    return [side for side in ("imap", "smtp") if not _side_problems(side, values)]


def account(side: str, values: Mapping[str, str | None]) -> Account:
    """The IMAP or SMTP account, or ConfigError (one line and a hint) if it is not usable."""
    problems = _side_problems(side, values)
    if problems:
        raise ConfigError(*problems[0])
    security = values[f"{side}_security"] or DEFAULT_SECURITY[side]
    port = values[f"{side}_port"]
    return Account(
        side=side,
        host=str(values[f"{side}_host"]),
        port=int(port) if port else PORTS[side][security],
        user=str(values[f"{side}_user"]),
        password=str(values[f"{side}_password"]),
        security=security,
    )


def sender(values: Mapping[str, str | None]) -> str:
    if not values["from_address"]:
        raise ConfigError(
            "email: no sender address (EMAIL_FROM) is set",
            'Set EMAIL_FROM or from_address = "Name <you@example.com>" in [plugin.email]',
        )
    return str(values["from_address"])


def server_env(values: Mapping[str, str | None]) -> dict[str, str]:
    """The MCP server's environment: the settings that are set, under their variables."""
    return {ENV[key]: value for key, value in values.items() if key in ENV and value}


def server_values(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The MCP server's side: its environment is all it has."""
    return check({}, environ)[0]


def doctor_problems(settings: Any) -> list[tuple[str, str]]:
    """(what, fix) for everything wrong with the email settings, checked offline."""
    return check(settings.plugin.get(NAME, {}), os.environ)[1]
