"""Editing config.toml in place: parsed with tomlkit (comments, order and layout kept),
written atomically with the file's mode (600 for a new one)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from pynchy_cli.core.errors import ConfigError


def read_document(config_file: Path) -> Any:
    """config.toml as a tomlkit document (empty when there is no file), or ConfigError."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(
            f"{config_file} is not valid TOML ({exc})",
            "Fix the file or move it aside; nothing was changed",
        ) from exc


def named_table(doc: Any, config_file: Path, section: str, name: str) -> Any:
    """`[SECTION.NAME]` of the document, made when missing (ConfigError when SECTION is
    something other than a table)."""
    import tomlkit

    parent = doc.get(section)
    if parent is None:
        parent = tomlkit.table(is_super_table=True)
        doc[section] = parent
    elif not isinstance(parent, dict):
        raise ConfigError(f"{section} in {config_file} is not a table", f"Make it [{section}.NAME]")
    table = parent.get(name)
    if table is None:
        table = tomlkit.table()
        parent[name] = table
    return table


def write_document(config_file: Path, doc: Any) -> None:
    import tomlkit

    text = tomlkit.dumps(doc).rstrip("\n")
    write_text(config_file, text + "\n" if text else "")


def write_text(path: Path, text: str) -> None:
    """Replace the file atomically, keeping its mode (600 for a new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
