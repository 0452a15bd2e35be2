"""`pynchy periodic enable/disable NAME`: `[periodic.NAME] enabled` written into
config.toml with tomlkit, keeping every other line, comment and the file's mode."""

from __future__ import annotations

from pathlib import Path

from pynchy_cli.core.errors import ConfigError


def set_periodic_enabled(config_file: Path, name: str, enabled: bool) -> bool:
    """Write `[periodic.NAME] enabled = true|false`. Returns whether the file changed."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from pynchy_cli.core.plugins.admin import _write  # the same atomic, mode-keeping write

    text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(
            f"{config_file} is not valid TOML ({exc})",
            "Fix the file or move it aside; nothing was changed",
        ) from exc
    periodic = doc.get("periodic")
    if periodic is None:
        periodic = tomlkit.table(is_super_table=True)
        doc["periodic"] = periodic
    elif not isinstance(periodic, dict):
        raise ConfigError(f"periodic in {config_file} is not a table", "Make it [periodic.NAME]")
    table = periodic.get(name)
    if table is None:
        table = tomlkit.table()
        periodic[name] = table
    if table.get("enabled") is enabled:
        return False
    table["enabled"] = enabled
    _write(config_file, tomlkit.dumps(doc))
    return True
