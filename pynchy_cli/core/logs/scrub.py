"""What an event may carry into a log file: no secret, no control character, nothing huge.

Every value of every event passes through `Scrubber` (a structlog processor) before it is
written: the known secrets are replaced by the existing redaction (channel_kit's
TokenRedactor for the exact values, sdk_errors.redact for anything key-shaped), fields
named like credentials are masked whole, control characters and terminal escapes are
replaced, and strings, lists, dicts and nesting are capped.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

from pydantic import SecretStr

from pynchy_cli.core.agent_cores.sdk_errors import redact as redact_keylike
from pynchy_cli.core.channel_kit import TokenRedactor
from pynchy_cli.core.paths import Paths

MASK = "****"
MIN_SECRET = 6  # shorter values would mask ordinary words
MAX_ITEMS = 100  # per list or dict
MAX_DEPTH = 6
MAX_KEY = 64

# A field whose name says it holds a credential is masked whatever its value.
SECRET_FIELD = re.compile(
    r"(?i)(^|[_\-.])(api_?key|access_?key|private_?key|secret|password|passwd|token"
    r"|authorization|cookie|credentials?)$"
)
# Environment variables and config keys whose values are secrets.
SECRET_NAME = re.compile(r"(?i)(key|token|secret|password|passwd|credential)")
# C0/C1 controls except tab and newline, and ESC: terminal escapes must not survive.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _walk_secrets(value: Any, name: str = "") -> Iterator[str]:
    """Secret strings in settings data: SecretStr values, values under secret-named keys,
    and every value of an MCP server's env and headers."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key = str(key)
            if isinstance(item, str) and (SECRET_NAME.search(key) or name in ("env", "headers")):
                yield item
            else:
                yield from _walk_secrets(item, key)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_secrets(item, name)


def known_secrets(paths: Paths, settings: Any = None) -> list[str]:
    """Every secret this process may hold: the settings' (or, without settings, the raw
    config.toml's), the environment's credentials and serve's API token."""
    found: list[str] = []
    if settings is not None:
        found += _walk_secrets(settings.model_dump())
    else:
        # Not config.load_settings: a broken config must not stop a log.
        with contextlib.suppress(OSError, ValueError):
            found += _walk_secrets(tomllib.loads(paths.config_file.read_text()))
    found += [v for k, v in os.environ.items() if SECRET_NAME.search(k)]
    with contextlib.suppress(OSError):
        found.append(paths.api_token_file.read_text().strip())
    # Longest first: a secret that contains another is replaced whole.
    return sorted({s for s in found if len(s) >= MIN_SECRET}, key=len, reverse=True)


class Scrubber:
    """A structlog processor: the event dict with every key and value made safe."""

    def __init__(self, secrets: Iterable[str], max_chars: int = 2_000):
        self.redactor = TokenRedactor(*secrets, mask=MASK)
        self.max_chars = max_chars

    def __call__(self, logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return {self.key(k): self.value(v, k) for k, v in event_dict.items()}

    def key(self, key: Any) -> str:
        return self.text(str(key))[:MAX_KEY]

    def text(self, value: str) -> str:
        clean = redact_keylike(self.redactor.redact(value), None)
        clean = _CONTROL.sub("\ufffd", clean)
        if len(clean) > self.max_chars:
            cut = len(clean) - self.max_chars
            clean = f"{clean[: self.max_chars]}...[{cut} more characters]"
        return clean

    def value(self, value: Any, name: str = "", depth: int = 0) -> Any:
        if SECRET_FIELD.search(str(name)) and value not in (None, "", False):
            return MASK
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value)
        if depth >= MAX_DEPTH:
            return self.text(repr(value))
        if is_dataclass(value) and not isinstance(value, type):
            value = asdict(value)
        elif callable(getattr(value, "model_dump", None)):  # a pydantic model
            value = value.model_dump()
        if isinstance(value, Mapping):
            items = list(value.items())
            out = {self.key(k): self.value(v, k, depth + 1) for k, v in items[:MAX_ITEMS]}
            if len(items) > MAX_ITEMS:
                out["..."] = f"{len(items) - MAX_ITEMS} more items"
            return out
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            out_list = [self.value(v, name, depth + 1) for v in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                out_list.append(f"...{len(items) - MAX_ITEMS} more items")
            return out_list
        return self.text(str(value))  # SecretStr prints as stars; anything else as text
