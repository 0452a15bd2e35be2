"""`pynchy periodic enable/disable NAME`: `[periodic.NAME] enabled` written into
config.toml with tomlkit, keeping every other line, comment and the file's mode."""

from __future__ import annotations

from pathlib import Path

from pynchy_cli.core.config_file import named_table, read_document, write_document


def set_periodic_enabled(config_file: Path, name: str, enabled: bool) -> bool:
    """Write `[periodic.NAME] enabled = true|false`. Returns whether the file changed."""
    doc = read_document(config_file)
    table = named_table(doc, config_file, "periodic", name)
    if table.get("enabled") is enabled:
        return False
    table["enabled"] = enabled
    write_document(config_file, doc)
    return True
