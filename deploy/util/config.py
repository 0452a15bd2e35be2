"""config.toml from inventory data: settings, and accounts whose keys come from the deployer.

An account in `pynchy_accounts` names where its key is, never the key itself:

    pynchy_accounts = {
        "anthropic": {"provider": "anthropic", "api_key_env": "ANTHROPIC_API_KEY"},
        "local": {"provider": "openai", "base_url": "http://127.0.0.1:11434/v1",
                  "api_key_file": "~/.config/pynchy-deploy/ollama.key"},
    }

`api_key_env` reads the deployer's environment, `api_key_file` a file on the deployer
(`api_key` itself is accepted too, for keys that are not secret). Nothing here logs a value.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pyinfra.api.exceptions import DeployError

from deploy.util import ray_role, toml
from deploy.util.defaults import PODMAN_SOCKET, Options

_ACCOUNT_KEYS = {"provider", "base_url", "api_key", "api_key_env", "api_key_file"}


def _secret(name: str, account: dict[str, Any]) -> str | None:
    sources = [k for k in ("api_key", "api_key_env", "api_key_file") if account.get(k)]
    if len(sources) > 1:
        raise DeployError(f"account {name}: give only one of {', '.join(sources)}")
    if not sources:
        return None
    if sources[0] == "api_key":
        return str(account["api_key"])
    if sources[0] == "api_key_env":
        var = str(account["api_key_env"])
        value = os.environ.get(var, "").strip()
        if not value:
            raise DeployError(
                f"account {name}: ${var} is not set in the deployer's environment "
                "(export it before deploying)"
            )
        return value
    path = Path(str(account["api_key_file"])).expanduser()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DeployError(f"account {name}: cannot read {path} ({exc.strerror})") from None
    if not value:
        raise DeployError(f"account {name}: {path} is empty")
    return value


def accounts(opts: Options) -> dict[str, dict[str, Any]]:
    """The [accounts] tables with their keys resolved on the deployer."""
    out: dict[str, dict[str, Any]] = {}
    for name, account in opts.accounts.items():
        if not isinstance(account, dict):
            raise DeployError(f"account {name}: must be a mapping, not {type(account).__name__}")
        extra = set(account) - _ACCOUNT_KEYS
        if extra:
            raise DeployError(
                f"account {name}: unknown keys {', '.join(sorted(extra))} "
                f"(allowed: {', '.join(sorted(_ACCOUNT_KEYS))})"
            )
        if "provider" not in account:
            raise DeployError(f"account {name}: 'provider' is missing (anthropic or openai)")
        entry: dict[str, Any] = {"provider": account["provider"]}
        key = _secret(str(name), account)
        if key is not None:
            entry["api_key"] = key
        if account.get("base_url"):
            entry["base_url"] = account["base_url"]
        out[str(name)] = entry
    return out


def settings_data(opts: Options) -> dict[str, Any]:
    """Everything config.toml holds: computed defaults (runtime, Ray role) < pynchy_config <
    the periodic agents pynchy_periodic_agents defines < accounts."""
    data: dict[str, Any] = {}
    if opts.uses_podman_socket:
        data["runtime"] = "podman"
        data["container_socket"] = f"unix://{PODMAN_SOCKET}"
    data.update(ray_role.settings(opts))
    for key, value in opts.config.items():  # a [ray] table of pynchy_config adds to the role's
        both = isinstance(value, dict) and isinstance(data.get(key), dict)
        data[key] = {**data[key], **value} if both else value
    tables = {a.name: a.table() for a in opts.periodic if a.definition}
    if tables:  # periodic agents defined in inventory data: [periodic.NAME]
        data["periodic"] = {**(data.get("periodic") or {}), **tables}
    resolved = accounts(opts)
    if resolved:
        merged = dict(data.get("accounts") or {})
        merged.update(resolved)
        data["accounts"] = merged
    return data


def render(opts: Options) -> str:
    data = settings_data(opts)
    try:
        text = toml.dumps(data)
    except TypeError as exc:
        raise DeployError(f"pynchy_config: {exc}") from None
    if tomllib.loads(text) != _without_none(data):
        raise DeployError("pynchy_config: cannot be written as TOML faithfully (None in a list?)")
    if opts.validate_config:
        validate(data)
    return text


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def validate(data: dict[str, Any]) -> None:
    """Check the settings against pynchy's own model when pynchy is importable here.

    Validates each key with its field's type only (never the environment: a deployer's
    PYNCHY_* variables must not leak into the check). Messages name keys, never values.
    """
    try:
        from pydantic import TypeAdapter, ValidationError

        from pynchy_cli.core.config import Settings
    except ImportError:  # a deployer without pynchy installed: the host will check it
        return
    fields = Settings.model_fields
    for key, value in data.items():
        if key not in fields:
            raise DeployError(
                f"pynchy_config: unknown setting {key!r} (settings: {', '.join(sorted(fields))})"
            )
        try:
            TypeAdapter(fields[key].annotation).validate_python(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in (key, *err["loc"]))
            raise DeployError(f"pynchy_config: invalid setting {where}: {err['msg']}") from None
