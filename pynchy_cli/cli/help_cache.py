"""The root help page (`pynchy`, `pynchy --help`), kept once rendered.

Building it costs typer, rich and every command module, ~0.2 s; printing a kept copy costs a
few stats. A copy is used only while everything it was made from is unchanged:
- the key: the interpreter, the argument form, the PYNCHY_* and terminal variables, the
  terminal's size and whether each stream is one, and the mtimes of the sys.path folders
  (installing, upgrading or removing a package, plugins included, changes them);
- the files: pynchy's and the plugins' loaded modules and config.toml, each with the mtime
  and size it had when the page was made.
A page whose making wrote anything to stderr (a plugin that failed to load) is not kept, so
the warning shows every time. Nothing here may stop the help: any failure renders anew.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

_ENV_PREFIXES = ("PYNCHY_", "TYPER_", "_TYPER_", "RICH_")
_ENV_NAMES = (
    "COLUMNS", "LINES", "TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE",
    "TTY_INTERACTIVE", "CLICOLOR", "CLICOLOR_FORCE", "HOME", "XDG_CONFIG_HOME", "JUPYTER_COLUMNS",
)  # fmt: skip
_KEEP = 8  # pages kept: one per terminal size and home in use, the oldest dropped


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pynchy" / "help"


def _terminal_size() -> tuple[int, int] | None:
    for fd in (0, 1, 2):  # where rich looks
        try:
            return tuple(os.get_terminal_size(fd))  # type: ignore[return-value]
        except OSError:
            continue
    return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _key(args: list[str]) -> str:
    env = sorted(
        (k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES
    )
    folders = []
    for entry in sys.path:
        try:
            folders.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            folders.append((entry, None))
    streams = [_isatty(s) for s in (sys.stdin, sys.stdout, sys.stderr)]
    return json.dumps(
        [sys.executable, args, env, _terminal_size(), streams, folders], separators=(",", ":")
    )


def _stamp(path: str) -> list[Any]:
    try:
        found = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, found.st_mtime_ns, found.st_size]


def _made_from(plugin_roots: set[str]) -> list[list[Any]]:
    """The files the page was made from: loaded modules of pynchy and the plugins, the config."""
    files = []
    for name, module in list(sys.modules.items()):
        root = name.partition(".")[0]
        origin = getattr(module, "__file__", None)
        if origin and (root == "pynchy_cli" or root in plugin_roots):
            files.append(_stamp(origin))
    from pynchy_cli.core.paths import resolve_paths

    files.append(_stamp(str(resolve_paths().config_file)))
    return sorted(files)


def _plugin_roots() -> set[str]:
    if "importlib.metadata" not in sys.modules:  # no plugin was looked for
        return set()
    from importlib.metadata import entry_points

    return {ep.value.partition(".")[0].partition(":")[0] for ep in entry_points(group="pynchy")}


def _kept(path: Path, key: str) -> str | None:
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept["key"] != key:
            return None
        if any(_stamp(file) != [file, mtime, size] for file, mtime, size in kept["files"]):
            return None
        return kept["page"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep(path: Path, key: str, page: str) -> None:
    try:
        record = {"key": key, "files": _made_from(_plugin_roots()), "page": page}
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, path)
        pages = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in pages[:-_KEEP]:
            old.unlink(missing_ok=True)
    except Exception:  # an unwritable cache, say: the next help renders anew
        pass


class _Tee:
    """A text stream that passes writes through and remembers them."""

    def __init__(self, stream: Any):
        self._stream = stream
        self.parts: list[str] = []

    def write(self, text: Any) -> int:
        self.parts.append(text.decode() if isinstance(text, bytes) else text)
        return self._stream.write(text)

    def text(self) -> str:
        return "".join(self.parts)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, flush...
        return getattr(self._stream, name)


def show_root_help(args: list[str], render: Callable[[], None]) -> None:
    """Print the root help (exits like `render` would: 0 for --help, 2 for no arguments)."""
    code = 0 if args else 2  # click: a group run without a command exits 2
    try:
        key = _key(args)
        path = cache_dir() / f"{zlib.crc32(key.encode()):08x}.json"
    except Exception:
        render()
        return
    page = _kept(path, key)
    if page is not None:
        sys.stdout.write(page)
        sys.stdout.flush()
        raise SystemExit(code)
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        render()
    except SystemExit as exit:
        made = out.text()
        if exit.code == code and made and not err.text():
            _keep(path, key, made)
        raise
    finally:
        sys.stdout, sys.stderr = out._stream, err._stream
