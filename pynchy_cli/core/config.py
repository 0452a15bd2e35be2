"""Settings: defaults < config.toml < environment (PYNCHY_*) < flags, validated on load.

Nested keys come from the environment with a double underscore:
`PYNCHY_LIMITS__RUN_TIMEOUT=60`. Provider keys are also read from their usual
variables (ANTHROPIC_API_KEY, OPENAI_API_KEY, and *_BASE_URL) into the accounts
`anthropic` and `openai`, unless config.toml defines those accounts itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pynchy_cli.core.errors import ConfigError
from pynchy_cli.core.paths import Paths

Provider = Literal["anthropic", "openai"]
# auto, podman, docker, process, or a runtime a plugin registers (checked by get_runtime)
RuntimeKind = str

DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-5-5",
    "openai": "gpt-4.1-mini",
}


class Account(BaseModel):
    """Credentials for one provider subscription. They never leave the host."""

    provider: Provider
    api_key: SecretStr | None = None
    base_url: str | None = None


class Limits(BaseModel):
    cpus: float = Field(1.0, gt=0)
    memory: str = "1g"
    run_timeout: int = Field(600, gt=0, description="seconds before a run is killed")
    idle_timeout: int = Field(60, ge=0, description="seconds a warm container waits")
    max_concurrent: int = Field(4, gt=0)
    max_request_bytes: int = Field(1_048_576, gt=0, description="cap on one socket request")
    max_turns: int = Field(50, gt=0, description="model turns per run")
    approval_timeout: int = Field(
        300, gt=0, description="seconds a person has to approve a tool call; then denied"
    )


class McpServerSettings(BaseModel):
    """[mcp.NAME]: an MCP server the host runs for agents (see core.plugins.mcp)."""

    model_config = {"extra": "forbid"}

    command: list[str] | None = None
    url: str | None = None
    env: dict[str, str] = {}
    headers: dict[str, str] = {}
    groups: list[str] | None = None
    risk: Literal["read", "write", "external", "destructive"] = "external"
    description: str = ""
    cwd: str | None = None
    timeout: float = Field(120.0, gt=0)
    enabled: bool = True

    @model_validator(mode="after")
    def _command_or_url(self) -> McpServerSettings:
        if self.enabled and (self.command is None) == (self.url is None):
            raise ValueError("give either command or url")
        if self.command is not None and not self.command:
            raise ValueError("command must not be empty")
        return self


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8787, gt=0, lt=65536)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PYNCHY_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    assistant_name: str = "Pynchy"
    model: str | None = Field(
        None, description="default model, e.g. echo, anthropic:claude-sonnet-5-5, openai:gpt-4o"
    )
    account: str | None = Field(None, description="default account name")
    runtime: RuntimeKind = "auto"
    allow_process_runtime: bool = False
    container_socket: str | None = None
    image: str = "localhost/pynchy-agent:latest"
    limits: Limits = Limits()
    api: ApiSettings = ApiSettings()
    accounts: dict[str, Account] = {}
    plugin: dict[str, dict[str, Any]] = Field(
        {}, description="per-plugin settings: [plugin.NAME], with enabled = false to disable"
    )
    mcp: dict[str, McpServerSettings] = Field(
        {}, description="MCP servers the host runs for agents: [mcp.NAME]"
    )

    @field_validator("assistant_name")
    @classmethod
    def _name_is_a_word(cls, value: str) -> str:
        if not value or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("must be a single word of letters, digits, - or _")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = InitSettingsSource(settings_cls, init_kwargs=_toml_data.get({}))
        return (init_settings, env_settings, toml)


_toml_data: ContextVar[dict[str, Any]] = ContextVar("_toml_data")

_SECRET_KEY = re.compile(r"token|key|secret|password", re.IGNORECASE)

_PROVIDER_ENV = {
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
}


def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc})",
            "Fix the file or move it aside; nothing was changed",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror})", "Check its permissions") from exc


def load_settings(paths: Paths, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate settings. `overrides` are the command line's flags (highest)."""
    data = read_toml(paths.config_file)
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    token = _toml_data.set(data)
    try:
        settings = Settings(**flags)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise ConfigError(
            f"invalid setting {where}: {err['msg']}",
            f"Check {paths.config_file} and PYNCHY_* variables",
        ) from exc
    finally:
        _toml_data.reset(token)
    _add_env_accounts(settings)
    return settings


def _add_env_accounts(settings: Settings) -> None:
    for provider, (key_var, url_var) in _PROVIDER_ENV.items():
        if provider in settings.accounts:
            continue
        key, url = os.environ.get(key_var), os.environ.get(url_var)
        if key or url:
            settings.accounts[provider] = Account(
                provider=provider,  # type: ignore[arg-type]
                api_key=SecretStr(key) if key else None,
                base_url=url or None,
            )


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with every secret replaced, safe to print or log."""
    data = settings.model_dump(mode="json")
    for account in data.get("accounts", {}).values():
        if account.get("api_key"):
            account["api_key"] = "**** (set)"
    for table in data.get("plugin", {}).values():
        for key in table:
            if _SECRET_KEY.search(key) and table[key]:
                table[key] = "**** (set)"
    for server in data.get("mcp", {}).values():  # MCP credentials live in env and headers
        for part in ("env", "headers"):
            for key in server.get(part) or {}:
                server[part][key] = "**** (set)"
    return data
