"""The hostile container: a script the tests run INSIDE a real agent container. The
group's model runs it through its bash tool, one phase per run of the group:
`python3 /workspace/hostile/attack.py attack`, then `... verify`, then `... spam` (the
test copies this folder into the workspace).

It does its worst through the run's socket and its own filesystem: forged, empty and
replayed tokens, another group's name, malformed, oversized and nested requests, floods
of connections and of requests, model requests for tools the run lacks, host tools with
bad arguments, schedule and rate-limit abuse, another group's task ids, skill traversal
and symlinks, the socket folder, root, answers past the first. It prints one JSON line
per attempt (`attack` lines are judged, `setup` lines make room for one) with what it
sent, the host's reply, whether the attempt was refused (for setup lines: whether it
worked), and the audit rows the host should have written for it; then a summary line
counting every phase so far:

    hostile: 87 attacks, 87 refused, 0 succeeded

`attack` also plants traps for the next run (a memory file symlinked to the host's
/proc/self/environ or /etc/shadow, or a FIFO; a skill whose SKILL.md is a symlink,
another whose SKILL.md is a FIFO); `verify`, in that next run, checks they were refused,
then removes them. `spam` answers its prompt more than once. Lines are kept in
hostile-results.jsonl, which the test reads too.

Its input is hostile-input.json in the workspace (written by the test): the other
group's name and one of its task ids, the file holding a token of an earlier run of this
group, the memory trap to plant, this group's skills, and whether to hold the connection
hoard until the test says (hoard-done). Standard library only: the agent image has
python3 and nothing else of ours.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from socket_attacks import (
    event_attacks,
    flood_attacks,
    hoard_attack,
    model_attacks,
    nested_attacks,
    socket_attacks,
)
from tool_attacks import host_tool_attacks, skill_attacks, socket_folder_attacks
from wire import (
    INPUT,
    RESULTS,
    SKILLS,
    SOCKET_REFUSED,
    WORKSPACE,
    attempt,
    exchange,
    lines,
    load,
    refused_with,
    report,
    request,
    save,
    serving,
    setup,
    summary,
    tool,
    tool_error,
)


def plant_traps(given: dict[str, Any]) -> None:
    """Traps for the next run's host-side preparation: it reads the memory file and the
    group's skills before the container starts. The verify phase checks them."""
    memory = os.path.join(WORKSPACE, "CLAUDE.md")
    if os.path.lexists(memory):
        os.unlink(memory)
    trap = given["memory_trap"]
    if trap == "fifo":
        os.mkfifo(memory)
    else:
        os.symlink({"environ": "/proc/self/environ", "shadow": "/etc/shadow"}[trap], memory)
    # The attacked skill's SKILL.md is already a symlink; a new skill whose SKILL.md is a FIFO.
    pipe = os.path.join(SKILLS, given["fifo_skill"])
    os.makedirs(pipe, exist_ok=True)
    os.mkfifo(os.path.join(pipe, "SKILL.md"))
    print(json.dumps({"planted": trap, "skills": [given["attacked_skill"], given["fifo_skill"]]}))


def attack() -> None:
    with open(INPUT) as f:
        given = json.load(f)
    if os.path.exists(RESULTS):
        os.unlink(RESULTS)
    socket_attacks(given)
    nested_attacks()
    flood_attacks()
    hoard_attack(given)
    model_attacks()
    event_attacks()
    host_tool_attacks(given)
    skill_attacks(given)
    socket_folder_attacks()

    @attempt("still_serving", "a well-formed request after everything")
    def _():
        answered = serving()
        return "answered" if answered else "no answer", answered

    plant_traps(given)
    save()
    print(summary(lines, "hostile attack phase"))


# --- phase 2: the next run --------------------------------------------------------------


def verify() -> None:
    """In the run after the attack phase: the traps it planted were refused (the run
    started, the skills were skipped, nothing of the host turned up in the workspace)."""
    with open(INPUT) as f:
        given = json.load(f)
    warning = ("run", "warning", None)

    @attempt(f"memory_{given['memory_trap']}_next_run", "the next run's memory file", (warning,))
    def _():
        run_input = exchange(request("input"))
        leaked = host_traces()
        started = bool(run_input and run_input.get("ok"))
        return f"run started: {started}; host traces: {leaked}", started and not leaked

    for name, skill in [
        ("skill_md_symlink_next_run", given["attacked_skill"]),
        ("skill_md_fifo_next_run", given["fifo_skill"]),
    ]:

        @attempt(name, f"read_skill {skill}", (warning, ("tool:read_skill", "refused", None)))
        def _(skill=skill):
            reply = tool("read_skill", {"name": skill})
            return reply, tool_error(reply, "must be one of")

    # The host skipped the bad skills, not all of them.
    setup("good_skill_still_served", "read_skill", {"name": given["good_skill"]})
    remove_traps(given)
    save_and_sum_up()


def remove_traps(given: dict[str, Any]) -> None:
    """Put the workspace back as it was, so that the next run starts without warnings."""
    os.unlink(os.path.join(WORKSPACE, "CLAUDE.md"))
    pipe = os.path.join(SKILLS, given["fifo_skill"])
    os.unlink(os.path.join(pipe, "SKILL.md"))
    os.rmdir(pipe)
    notes = os.path.join(SKILLS, given["attacked_skill"])
    for name in ("SKILL.md", "leak.md", "shadow.md", "root", "pipe.md"):
        os.unlink(os.path.join(notes, name))
    os.replace(os.path.join(notes, "was-SKILL.md"), os.path.join(notes, "SKILL.md"))


# --- phase 3: answers ------------------------------------------------------------------


def spam() -> None:
    """A run answers each prompt once. Every answer (a result event) becomes a reply in the
    group's chat, so more answers would be messages past every rate limit. The first one
    stands; the others, and the runner's own answer after this script, are refused."""
    result = {"kind": "result", "data": {"status": "ok", "text": "spammed"}}
    reply = exchange(request("event", result))
    runners_answer = SOCKET_REFUSED  # the runner answers after this script: refused too
    report("first_answer", "result spammed", reply, bool(reply and reply.get("ok")),
           [runners_answer], setup=True)  # fmt: skip
    for i in range(3):
        text = f"spam {i}"

        @attempt(f"extra_answer_{i}", f"result {text}", (SOCKET_REFUSED,))
        def _(text=text):
            data = {"status": "ok", "text": text}
            reply = exchange(request("event", {"kind": "result", "data": data}))
            return reply, refused_with(reply, "already answered")

    save_and_sum_up()


def save_and_sum_up() -> None:
    """Add this phase's lines to the earlier phases' and print the summary of all."""
    before = load()
    save(append=True)
    print(summary(before + lines))


def host_traces() -> list[str]:
    """Workspace files holding what only the host's environment or /etc/shadow would:
    a followed symlink written back. Symlinks and FIFOs are not opened."""
    markers = [("PYNCHY" + "_HOME=").encode(), b"root:$", b"root:*:", b"root:!"]
    found = []
    for folder, _dirs, names in os.walk(WORKSPACE):
        for name in names:
            path = os.path.join(folder, name)
            ours = folder.startswith(os.path.dirname(os.path.abspath(__file__)))
            if ours or path == RESULTS or os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                data = f.read(5_000_000)
            found += [path for m in markers if m in data][:1]
    return found


if __name__ == "__main__":
    started = time.monotonic()
    phases = {"attack": attack, "verify": verify, "spam": spam}
    phases[sys.argv[1] if len(sys.argv) > 1 else "attack"]()
    print(f"({time.monotonic() - started:.1f}s)", file=sys.stderr)
