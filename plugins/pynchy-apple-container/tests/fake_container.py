"""A stand-in for Apple's `container` CLI: records each argv and answers like the real one.

State lives in $FAKE_CONTAINER_DIR: calls.jsonl (one argv per line) and state.json.
A started container reports "running" for $FAKE_POLLS inspects (default 2), then
"stopped" with the exit code given by its FAKE_EXIT env (default 0). FAKE_OLD_FORMAT=1
answers like container releases before exit codes were reported ("status": "running").
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(os.environ["FAKE_CONTAINER_DIR"])
STATE = HERE / "state.json"


def load() -> dict:
    return json.loads(STATE.read_text()) if STATE.exists() else {}


def save(state: dict) -> None:
    STATE.write_text(json.dumps(state))


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]


def entry(box: dict) -> dict:
    old = os.environ.get("FAKE_OLD_FORMAT") == "1"
    config = {"id": box["name"], "labels": box["labels"], "image": {"reference": box["image"]}}
    if old:
        return {"status": box["state"], "configuration": config, "networks": []}
    item = {"status": {"state": box["state"], "networks": []}, "configuration": config}
    if box["state"] == "stopped":
        item["exitCode"] = box["exit"]
    return item


def main(argv: list[str]) -> int:
    with (HERE / "calls.jsonl").open("a") as fh:
        fh.write(json.dumps(argv) + "\n")
    state = load()
    command, args = argv[0], argv[1:]
    if command == "run":
        name = option(args, "--name")[0]
        if name in state:
            print(f"Error: container with id {name} already exists", file=sys.stderr)
            return 1
        flags_with_value = {"--name", "--label", "--env", "--volume", "--cpus", "--memory",
                            "--workdir", "--user", "--network"}  # fmt: skip
        i = 0
        while args[i].startswith("-"):
            i += 1 if args[i] == "--detach" else 2 if args[i] in flags_with_value else 1
        image = args[i]
        if image.startswith("missing"):
            print(f"Error: image {image} not found", file=sys.stderr)
            return 1
        env = dict(e.split("=", 1) for e in option(args, "--env"))
        labels = dict(label.split("=", 1) for label in option(args, "--label"))
        state[name] = {
            "name": name,
            "image": image,
            "labels": labels,
            "state": "running",
            "polls": int(os.environ.get("FAKE_POLLS", "2")),
            "exit": int(env.get("FAKE_EXIT", "0")),
        }
        save(state)
        print(name)
        return 0
    if command == "inspect":
        box = state.get(args[0])
        if box is None:
            print(f"Error: container {args[0]} not found", file=sys.stderr)
            return 1
        if box["state"] == "running":
            box["polls"] -= 1
            if box["polls"] < 0:
                box["state"] = "stopped"
        save(state)
        print(json.dumps([entry(box)]))
        return 0
    if command == "stop":
        box = state.get(args[-1])
        if box and box["state"] == "running":
            box["state"], box["exit"] = "stopped", 143
        save(state)
        return 0
    if command == "delete":
        state.pop(args[-1], None)
        save(state)
        return 0
    if command == "logs":
        if args[-1] not in state:
            return 1
        print(f"started {args[-1]}\nagent says hi")
        return 0
    if command == "list":
        print(json.dumps([entry(box) for box in state.values()]))
        return 0
    print(f"Error: unknown command {command}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
