"""How run events look on a terminal: text plainly, tools compactly, errors in red.

Everything shown came from a run (a model, a tool, a container): it passes through
neutralise_markup, so it can neither drive the terminal nor inject rich markup."""

from __future__ import annotations

import json
from typing import Any

from pynchy_cli.cli.output import console, err_console, neutralise, neutralise_markup


def _brief(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _str(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render_event(event: dict[str, Any], *, full: bool = False) -> None:
    kind, data = event["kind"], event["data"]
    if kind == "text":
        console.print(neutralise_markup(_str(data["text"])), soft_wrap=True)
    elif kind == "thinking":
        thought = neutralise_markup(_brief(data["text"], 10**6 if full else 200))
        console.print(f"[dim italic]{thought}[/]")
    elif kind == "tool_use":
        args = data.get("input", {})
        shown = json.dumps(args, ensure_ascii=False, indent=2) if full else _brief(args)
        name = neutralise_markup(_str(data["name"]))
        console.print(f"[cyan]→ {name}[/] [dim]{neutralise_markup(shown)}[/]", soft_wrap=True)
    elif kind == "tool_result":
        style = "red" if data.get("is_error") else "dim"
        content = data.get("content", "")
        shown = _str(content) if full else _brief(content)
        console.print(f"[{style}]← {neutralise_markup(shown)}[/]", soft_wrap=True)
    elif kind == "error":
        message = neutralise_markup(_str(data.get("message", "")))
        label = "[yellow]warning:[/]" if data.get("warning") else "[red]error:[/]"
        err_console.print(f"{label} {message}", soft_wrap=True)
    elif kind == "notice":  # the host's word to the group (a budget warning)
        notice = neutralise_markup(_str(data.get("text", "")))
        err_console.print(f"[yellow]notice:[/] {notice}", soft_wrap=True)
    elif kind == "fallback":
        switch = f"account {data.get('from_account')} {data.get('reason')}: "
        switch += f"switched to account {data.get('to_account')}"
        err_console.print(f"[yellow]{neutralise_markup(switch)}[/]", soft_wrap=True)
    elif kind == "compaction":  # old turns summarised, or a prompt trimmed, to make room
        note = neutralise_markup(_str(data.get("note", "")))
        (console if full else err_console).print(f"[magenta]compacted:[/] {note}", soft_wrap=True)
        if full and data.get("summary"):
            console.print(f"[dim]{neutralise_markup(_str(data['summary']))}[/]", soft_wrap=True)
    elif kind == "usage" and full:
        cost = data.get("cost_usd")
        line = f"usage: {data.get('input_tokens', 0)} in / {data.get('output_tokens', 0)} out"
        line += f" · ${cost:.4f}" if isinstance(cost, int | float) and cost else ""
        line += " · cost unknown" if cost is None else ""
        console.print(
            f"[dim]{neutralise_markup(line)} ({neutralise_markup(_str(data.get('model', '')))})[/]"
        )
    elif kind == "result" and full:
        console.print(f"[bold]result ({neutralise_markup(str(data.get('status', '')))})[/]")


def summary_line(run: dict[str, Any]) -> str:
    """One line about a run, plain text (neutralised, not markup-escaped)."""
    tokens = (run.get("input_tokens") or 0) + (run.get("output_tokens") or 0)
    cost = run.get("cost_usd")
    parts = [f"run {run['id']} {run['status']}", f"{run.get('model')}", f"{tokens} tokens"]
    if cost is None:
        parts.append("cost unknown")  # a model without a known price: not free
    elif cost:
        parts.append(f"${cost:.4f}")
    return neutralise(" · ".join(parts))


def unknown_if_none(cost: float | None) -> float | str:
    """A run's cost for a table: `unknown` when its model has no known price."""
    return "unknown" if cost is None else cost
