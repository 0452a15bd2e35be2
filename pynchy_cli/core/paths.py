"""Where pynchy keeps its files.

`PYNCHY_HOME` overrides everything (config and data both under it). Otherwise config
lives in `$XDG_CONFIG_HOME/pynchy` (~/.config/pynchy) and data - the database, group
folders, logs, run sockets - in `$XDG_DATA_HOME/pynchy` (~/.local/share/pynchy).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    home_var: str | None = None  # "PYNCHY_HOME" when that variable chose both folders

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def mount_allowlist(self) -> Path:
        return self.config_dir / "mount-allowlist.toml"

    @property
    def database(self) -> Path:
        return self.data_dir / "pynchy.db"

    @property
    def groups_dir(self) -> Path:
        return self.data_dir / "groups"

    @property
    def global_memory_dir(self) -> Path:
        return self.data_dir / "global"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def runs_dir(self) -> Path:
        """Per-run socket folders (mounted into containers)."""
        return self.data_dir / "runs"

    @property
    def api_token_file(self) -> Path:
        return self.data_dir / "api-token"


def resolve_paths(environ: dict[str, str] | None = None) -> Paths:
    env = os.environ if environ is None else environ
    home = env.get("PYNCHY_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(config_dir=root, data_dir=root, home_var="PYNCHY_HOME")
    user_home = Path(env.get("HOME") or Path.home())
    config_base = Path(env.get("XDG_CONFIG_HOME") or user_home / ".config")
    data_base = Path(env.get("XDG_DATA_HOME") or user_home / ".local" / "share")
    return Paths(config_dir=config_base / "pynchy", data_dir=data_base / "pynchy")


def channel_state_dir(channel: str, data_dir: Path | None = None) -> Path:
    """Where a channel keeps its own small state: DATA/plugins/CHANNEL."""
    return (data_dir or resolve_paths().data_dir) / "plugins" / channel
