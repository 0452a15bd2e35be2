"""The per-invocation context: paths, settings and database, each loaded on first use."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynchy_cli.core.paths import Paths, resolve_paths

if TYPE_CHECKING:
    from sqlite_utils import Database

    from pynchy_cli.core.config import Settings


class Context:
    def __init__(self, paths: Paths | None = None, overrides: dict[str, Any] | None = None):
        self.paths = paths or resolve_paths()
        self.overrides = dict(overrides or {})

    @cached_property
    def settings(self) -> Settings:
        # config (pydantic) and the database (sqlite-utils) load on first use, so a
        # command that needs neither starts fast
        from pynchy_cli.core.config import load_settings

        return load_settings(self.paths, self.overrides)

    @cached_property
    def data_dir(self) -> Path:
        """The data folder, made usable and private (700) before anything is written in it."""
        from pynchy_cli.core.file_modes import secure_data_dir

        secure_data_dir(self.paths)
        return self.paths.data_dir

    @cached_property
    def db(self) -> Database:
        from pynchy_cli.core.db import open_db

        _ = self.data_dir
        return open_db(self.paths.database)

    def check(self) -> Context:
        """Refuse an unusable data folder or an invalid config.toml now, so that every
        command says so the same way, even one that would have used only the database."""
        _ = self.data_dir
        _ = self.settings
        return self

    def with_overrides(self, **flags: Any) -> Context:
        """A context whose settings take these flags (None means 'not given')."""
        merged = {**self.overrides, **{k: v for k, v in flags.items() if v is not None}}
        return Context(self.paths, merged)
