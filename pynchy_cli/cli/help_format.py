"""How `--help` looks: click's metavars, and brackets that rich markup does not eat.

typer 0.29 labels every parameter with its annotation (`--json <bool>`, `--group <str>`,
`{name} <str>`). pynchy's help shows what click always showed: nothing after a flag, TEXT,
INTEGER, PATH or the choices after an option, and an argument by its NAME (`[NAME]` when
optional, `NAME...` when repeated). typer builds its parameter objects itself (plugin
commands and every `--help` option included), so the labels are changed on its classes,
once, when the root app is built. A metavar a command gives explicitly is kept.

Help text is rich markup, where `[plugin.NAME]` or `[profiles]` would be taken for a
style and vanish; `keep_brackets` escapes every bracket that is not a real style or tag.
"""

from __future__ import annotations

import re
from typing import Any

from rich.errors import StyleSyntaxError
from rich.style import Style
from typer.core import TyperArgument, TyperOption

_TAG = re.compile(r"(\\*)\[([a-z#/@][^\[]*?)\]")  # rich's own pattern for a markup tag

_TYPE_LABELS = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "FLOAT",
    "bool": "BOOLEAN",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIRECTORY",
    "datetime": "DATETIME",
}


def type_label(typer_label: str) -> str:
    """`<str>` -> TEXT, `<list[int]>` -> INTEGER, `<a|b>` -> [a|b]."""
    label = typer_label.strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    if "|" in label:
        return f"[{label}]"
    return _TYPE_LABELS.get(label, label.upper())


def _option_type(self: TyperOption, ctx: Any) -> str | None:
    if self.metavar is not None:
        return self.metavar
    if self.is_flag or self.count:
        return None
    label = type_label(self.display_type(ctx))
    return f"{label}..." if self.nargs != 1 else label


def _argument_name(self: TyperArgument) -> str:
    return self.metavar if self.metavar is not None else (self.name or "").upper()


def _argument_type(self: TyperArgument, ctx: Any) -> str | None:
    return None  # the NAME says it; click showed no type for arguments


def _argument_usage(self: TyperArgument) -> str:
    name = self.display_name_raw
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if self.required else f"[{name}]"


def use_click_metavars() -> None:
    """Label parameters as click did (idempotent)."""
    TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
    TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[assignment]
    TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign]
    TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]


def keep_brackets(text: str) -> str:
    """Help text with every `[x]` that rich would take for an unknown style escaped, so it
    shows as written; real markup (`[bold]`, `[/]`, `[link=...]`) is left alone."""

    def fix(match: re.Match[str]) -> str:
        slashes, tag = match[1], match[2]
        if len(slashes) % 2 or tag.startswith(("/", "@", "link")) or _is_style(tag):
            return match[0]  # escaped already, or real markup
        return f"{slashes}\\[{tag}]"

    return _TAG.sub(fix, text)


def _is_style(tag: str) -> bool:
    try:
        Style.parse(tag)
    except StyleSyntaxError:
        return False
    return True


def escape_help_brackets(command: Any) -> None:
    """keep_brackets on the help of a command, its parameters and its subcommands."""
    if command.help:
        command.help = keep_brackets(command.help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = keep_brackets(param.help)
    for sub in getattr(command, "commands", {}).values():
        escape_help_brackets(sub)
