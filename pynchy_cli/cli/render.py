"""How run events look on a terminal: text plainly, tools compactly, errors in red."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape

from pynchy_cli.cli.output import console, err_console


def _brief(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_event(event: dict[str, Any], *, full: bool = False) -> None:
    kind, data = event["kind"], event["data"]
    if kind == "text":
        console.print(escape(data["text"]), soft_wrap=True)
    elif kind == "thinking":
        console.print(f"[dim italic]{escape(_brief(data['text'], 10**6 if full else 200))}[/]")
    elif kind == "tool_use":
        args = data.get("input", {})
        shown = json.dumps(args, ensure_ascii=False, indent=2) if full else _brief(args)
        console.print(f"[cyan]→ {escape(data['name'])}[/] [dim]{escape(shown)}[/]", soft_wrap=True)
    elif kind == "tool_result":
        style = "red" if data.get("is_error") else "dim"
        content = data.get("content", "")
        shown = content if full else _brief(content)
        console.print(f"[{style}]← {escape(shown)}[/]", soft_wrap=True)
    elif kind == "error":
        err_console.print(f"[red]error:[/] {escape(data.get('message', ''))}", soft_wrap=True)
    elif kind == "usage" and full:
        cost = data.get("cost_usd")
        console.print(
            f"[dim]usage: {data.get('input_tokens', 0)} in / {data.get('output_tokens', 0)} out"
            + (f" · ${cost:.4f}" if cost else "")
            + f" ({escape(str(data.get('model', '')))})[/]"
        )
    elif kind == "result" and full:
        console.print(f"[bold]result ({escape(data.get('status', ''))})[/]")


def summary_line(run: dict[str, Any]) -> str:
    tokens = (run.get("input_tokens") or 0) + (run.get("output_tokens") or 0)
    cost = run.get("cost_usd") or 0.0
    parts = [f"run {run['id']} {run['status']}", f"{run.get('model')}", f"{tokens} tokens"]
    if cost:
        parts.append(f"${cost:.4f}")
    return " · ".join(parts)
