"""Run events as HTML: tool calls compact and expandable (<details>), and every other
kind of event as the transcript shows it. The live page builds the same markup in
static/app.js."""

from __future__ import annotations

from typing import Any

from pynchy_cli.core.serve.web.html import Html, esc, fmt, join
from pynchy_cli.core.serve.web.layout import brief, money, pretty, tokens


def pair_tools(events: list[dict[str, Any]]) -> list[tuple[dict, dict | None]]:
    """(tool_use, its tool_result or None) in call order. A result names its call's id
    when the container ran it, else only the tool's name: then the oldest open call of
    that name is the one it answers."""
    calls: list[list[Any]] = []
    for event in events:
        data = event["data"]
        if event["kind"] == "tool_use":
            calls.append([data, None])
        elif event["kind"] == "tool_result":
            wanted = data.get("tool_use_id")
            for call in calls:
                if call[1] is None and (
                    call[0].get("id") == wanted
                    if wanted
                    else call[0].get("name") == data.get("name")
                ):
                    call[1] = data
                    break
    return [(use, result) for use, result in calls]


def tool_details(
    use: dict[str, Any], result: dict[str, Any] | None, *, open_: bool = False
) -> Html:
    """One tool call: `→ name {args}` and its outcome; the full input and result inside."""
    if result is None:
        mark, state = "…", "running"
    elif result.get("is_error"):
        mark, state = "✗", "error"
    else:
        mark, state = "✓", "ok"
    body = fmt("<h4>input</h4><pre>{i}</pre>", i=pretty(use.get("input", {})))
    if result is not None:
        body += fmt("<h4>result</h4><pre>{r}</pre>", r=pretty(result.get("content", "")))
    return fmt(
        '<details class="tool t-{state}"{open}><summary>'
        '<span class="arrow" aria-hidden="true">→</span> '
        '<code>{name}</code> <span class="args">{args}</span> '
        '<span class="mark" aria-hidden="true">{mark}</span>'
        '<span class="visually-hidden">({state})</span></summary>'
        '<div class="tool-body">{body}</div></details>',
        state=state,
        open=Html(" open") if open_ else Html(""),
        name=use.get("name", "?"),
        args=brief(use.get("input", {}), 80),
        mark=mark,
        body=body,
    )


def tools_block(events: list[dict[str, Any]]) -> Html:
    pairs = pair_tools(events)
    if not pairs:
        return Html("")
    return fmt('<div class="tools">{t}</div>', t=join(tool_details(u, r) for u, r in pairs))


def transcript_event(event: dict[str, Any], results: dict[int, dict]) -> Html:
    """One event of a transcript. Tool results are shown with their call (`results`:
    id of the tool_use data -> its result), so they render nothing alone."""
    kind, data = event["kind"], event["data"]
    if kind == "text":
        return fmt(
            '<div class="ev ev-text"><pre class="prose">{t}</pre></div>', t=data.get("text", "")
        )
    if kind == "thinking":
        return fmt(
            '<details class="ev ev-thinking"><summary>thinking</summary><pre>{t}</pre></details>',
            t=data.get("text", ""),
        )
    if kind == "tool_use":
        return tool_details(data, results.get(id(data)))
    if kind == "tool_result":
        return Html("")
    if kind == "usage":
        line = (
            f"{tokens(data.get('input_tokens'))} in · {tokens(data.get('output_tokens'))} out · "
            f"{money(data.get('cost_usd'))} · {data.get('model', '')}"
        )
        return fmt('<p class="ev ev-usage">usage: {l}</p>', l=line)
    if kind == "result":
        return fmt(
            '<p class="ev ev-result">result: <strong>{s}</strong></p>', s=data.get("status", "")
        )
    if kind == "error":
        label = "warning" if data.get("warning") else "error"
        return fmt('<p class="ev ev-{c}">{c}: {m}</p>', c=label, m=data.get("message", ""))
    if kind == "notice":
        return fmt('<p class="ev ev-notice">notice: {m}</p>', m=data.get("text", ""))
    if kind == "fallback":
        line = (
            f"account {data.get('from_account')} {data.get('reason')}: "
            f"switched to account {data.get('to_account')}"
        )
        return fmt('<p class="ev ev-notice">{l}</p>', l=line)
    if kind == "compaction":
        summary = data.get("summary")
        inner = fmt("<pre>{s}</pre>", s=summary) if summary else Html("")
        return fmt(
            '<details class="ev ev-compaction"><summary>compacted: {n}</summary>{i}</details>',
            n=data.get("note", ""),
            i=inner,
        )
    return fmt('<p class="ev">{k}: {d}</p>', k=kind, d=esc(brief(data, 300)))
