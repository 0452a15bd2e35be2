"""The periodic agents of this setup: shipped definitions (off until enabled), then the
`[periodic.NAME]` tables of config.toml, which override a shipped one key by key or
define a new one."""

from __future__ import annotations

import importlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from pynchy_cli.core.errors import ConfigError, NotFoundError
from pynchy_cli.core.periodic.definition import PeriodicAgent
from pynchy_cli.core.periodic.settings import PERIODIC_NAME_RE, PeriodicSettings

_SHIPPED_MODULE = "pynchy_cli.core.periodic.shipped"
log = logging.getLogger("pynchy.periodic")


def shipped_agents() -> dict[str, PeriodicAgent]:
    """pynchy's own periodic agents; none when that package is not there."""
    try:
        # By name: the shipped package imports this package's definitions.
        module = importlib.import_module(_SHIPPED_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and _SHIPPED_MODULE.startswith(exc.name):
            return {}
        raise
    return {name: replace(agent) for name, agent in getattr(module, "SHIPPED", {}).items()}


def load_periodic(settings: Any, config_dir: Path | None = None) -> dict[str, PeriodicAgent]:
    """Every periodic agent by name. `config_dir` is where a relative prompt_file is read
    (default: the config folder pynchy uses now)."""
    if config_dir is None:
        from pynchy_cli.core.paths import resolve_paths

        config_dir = resolve_paths().config_dir
    agents = shipped_agents()
    tables: dict[str, PeriodicSettings] = getattr(settings, "periodic", None) or {}
    for name, table in tables.items():
        base = agents.get(name)
        agents[name] = _merge(name, base, table, config_dir)
    for agent in agents.values():
        _check_profile(settings, agent)
    return dict(sorted(agents.items()))


def get_periodic(settings: Any, name: str, config_dir: Path | None = None) -> PeriodicAgent:
    agents = load_periodic(settings, config_dir)
    if name not in agents:
        known = ", ".join(agents) or "none defined"
        raise NotFoundError(
            f"no periodic agent {name!r} ({known})",
            f"Define one with [periodic.{name}] in config.toml; list them: pynchy periodic list",
        )
    return agents[name]


def _merge(
    name: str, base: PeriodicAgent | None, table: PeriodicSettings, config_dir: Path
) -> PeriodicAgent:
    where = f"periodic.{name}"
    if not PERIODIC_NAME_RE.match(name):
        raise ConfigError(
            f"invalid setting {where}: use lowercase letters, digits, - or _ in the name",
            "Rename the [periodic.NAME] table",
        )
    given = table.model_dump(exclude_none=True)
    prompt_file = given.pop("prompt_file", None)
    if prompt_file is not None:
        given["prompt"] = _read_prompt(where, config_dir, prompt_file)
    if base is None:
        missing = [k for k in ("schedule", "group", "prompt") if k not in given]
        if missing:
            what = "prompt or prompt_file" if missing == ["prompt"] else ", ".join(missing)
            raise ConfigError(
                f"invalid setting {where}: {what} missing",
                f'A periodic agent needs schedule, group and prompt: [{where}] schedule = "0 7'
                ' * * *", group = "main", prompt = "..."',
            )
        given.setdefault("enabled", True)  # defining one in config means wanting it
        return PeriodicAgent(name=name, source="config", **given)
    return replace(base, **given)


def _read_prompt(where: str, config_dir: Path, prompt_file: str) -> str:
    path = Path(prompt_file).expanduser()
    path = path if path.is_absolute() else config_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"invalid setting {where}.prompt_file: cannot read {path} ({exc.strerror})",
            'Give a file relative to the config folder, or write prompt = "..." instead',
        ) from None
    if not text.strip():
        raise ConfigError(f"invalid setting {where}.prompt_file: {path} is empty")
    return text


def _check_profile(settings: Any, agent: PeriodicAgent) -> None:
    if agent.profile is None:
        return
    from pynchy_cli.core.policy.profiles import profile_names

    names = profile_names(settings)
    if agent.profile not in names:
        raise ConfigError(
            f"invalid setting periodic.{agent.name}.profile: no security profile {agent.profile!r}",
            f"Use one of {', '.join(names)}, or add [profiles.{agent.profile}] to config.toml",
        )


class PeriodicSource:
    """serve's view of the periodic agents: config.toml read again when it changes
    (`pynchy periodic enable NAME` works without a restart); a broken edit keeps the last
    good set and is logged once."""

    def __init__(self, paths: Any, settings: Any):
        self.paths = paths
        self._stamp = self._mtime()
        self._agents = load_periodic(settings, paths.config_dir)
        self._problem: str | None = None

    def _mtime(self) -> float | None:
        try:
            return self.paths.config_file.stat().st_mtime
        except OSError:
            return None

    def __call__(self) -> dict[str, PeriodicAgent]:
        stamp = self._mtime()
        if stamp != self._stamp:
            self._stamp = stamp
            from pynchy_cli.core.config import load_settings
            from pynchy_cli.core.errors import PynchyError

            try:
                self._agents = load_periodic(load_settings(self.paths), self.paths.config_dir)
                self._problem = None
            except PynchyError as exc:
                if exc.line() != self._problem:
                    self._problem = exc.line()
                    log.warning("periodic agents not reloaded: %s", exc.line())
        return self._agents
