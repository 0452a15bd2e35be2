"""The per-invocation context: paths, settings and database, each loaded on first use."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.config import Settings, load_settings
from pynchy_cli.core.db import open_db
from pynchy_cli.core.file_modes import secure_data_dir
from pynchy_cli.core.paths import Paths, resolve_paths


class Context:
    def __init__(self, paths: Paths | None = None, overrides: dict[str, Any] | None = None):
        self.paths = paths or resolve_paths()
        self.overrides = dict(overrides or {})

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.paths, self.overrides)

    @cached_property
    def db(self) -> Database:
        secure_data_dir(self.paths)  # 700 before anything is written into it
        return open_db(self.paths.database)

    def with_overrides(self, **flags: Any) -> Context:
        """A context whose settings take these flags (None means 'not given')."""
        merged = {**self.overrides, **{k: v for k, v in flags.items() if v is not None}}
        return Context(self.paths, merged)
