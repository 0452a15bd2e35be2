"""Where the X plugin's settings come from, what its MCP server is handed, and what
`pynchy doctor` says about them.

Read on the host only; the MCP server (also on the host) gets them in its environment and
no container ever sees them. Each setting comes from its environment variable if set, else
from `[plugin.x]` in config.toml:

    X_CONSUMER_KEY         consumer_key          OAuth 1.0a: the app's API key
    X_CONSUMER_SECRET      consumer_secret       OAuth 1.0a: the app's API key secret
    X_ACCESS_TOKEN         access_token          OAuth 1.0a: the account's access token
    X_ACCESS_TOKEN_SECRET  access_token_secret   OAuth 1.0a: the account's access token secret
    X_BEARER_TOKEN         bearer_token          or an OAuth 2.0 user access token
    X_API_URL              api_url               where requests go (default https://api.twitter.com)
    X_MAX_POST_LENGTH      max_post_length       weighted characters a post may have (280)
                           groups                groups whose agents see the tools (default all)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pynchy_cli import plugin_table_problems, plugin_values

NAME = "x"
DEFAULT_API_URL = "https://api.twitter.com"  # the host tweepy's Client talks to
DEFAULT_MAX_POST_LENGTH = 280  # X's limit for accounts without Premium (25,000 with it)
LONGEST_POST = 25_000
OAUTH1 = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
ENV = {
    **{key: f"X_{key.upper()}" for key in OAUTH1},
    "bearer_token": "X_BEARER_TOKEN",
    "api_url": "X_API_URL",
    "max_post_length": "X_MAX_POST_LENGTH",
}
KNOWN = {*ENV, "groups", "enabled"}
# the server's tools: reading shows what strangers wrote; publishing is seen by anyone
READING_TOOLS = ("get_post", "mentions", "search_recent")
PUBLISHING_TOOLS = ("post", "reply", "quote", "retweet", "like")
SETUP_HINT = (
    "Set X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET"
    " (OAuth 1.0a, read and write) or X_BEARER_TOKEN (an OAuth 2.0 user token), or the same"
    " keys in [plugin.x] of config.toml"
)


@dataclass(frozen=True)
class XConfig:
    consumer_key: str = ""
    consumer_secret: str = ""
    access_token: str = ""
    access_token_secret: str = ""
    bearer_token: str = ""
    api_url: str = DEFAULT_API_URL
    max_post_length: int = DEFAULT_MAX_POST_LENGTH

    @property
    def oauth1(self) -> bool:
        """All four OAuth 1.0a keys are there (they win over a bearer token)."""
        return all(getattr(self, key) for key in OAUTH1)

    @property
    def usable(self) -> bool:
        return self.oauth1 or bool(self.bearer_token)

    def server_env(self) -> dict[str, str]:
        """The MCP server's environment: the settings under their variable names."""
        return {ENV[f.name]: str(getattr(self, f.name)) for f in fields(self)}

    def __repr__(self) -> str:  # never print the keys
        auth = "oauth1" if self.oauth1 else "bearer" if self.bearer_token else "none"
        return f"XConfig(auth={auth!r}, api_url={self.api_url!r})"


def _check(
    table: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[XConfig, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    values = plugin_values(table, ENV, environ)
    keys = {key: values[key] or "" for key in (*OAUTH1, "bearer_token")}
    present = [key for key in OAUTH1 if keys[key]]
    if 0 < len(present) < len(OAUTH1):
        missing = ", ".join(ENV[key] for key in OAUTH1 if not keys[key])
        problems.append((f"x: OAuth 1.0a needs all four keys; {missing} not set", f"Set {missing}"))
    elif not present and not keys["bearer_token"]:
        problems.append(("x: no X credentials", SETUP_HINT))
    api_url = (values["api_url"] or DEFAULT_API_URL).rstrip("/")
    if not api_url.startswith(("http://", "https://")):
        problems.append(
            (f"x: api_url {api_url!r} is not an http(s) URL", "Unset X_API_URL or api_url")
        )
        api_url = DEFAULT_API_URL
    raw_length = values["max_post_length"] or str(DEFAULT_MAX_POST_LENGTH)
    try:
        max_length = int(raw_length)
        if not 1 <= max_length <= LONGEST_POST:
            raise ValueError
    except ValueError:
        problems.append(
            (
                f"x: max_post_length {raw_length!r} is not a whole number from 1 to {LONGEST_POST}",
                "Use 280, or 25000 for an account with Premium",
            )
        )
        max_length = DEFAULT_MAX_POST_LENGTH
    problems += plugin_table_problems(NAME, table, KNOWN)
    config = XConfig(**keys, api_url=api_url, max_post_length=max_length)
    return config, problems


def load_config(
    table: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> XConfig:
    """The settings, with defaults where a value is unusable (doctor says which)."""
    return _check(table or {}, os.environ if environ is None else environ)[0]


def doctor_problems(settings: Any) -> list[tuple[str, str]]:
    """(what, fix) for everything wrong with the X settings; empty when usable."""
    return _check(settings.plugin.get(NAME, {}), os.environ)[1]
