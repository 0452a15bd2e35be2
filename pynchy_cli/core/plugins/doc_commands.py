"""Shell commands in markdown, and which of them a shell call that succeeded has shown to work.

Commands are the lines of fenced blocks in a shell language (```sh, ```bash, ```console, ...):
in a block with `$ ` prompts only the prompt lines are commands (the rest is output);
otherwise every line but blanks and `#` comments is one. A trailing backslash continues a
line. Commands are compared as shell words (shlex, comments dropped), so spacing and
quoting do not matter.

A block right below the marker line UNVERIFIED_MARK says of itself that it was not run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

SHELL_LANGUAGES = frozenset(
    {"sh", "bash", "shell", "console", "zsh", "shell-session", "sh-session", "shellsession"}
)
UNVERIFIED_MARK = "<!-- unverified: not run in this session -->"
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_PROMPT = re.compile(r"^\s*\$(?: |$)")

Words = tuple[str, ...]


@dataclass(frozen=True)
class Block:
    """A fenced shell block: where its fence opens (a line index) and its commands."""

    line: int
    indent: str
    commands: tuple[str, ...]
    marked: bool  # the line above is UNVERIFIED_MARK


def words(command: str) -> Words:
    """A command as shell words, comments dropped; whitespace-split if it does not parse."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return tuple(lexer)
    except ValueError:  # an unclosed quote
        return tuple(command.split())


def shell_blocks(markdown: str) -> list[Block]:
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        fence = opened["fence"]
        end = i + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        language = (opened["info"].split() or [""])[0].lower()
        if language in SHELL_LANGUAGES:
            marked = i > 0 and lines[i - 1].strip() == UNVERIFIED_MARK
            commands = tuple(_commands(lines[i + 1 : end]))
            blocks.append(Block(i, opened["indent"], commands, marked))
        i = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and not stripped.strip(fence[0])


def _commands(body: list[str]) -> Iterable[str]:
    prompted = any(_PROMPT.match(line) for line in body)
    pending = ""
    for line in body:
        if pending:  # a continued command takes the next line whatever it is
            line = re.sub(r"^\s*>\s?", "", line) if prompted else line
        elif prompted:
            if not _PROMPT.match(line):
                continue  # output
            line = _PROMPT.sub("", line, count=1)
        text = pending + line.strip()
        if text.endswith("\\"):
            pending = text[:-1].rstrip() + " "
            continue
        pending = ""
        if text and not text.startswith("#") and words(text):
            yield text
    if pending.strip():
        yield pending.strip()


def commands_in(markdown: str, *, marked_too: bool = True) -> set[Words]:
    return {
        words(c) for b in shell_blocks(markdown) if marked_too or not b.marked for c in b.commands
    }


def shown_to_work(command: str) -> set[Words]:
    """What a shell call of `command` that exited 0 shows to work: the whole command; the
    last statement (the exit code is its), or every one after a first `set -e`; and each
    part of an `a && b && c` chain among those."""
    found = {words(command)}
    statements: list[Words] = []
    for line in _logical_lines(command):
        statements += _split(words(line), ";")
    statements = [s for s in statements if s]
    if not statements:
        return found
    errexit = statements[0][:1] == ("set",) and any(
        w.startswith("-") and "e" in w for w in statements[0][1:]
    )
    for statement in statements[1:] if errexit else statements[-1:]:
        found.add(statement)
        if "||" not in statement and "&" not in statement:
            found.update(p for p in _split(statement, "&&") if p)
    return found


def _logical_lines(command: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", command)
    return [line for line in joined.splitlines() if line.strip()]


def _split(tokens: Words, separator: str) -> list[Words]:
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return [tuple(p) for p in parts]


def unverified(new: str, old: str, works: Callable[[Words], bool]) -> list[tuple[Block, list[str]]]:
    """Blocks of `new` (not marked) with commands that `old` did not already hold and that
    `works` does not vouch for, each with those commands."""
    known = commands_in(old)
    found = []
    for block in shell_blocks(new):
        if block.marked:
            continue
        missing = [c for c in block.commands if words(c) not in known and not works(words(c))]
        if missing:
            found.append((block, missing))
    return found


def mark(markdown: str, blocks: Iterable[Block]) -> str:
    """`markdown` with UNVERIFIED_MARK above each of these blocks' opening fences."""
    lines = markdown.splitlines(keepends=True)
    for block in sorted(blocks, key=lambda b: b.line, reverse=True):
        lines.insert(block.line, f"{block.indent}{UNVERIFIED_MARK}\n")
    return "".join(lines)
