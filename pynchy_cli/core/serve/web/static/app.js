// pynchy's web page: the live parts. Hand-written, no framework, nothing fetched from
// elsewhere. Every text that came from a message or a run is put on the page as text
// (textContent, via el()), never as markup, after its control characters are made
// visible as the server does (core/serve/web/html.py:neutralise).
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="pynchy-csrf"]')?.content || "";
  const main = document.getElementById("main");
  const HIDDEN = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

  function visible(value) {
    return String(value ?? "")
      .replace(/\r\n/g, "\n")
      .replace(HIDDEN, (c) => {
        const n = c.charCodeAt(0);
        return n < 0x100 ? "\\x" + n.toString(16).padStart(2, "0") : "\\u" + n.toString(16).padStart(4, "0");
      });
  }

  // el("p", {class: "x"}, "text", otherNode): strings become text nodes, never markup.
  function el(name, attrs, ...children) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === true) node.setAttribute(key, "");
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === "") continue;
      node.append(child instanceof Node ? child : document.createTextNode(visible(child)));
    }
    return node;
  }

  function brief(value, width) {
    const text = (typeof value === "string" ? value : JSON.stringify(value)).split(/\s+/).join(" ");
    return text.length <= width ? text : text.slice(0, width - 1) + "…";
  }

  function pretty(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function localTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  // --- posting forms: with fetch where the page is live, as plain forms otherwise --------

  async function post(form, submitter) {
    const body = new FormData(form);
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    const resp = await fetch(form.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
    return data;
  }

  const statusLine = document.getElementById("status");
  function say(text, problem) {
    if (!statusLine) return;
    statusLine.textContent = visible(text);
    statusLine.classList.toggle("problem", Boolean(problem));
  }

  // Approve / deny buttons (on a chat and on the approvals page).
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-live")) return;
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const answer = await post(form, event.submitter);
      form.closest(".approval")?.remove();
      showApprovals();
      say(answer.notice || "");
    } catch (err) {
      buttons.forEach((b) => { b.disabled = false; });
      say(err.message, true);
      const card = form.closest(".approval");
      if (card) card.append(el("p", { class: "problem", role: "alert" }, err.message));
    }
  });

  // --- approvals, rebuilt from /web/api/approvals ------------------------------------------

  function approvalCard(a, back) {
    const form = el("form", { method: "post", action: `/web/approvals/${encodeURIComponent(a.id)}`, class: "decide", "data-live": true },
      el("input", { type: "hidden", name: "csrf", value: csrf }),
      el("input", { type: "hidden", name: "back", value: back }),
      el("button", { type: "submit", name: "decision", value: "approve", class: "approve" }, "Approve"),
      " ",
      el("button", { type: "submit", name: "decision", value: "deny", class: "deny" }, "Deny"));
    const title = `approval-${a.id}-title`;
    return el("li", { class: "approval", id: `approval-${a.id}`, "aria-labelledby": title },
      el("h3", { id: title }, el("code", null, a.tool), " in ",
        el("a", { href: `/web/groups/${encodeURIComponent(a.group)}` }, a.group)),
      el("p", { class: "reason" }, el("span", { class: "label" }, "Why:"), " ", a.reason),
      el("details", { class: "args" }, el("summary", null, "arguments ", el("code", null, a.brief)), el("pre", null, a.pretty)),
      el("p", { class: "meta" }, `request ${a.id} · run `,
        el("a", { href: `/web/runs/${encodeURIComponent(a.run_id)}` }, a.run_id),
        ` · expires ${localTime(a.expires_at)}`),
      form);
  }

  async function refreshApprovals(group) {
    const section = document.getElementById("approvals");
    const list = document.getElementById("approval-list");
    if (!list) return;
    const query = group ? `?group=${encodeURIComponent(group)}` : "";
    const resp = await fetch(`/web/api/approvals${query}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!resp.ok) return;
    const data = await resp.json();
    const back = location.pathname;
    const open = new Set(data.approvals.map((a) => `approval-${a.id}`));
    for (const card of list.querySelectorAll(".approval")) {
      if (!open.has(card.id)) card.remove();
    }
    for (const a of data.approvals) {
      if (!document.getElementById(`approval-${a.id}`)) list.append(approvalCard(a, back));
    }
    showApprovals();
  }

  // The waiting section (a chat) or the "nothing waits" line (the approvals page).
  function showApprovals() {
    const list = document.getElementById("approval-list");
    if (!list) return;
    const section = document.getElementById("approvals");
    if (section) section.hidden = list.children.length === 0;
    const none = document.getElementById("no-approvals");
    if (none) none.hidden = list.children.length > 0;
  }

  // --- a group's chat -------------------------------------------------------------------

  function toolDetails(use, result) {
    const state = result == null ? "running" : result.is_error ? "error" : "ok";
    const mark = { running: "…", error: "✗", ok: "✓" }[state];
    const body = el("div", { class: "tool-body" }, el("h4", null, "input"), el("pre", null, pretty(use.input ?? {})));
    if (result != null) body.append(el("h4", null, "result"), el("pre", null, pretty(result.content ?? "")));
    const node = el("details", { class: `tool t-${state}` },
      el("summary", null, el("span", { class: "arrow", "aria-hidden": "true" }, "→"), " ",
        el("code", null, use.name ?? "?"), " ", el("span", { class: "args" }, brief(use.input ?? {}, 80)), " ",
        el("span", { class: "mark", "aria-hidden": "true" }, mark),
        el("span", { class: "visually-hidden" }, `(${state})`)),
      body);
    node.pynchyUse = use;
    return node;
  }

  // A reader at the bottom of a chat stays there as messages come; one reading older
  // messages is left where they are.
  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
  }

  function toBottom() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function setupChat(group) {
    const list = document.getElementById("messages");
    const composer = document.getElementById("composer");
    const textarea = document.getElementById("text");
    const assistant = main.dataset.assistant || "pynchy";
    const paged = main.dataset.paged === "1";
    let lastId = Number(main.dataset.lastId || 0);
    const live = new Map(); // run id -> its live <li> (tool calls, draft text)

    function messageItem(m, tools) {
      const kind = m.sender_kind || "assistant";
      const who = kind === "host" ? "pynchy" : m.sender;
      const meta = el("span", { class: "meta" }, m.created_at ? el("time", { datetime: m.created_at }, localTime(m.created_at)) : "");
      if (kind === "assistant" && m.run_id && m.run_id !== "approval") {
        meta.append(" · ", el("a", { href: `/web/runs/${encodeURIComponent(m.run_id)}` }, "transcript"));
      }
      const item = el("li", { class: `msg k-${kind}`, id: m.id ? `m${m.id}` : null, "data-id": m.id ?? null },
        el("p", { class: "who" }, el("span", { class: "name" }, who), " ", meta));
      if (tools && tools.childElementCount) item.append(tools);
      item.append(el("div", { class: "text" }, m.content));
      return item;
    }

    function liveItem(runId) {
      let item = live.get(runId);
      if (!item) {
        item = el("li", { class: "msg k-assistant live", "data-run": runId, "aria-busy": "true" },
          el("p", { class: "who" }, el("span", { class: "name" }, assistant), " ",
            el("span", { class: "meta" }, "working… · ", el("a", { href: `/web/runs/${encodeURIComponent(runId)}` }, "transcript"))),
          el("div", { class: "tools" }),
          el("div", { class: "text draft" }));
        live.set(runId, item);
        const follow = nearBottom();
        if (!paged) list.append(item);
        if (follow) toBottom();
      }
      return item;
    }

    function addMessage(m, toolsFromApi) {
      if (m.id) {
        if (document.getElementById(`m${m.id}`)) return;
        lastId = Math.max(lastId, m.id);
      }
      let tools = null;
      if (m.sender_kind === "assistant" && m.run_id && live.has(m.run_id)) {
        const item = live.get(m.run_id);
        tools = item.querySelector(".tools");
        item.remove();
        live.delete(m.run_id);
      } else if (toolsFromApi && toolsFromApi.length) {
        tools = el("div", { class: "tools" }, ...toolsFromApi.map((t) => toolDetails(t.use, t.result)));
      }
      if (m.sender_kind === "assistant" && m.id) say("");
      if (paged) return;
      document.querySelector(".messages + .empty, main > .empty")?.remove();
      const follow = nearBottom();
      list.append(messageItem(m, tools));
      if (follow) toBottom();
      if (m.sender_kind === "host") refreshApprovals(group);
    }

    function runEvent(e) {
      const follow = nearBottom();
      const item = liveItem(e.run_id);
      const data = e.data || {};
      const tools = item.querySelector(".tools");
      if (e.kind === "text") {
        item.querySelector(".draft").append(el("p", null, data.text));
      } else if (e.kind === "tool_use") {
        tools.append(toolDetails(data, null));
        say(`${assistant} is running ${data.name}…`);
      } else if (e.kind === "tool_result") {
        const open = [...tools.querySelectorAll("details.t-running")].find((d) =>
          data.tool_use_id ? d.pynchyUse?.id === data.tool_use_id : d.pynchyUse?.name === data.name);
        if (open) open.replaceWith(toolDetails(open.pynchyUse, data));
        say(`${assistant} is working…`);
      } else if (e.kind === "error") {
        item.querySelector(".draft").append(el("p", { class: data.warning ? "ev-warning" : "ev-error" },
          `${data.warning ? "warning" : "error"}: ${data.message}`));
      }
      if (follow) toBottom();
    }

    function handle(event) {
      if (event.type === "message") addMessage(event);
      else if (event.type === "run_event") runEvent(event);
      else if (event.type === "run" && event.status === "running") {
        liveItem(event.run_id);
        say(`${assistant} is working…`);
      } else if (event.type === "run" && event.status === "finished") {
        const item = live.get(event.run_id);
        if (item && !item.querySelector(".tools").childElementCount && !item.querySelector(".draft").childElementCount) {
          item.remove();
          live.delete(event.run_id);
        } else if (item) {
          item.removeAttribute("aria-busy");
        }
        say("");
      }
    }

    async function catchUp() {
      const resp = await fetch(`/web/api/groups/${encodeURIComponent(group)}/messages?after=${lastId}`,
        { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!resp.ok) return;
      const data = await resp.json();
      for (const m of data.messages) addMessage(m, m.tools);
      if (!data.working) say("");
      refreshApprovals(group);
    }

    // The browser reconnects by itself while serve is away; a refused stream (the session
    // ended, a proxy's error page) is closed for good: log in again, or try anew.
    let lost = false;
    function follow() {
      const stream = new EventSource(`/events?group=${encodeURIComponent(group)}`);
      stream.onmessage = (e) => handle(JSON.parse(e.data));
      stream.onopen = () => {
        if (lost) say("reconnected");
        lost = false;
        catchUp();
      };
      stream.onerror = async () => {
        lost = true;
        say("serve is not reachable, reconnecting…", true);
        if (stream.readyState !== EventSource.CLOSED) return;
        const resp = await fetch("/web/api/health", { credentials: "same-origin" }).catch(() => null);
        if (resp && resp.status === 401) {
          location.href = `/web/login?next=${encodeURIComponent(location.pathname)}`;
        } else {
          setTimeout(follow, 3000);
        }
      };
    }
    follow();

    composer.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = textarea.value;
      if (!text.trim()) return;
      const button = composer.querySelector("button");
      button.disabled = true;
      try {
        const answer = await post(composer, null);
        textarea.value = "";
        addMessage(answer.message);
        if (!answer.queued) say(`stored; not addressed to ${assistant}`);
      } catch (err) {
        say(err.message, true);
      } finally {
        button.disabled = false;
        textarea.focus();
      }
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    toBottom();
  }

  // --- pages that follow serve: a chat, the approvals page, the runs and chats lists ------

  if (main && main.dataset.group) setupChat(main.dataset.group);
  if (main && main.dataset.follow) {
    // Runs started or ended, messages came: say so (a reload would move the reader).
    const note = el("p", { class: "follow-note", role: "status", hidden: true },
      "There is news. ", el("a", { href: location.pathname + location.search }, "Show it"));
    main.prepend(note);
    const stream = new EventSource("/events");
    stream.onmessage = (e) => {
      const event = JSON.parse(e.data);
      if (main.dataset.follow === "approvals") {
        if (event.type === "message" && event.sender_kind === "host") refreshApprovals(null);
      } else if (event.type === "run" || (event.type === "message" && main.dataset.follow === "chats")) {
        note.hidden = false;
      }
    };
  }
})();
