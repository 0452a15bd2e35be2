"""The built-in hook plugin `ruff`: lint by fixing, not by reading a list of complaints.

In the groups `[plugin.ruff] groups` names, a bash call that runs `ruff check` (or the old
`ruff PATH`) without `--fix` is refused with "use ruff check --fix / ruff format": the
agent fixes what ruff can fix in one go instead of editing each finding by hand. `ruff
format`, `ruff check --fix` and anything else pass.

    [plugin.ruff]
    groups = ["main"]    # or ["*"]; none unless named
"""

from __future__ import annotations

import posixpath
import re

from pynchy_cli.core.plugins.doc_commands import Words, words
from pynchy_cli.core.plugins.hookspecs import hookimpl
from pynchy_cli.core.plugins.lifecycle import RunInfo

REFUSAL = "use ruff check --fix / ruff format"
# ruff's subcommands that change nothing a fix would: these pass as they are
_OTHER_SUBCOMMANDS = frozenset(
    {"format", "rule", "config", "linter", "clean", "version", "help", "server", "analyze"}
)
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "|&", "(", ")"})
_WRAPPERS = {
    ("uv", "run"),
    ("uvx",),
    ("pipx", "run"),
    ("poetry", "run"),
    ("pdm", "run"),
    ("hatch", "run"),
    ("sudo",),
    ("time",),
    ("nice",),
    ("exec",),
    ("command",),
    ("env",),
}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@hookimpl
def pynchy_before_tool(run: RunInfo, tool: str, arguments: dict) -> str | None:
    command = arguments.get("command")
    if tool != "bash" or not isinstance(command, str):
        return None
    return REFUSAL if any(_checks_without_fix(s) for s in _statements(command)) else None


pynchy_before_tool.tools = ("bash",)  # other tool calls never come here


def _statements(command: str) -> list[Words]:
    found: list[Words] = []
    for line in re.sub(r"\\\n", " ", command).splitlines():
        current: list[str] = []
        for token in words(line):
            if token in _SEPARATORS:
                found.append(tuple(current))
                current = []
            else:
                current.append(token)
        found.append(tuple(current))
    return [s for s in found if s]


def _ruff_arguments(statement: Words) -> Words | None:
    """The arguments after `ruff` when the statement runs ruff, else None."""
    rest = list(statement)
    while rest:
        if _ASSIGNMENT.match(rest[0]):
            rest.pop(0)
            continue
        head = posixpath.basename(rest[0])
        if head.startswith("python") and rest[1:3] == ["-m", "ruff"]:
            return tuple(rest[3:])
        if head == "ruff":
            return tuple(rest[1:])
        wrapper = next((w for w in _WRAPPERS if tuple([head, *rest[1 : len(w)]]) == w), None)
        if wrapper is None:
            return None
        rest = rest[len(wrapper) :]
    return None


def _checks_without_fix(statement: Words) -> bool:
    arguments = _ruff_arguments(statement)
    if arguments is None or {"--help", "-h", "--version", "-V"} & set(arguments):
        return False
    subcommand = next((a for a in arguments if not a.startswith("-")), None)
    if subcommand is None or subcommand in _OTHER_SUBCOMMANDS:
        return False
    # `ruff check ...`, or `ruff PATH` (old ruff's implicit check)
    fixes = any(a in ("--fix", "--fix-only") for a in arguments) and "--no-fix" not in arguments
    return not fixes
