"""A small TOML writer (tomllib only reads): config.toml, and keys merged into a file."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON's string escapes (\" \\ \n \t \uXXXX ...) are all valid in a TOML basic string.
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to TOML")


def dumps(data: dict[str, Any]) -> str:
    """TOML text for `data`; None values are left out, nested mappings become [tables]."""
    lines: list[str] = []
    _table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _table(data: dict[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if v is not None and not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if path and (scalars or not tables):
        lines.append("")
        lines.append("[" + ".".join(_key(p) for p in path) + "]")
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        _table(value, [*path, key], lines)


def _parses(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _header(line: str) -> tuple[str, ...] | None:
    """The table a `[a.b]` line opens; None for an array of tables (`[[a]]`), never merged into."""
    parsed = _parses(line)
    if parsed is None or line.lstrip().startswith("[["):
        return None
    path: list[str] = []
    while len(parsed) == 1:
        key, value = next(iter(parsed.items()))
        if not isinstance(value, dict):
            break
        path.append(key)
        parsed = value
    return tuple(path)


def _tables(settings: dict[str, Any], path: tuple[str, ...] = ()) -> dict[tuple, dict[str, Any]]:
    """{table path: {key: value}} for the scalar and array values in nested `settings`."""
    out: dict[tuple, dict[str, Any]] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_tables(value, (*path, str(key))))
        elif value is not None:
            out.setdefault(path, {})[str(key)] = value
    return out


def merge(text: str, settings: dict[str, Any]) -> str:
    """`text`, a TOML file, with every value of `settings` (nested tables) set in it.

    Only the lines of keys whose value differs are rewritten; a missing key is added at the
    end of its table, a missing table at the end of the file. Every other line, comments
    included, stays as it was. Raises ValueError if `text` is not TOML or the result would
    not hold the settings (a key set another way, such as a dotted key in a parent table).
    """
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML ({exc})") from None
    wanted = _tables(settings)
    lines = text.splitlines()
    out: list[str] = []
    seen: set[tuple] = set()  # (table, key) found in the file
    opened: set[tuple] = {()}
    table: tuple[str, ...] | None = ()
    insert_at = 0  # after the current table's last header or key line

    def close_table() -> None:
        if table is None:
            return
        missing = [
            f"{_key(k)} = {_value(v)}"
            for k, v in wanted.get(table, {}).items()
            if (table, k) not in seen
        ]
        out[insert_at:insert_at] = missing
        seen.update((table, k) for k in wanted.get(table, {}))

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            out.append(line)
            i += 1
            continue
        if stripped.startswith("["):
            close_table()
            table = _header(stripped)
            if table is not None:
                opened.add(table)
            out.append(line)
            insert_at = len(out)
            i += 1
            continue
        end = i + 1  # a value may span lines (arrays, multi-line strings)
        while _parses("\n".join(lines[i:end])) is None and end < len(lines):
            end += 1
        parsed = _parses("\n".join(lines[i:end])) or {}
        key, value = next(iter(parsed.items()), (None, None))
        wants = wanted.get(table, {}) if table is not None else {}
        if key in wants and not isinstance(value, dict):  # a dict: a dotted key, not this one
            seen.add((table, key))
            if value == wants[key]:
                out.extend(lines[i:end])
            else:
                out.append(f"{_key(key)} = {_value(wants[key])}")
        else:
            out.extend(lines[i:end])
        insert_at = len(out)
        i = end
    close_table()

    for path, keys in wanted.items():
        if path in opened:
            continue
        if out and out[-1].strip():
            out.append("")
        out.append("[" + ".".join(_key(p) for p in path) + "]")
        out.extend(f"{_key(k)} = {_value(v)}" for k, v in keys.items())
    result = "\n".join(out) + "\n" if out else ""
    _check_holds(result, wanted)
    return result


def _check_holds(text: str, wanted: dict[tuple, dict[str, Any]]) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"the settings cannot be merged in ({exc})") from None
    for path, keys in wanted.items():
        where: Any = data
        for part in path:
            where = where.get(part, {}) if isinstance(where, dict) else {}
        for key, value in keys.items():
            if not isinstance(where, dict) or where.get(key) != value:
                name = ".".join((*path, key))
                raise ValueError(f"{name} could not be set (is it set some other way there?)")
