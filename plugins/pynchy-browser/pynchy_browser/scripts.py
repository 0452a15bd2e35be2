"""The JavaScript the tools run in the page (through Runtime.evaluate), each a function
called with one JSON argument. What they answer is plain JSON; an `error` key is a
one-line refusal the agent gets as a tool error."""

from __future__ import annotations

import json
from typing import Any

# Shared helpers: visibility, a clean label, and a CSS selector that finds the element again.
_HELPERS = r"""
const norm = (s) => String(s || "").replace(/\s+/g, " ").trim();
const visible = (e) => {
  const r = e.getBoundingClientRect();
  const style = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && style.visibility !== "hidden" && style.display !== "none";
};
const labelOf = (e) => norm(
  e.innerText || e.value || e.getAttribute("aria-label") || e.title || e.getAttribute("alt") || ""
);
const selectorOf = (e) => {
  if (e.id && document.querySelectorAll("#" + CSS.escape(e.id)).length === 1) {
    return "#" + CSS.escape(e.id);
  }
  const tag = e.tagName.toLowerCase();
  const name = e.getAttribute("name");
  if (name) {
    const s = `${tag}[name="${CSS.escape(name)}"]`;
    if (document.querySelectorAll(s).length === 1) return s;
  }
  const parts = [];
  for (let n = e; n && n.nodeType === 1 && n !== document.documentElement; n = n.parentElement) {
    let i = 1;
    for (let s = n.previousElementSibling; s; s = s.previousElementSibling) {
      if (s.tagName === n.tagName) i++;
    }
    parts.unshift(`${n.tagName.toLowerCase()}:nth-of-type(${i})`);
  }
  return parts.join(" > ");
};
"""

READ = (
    r"""(args) => {"""
    + _HELPERS
    + r"""
  const root = document.body || document.documentElement;
  const text = root ? root.innerText || "" : "";
  const links = [...document.querySelectorAll("a[href]")].filter(visible).slice(0, args.links)
    .map((a) => ({ text: labelOf(a).slice(0, 120), href: a.href.slice(0, 500) }));
  const fields = [...document.querySelectorAll("input, textarea, select, [contenteditable=true]")]
    .filter((e) => e.type !== "hidden" && visible(e)).slice(0, args.fields)
    .map((e) => ({
      selector: selectorOf(e),
      kind: e.tagName.toLowerCase() === "input" ? e.type : e.tagName.toLowerCase(),
      label: norm((e.labels && e.labels[0] && e.labels[0].innerText)
        || e.getAttribute("aria-label") || e.placeholder || e.name || "").slice(0, 120),
      value: e.type === "password" ? "" : String(e.value ?? e.innerText ?? "").slice(0, 200),
    }));
  const buttons = [...document.querySelectorAll(
      "button, input[type=submit], input[type=button], [role=button]")]
    .filter(visible).slice(0, args.fields).map((e) => labelOf(e).slice(0, 120));
  return {
    url: location.href, title: document.title, total_chars: text.length,
    text: text.slice(args.offset, args.offset + args.limit), links, fields, buttons,
  };
}"""
)

FIND_CLICKABLE = (
    r"""(args) => {"""
    + _HELPERS
    + r"""
  let el = null;
  if (args.selector) {
    try { el = document.querySelector(args.selector); }
    catch (e) { return { error: `not a CSS selector: ${args.selector}` }; }
    if (!el) return { error: `no element matches ${args.selector}` };
  } else {
    const want = norm(args.text).toLowerCase();
    const kinds = "a, button, input[type=submit], input[type=button], input[type=reset], "
      + "input[type=checkbox], input[type=radio], [role=button], [role=link], [role=tab], "
      + "[role=menuitem], [role=checkbox], summary, label, [onclick]";
    const found = [...document.querySelectorAll(kinds)].filter(visible);
    const said = (e) => labelOf(e).toLowerCase();
    el = found.find((e) => said(e) === want) || found.find((e) => said(e).includes(want));
    if (!el) return { error: `nothing clickable shows the text ${JSON.stringify(args.text)}` };
  }
  el.scrollIntoView({ block: "center", inline: "center" });
  if (!visible(el)) return { error: "the element is not visible" };
  // Links and forms that would open a new window open in this page instead.
  for (const t of [el.closest("a"), el.closest("form"), el.form]) {
    if (t) t.removeAttribute("target");
  }
  const r = el.getBoundingClientRect();
  return {
    x: r.left + r.width / 2, y: r.top + r.height / 2,
    tag: el.tagName.toLowerCase(), text: labelOf(el).slice(0, 120),
  };
}"""
)

# Focus the field and select what it holds, so that typing (Input.insertText) replaces it;
# kinds that cannot be typed into get their value set here.
FILL = r"""(args) => {
  let el;
  try { el = document.querySelector(args.selector); }
  catch (e) { return { error: `not a CSS selector: ${args.selector}` }; }
  if (!el) return { error: `no element matches ${args.selector}` };
  if (el.disabled || el.readOnly) return { error: "the field is disabled or read-only" };
  const tag = el.tagName.toLowerCase();
  const type = (el.type || "").toLowerCase();
  const changed = () => {
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  };
  if (tag === "select") {
    const options = [...el.options];
    const option = options.find((o) => o.value === args.value)
      || options.find((o) => o.text.trim() === args.value);
    if (!option) {
      return { error: `no option ${JSON.stringify(args.value)}; there are: `
        + options.slice(0, 30).map((o) => JSON.stringify(o.text.trim())).join(", ") };
    }
    el.value = option.value;
    changed();
    return { done: true, value: el.value };
  }
  const typed = ["", "text", "search", "email", "url", "tel", "password"];
  if (tag === "input" && !typed.includes(type)) {
    const untouchable = ["checkbox", "radio", "file", "submit", "button", "reset", "image"];
    if (untouchable.includes(type)) return { error: `fill does not set ${type} inputs; click it` };
    el.value = args.value;
    changed();
    return { done: true, value: el.value };
  }
  if (!(tag === "input" || tag === "textarea" || el.isContentEditable)) {
    return { error: `${tag} is not a field` };
  }
  el.scrollIntoView({ block: "center" });
  el.focus();
  if (el.isContentEditable) {
    document.getSelection().selectAllChildren(el);
  } else {
    el.select();
  }
  return { done: false };
}"""

FILLED = r"""(args) => {
  const el = document.querySelector(args.selector);
  if (!el) return { error: "the field went away while it was filled" };
  el.dispatchEvent(new Event("change", { bubbles: true }));
  const value = el.isContentEditable ? el.innerText : el.value;
  return { value: el.type === "password" ? `(${value.length} characters)` : value };
}"""

NAVIGATION_STATUS = r"""() => {
  const entry = performance.getEntriesByType("navigation")[0];
  return { url: location.href, title: document.title,
           status: entry && entry.responseStatus ? entry.responseStatus : null };
}"""

PAGE_SIZE = r"""() => ({
  width: Math.ceil(Math.max(document.documentElement.scrollWidth, innerWidth)),
  height: Math.ceil(Math.max(document.documentElement.scrollHeight, innerHeight)),
})"""


def call(function: str, args: dict[str, Any] | None = None) -> str:
    """An expression that calls `function` with `args` (JSON is a JavaScript literal)."""
    return f"({function})({json.dumps(args or {})})"
