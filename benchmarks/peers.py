"""pynchy beside its peers on one machine: llm, hermes-agent, nanobot and openclaw, each in
its own environment, all pointed at the same local OpenAI-compatible server (openai_stub),
measured in interleaved rounds (medians, with the range).

    .venv/bin/python benchmarks/peers.py --install   # once: the peers into the cache
    .venv/bin/python benchmarks/peers.py [--rounds 10] [--cache ~/.cache/pynchy-peers]

Rows: `--help`; one prompt -> reply from a cold start (pynchy: a podman container per
turn); the idle RSS of each one's long-running service; the p50 of a warm reply through
that service's API. pynchy runs with its third-party plugins off (PYNCHY_PLUGINS=""), as
a fresh install has none. A peer that cannot be installed or run here is a line saying
why and "-" in the table, never a guessed figure. CI does not run this.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai_stub
from common import free_port, rss_mb, wait_http

ROOT = Path(__file__).resolve().parent.parent
PYNCHY = str(Path(sys.executable).with_name("pynchy"))
PROMPT = "say pong"
HERMES_KEY = secrets.token_hex(16)  # its API server refuses a short or guessable key
OPENCLAW_NODE = (24, 16)  # openclaw's engines: node >=24.16.0 <25 || >=26.1.0


def _http(url: str, body: dict | None = None, headers: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={**(headers or {})})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"{}")


@dataclass
class Peer:
    name: str
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="peer-")))
    skip: str | None = None  # why it cannot run here
    service: subprocess.Popen | None = None

    def install(self, cache: Path) -> None:
        raise NotImplementedError

    def check(self, cache: Path) -> None:
        """Set `skip` when it is not installed or cannot run here."""

    def setup(self, cache: Path, base_url: str) -> None:
        """Its config, in a home of its own, pointed at base_url."""

    def help_cmd(self, cache: Path) -> list[str]:
        raise NotImplementedError

    def prompt_cmd(self, cache: Path) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    # a long-running service with an API, where the peer has one
    def start_service(self, cache: Path) -> str | None:
        return None

    def warm_reply(self, url: str) -> None:
        raise NotImplementedError

    def _serve(self, command: list[str], port: int) -> str:
        """Start `command` as the service; its URL once GET /health answers."""
        self.service = subprocess.Popen(
            command, env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", self.service)
        return url

    def _chat(self, url: str, model: str, headers: dict[str, str] | None = None) -> None:
        body = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
        _http(f"{url}/v1/chat/completions", body, headers)

    def stop_service(self) -> None:
        if self.service is not None and self.service.poll() is None:
            self.service.terminate()
            try:
                self.service.wait(30)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait()


class PythonPeer(Peer):
    package = ""
    script = ""
    extras: tuple[str, ...] = ()  # what its service needs beside the package

    def venv(self, cache: Path) -> Path:
        return cache / self.package

    def install(self, cache: Path) -> None:
        venv = self.venv(cache)
        if not (venv / "bin" / self.script).exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(venv / "bin" / "pip"), "install", "-q", self.package, *self.extras]
            subprocess.run(pip, check=True)
        print(f"{self.name}: installed in {venv}", file=sys.stderr)

    def check(self, cache: Path) -> None:
        if not (self.venv(cache) / "bin" / self.script).exists():
            self.skip = f"not installed (run with --install; it goes to {self.venv(cache)})"

    def bin(self, cache: Path) -> str:
        return str(self.venv(cache) / "bin" / self.script)


class Pynchy(Peer):
    def check(self, cache: Path) -> None:
        if subprocess.run(["podman", "info"], capture_output=True).returncode:
            self.skip = "podman is not running"

    def setup(self, cache: Path, base_url: str) -> None:
        self.base_url = base_url
        self.extra = {
            "PYNCHY_HOME": str(self.home),
            "PYNCHY_PLUGINS": "",
            "PYNCHY_RUNTIME": "podman",
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": base_url,
            "PYNCHY_LIMITS__IDLE_TIMEOUT": "600",  # serve's container stays warm
        }
        # the first run creates the group and the data folder: not a cold turn's cost
        subprocess.run(self.prompt_cmd(cache), env=self.env(), capture_output=True, check=True)

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.extra}

    def help_cmd(self, cache: Path) -> list[str]:
        return [PYNCHY, "--help"]

    def prompt_cmd(self, cache: Path) -> list[str]:
        return [PYNCHY, "agent", "run", "-m", "openai:bench-model", PROMPT]

    def start_service(self, cache: Path) -> str | None:
        port = free_port()
        url = self._serve([PYNCHY, "serve", "-m", "openai:bench-model", "--port", str(port)], port)
        sys.path.insert(0, str(ROOT))
        from pynchy_cli.core.paths import resolve_paths

        token = resolve_paths({"PYNCHY_HOME": str(self.home)}).api_token_file.read_text().strip()
        self.headers = {"Authorization": f"Bearer {token}"}
        request = urllib.request.Request(f"{url}/events?group=main", headers=self.headers)
        self.events = urllib.request.urlopen(request, timeout=120)
        self.events.readline()  # ": connected"
        return url

    def warm_reply(self, url: str) -> None:
        body = {"text": PROMPT}
        _http(f"{url}/groups/main/messages", body, self.headers)
        while True:  # the reply is an assistant message on the group's event stream
            line = self.events.readline()
            if not line:
                raise RuntimeError("serve closed its event stream")
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event.get("type") == "message" and event.get("sender_kind") == "assistant":
                    return

    def stop_service(self) -> None:
        if getattr(self, "events", None) is not None:
            self.events.close()
        super().stop_service()


class Llm(PythonPeer):
    package, script = "llm", "llm"

    def setup(self, cache: Path, base_url: str) -> None:
        models = f'- model_id: bench\n  model_name: bench-model\n  api_base: "{base_url}"\n'
        (self.home / "extra-openai-models.yaml").write_text(models)

    def env(self) -> dict[str, str]:
        return {**os.environ, "LLM_USER_PATH": str(self.home), "OPENAI_API_KEY": "sk-bench"}

    def help_cmd(self, cache: Path) -> list[str]:
        return [self.bin(cache), "--help"]

    def prompt_cmd(self, cache: Path) -> list[str]:
        return [self.bin(cache), "-m", "bench", "--no-log", PROMPT]


class Hermes(PythonPeer):
    package, script = "hermes-agent", "hermes"

    def setup(self, cache: Path, base_url: str) -> None:
        config = (
            "model:\n  provider: custom\n  default: bench-model\n"
            f"  base_url: {base_url}\n  api_key: sk-bench\n"
        )
        (self.home / "config.yaml").write_text(config)
        self.port = free_port()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HERMES_HOME": str(self.home),
            "API_SERVER_ENABLED": "true",
            "API_SERVER_KEY": HERMES_KEY,
            "API_SERVER_PORT": str(getattr(self, "port", 0)),
        }

    def help_cmd(self, cache: Path) -> list[str]:
        return [self.bin(cache), "--help"]

    def prompt_cmd(self, cache: Path) -> list[str]:
        return [self.bin(cache), "-z", PROMPT]

    def start_service(self, cache: Path) -> str | None:
        return self._serve([self.bin(cache), "gateway", "run"], self.port)

    def warm_reply(self, url: str) -> None:
        self._chat(url, "hermes-agent", {"Authorization": f"Bearer {HERMES_KEY}"})


class Nanobot(PythonPeer):
    package, script = "nanobot-ai", "nanobot"
    extras = ("aiohttp",)  # `nanobot serve` needs it (what `nanobot plugins enable api` adds)

    def setup(self, cache: Path, base_url: str) -> None:
        self.port = free_port()
        (self.home / "ws").mkdir(exist_ok=True)
        config = {
            "agents": {
                "defaults": {
                    "model": "bench-model",
                    "provider": "custom",
                    "workspace": str(self.home / "ws"),
                }
            },
            "providers": {"custom": {"apiKey": "sk-bench", "apiBase": base_url}},
            "api": {"host": "127.0.0.1", "port": self.port},
        }
        self.config = self.home / "config.json"
        self.config.write_text(json.dumps(config))

    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home)}

    def help_cmd(self, cache: Path) -> list[str]:
        return [self.bin(cache), "--help"]

    def prompt_cmd(self, cache: Path) -> list[str]:
        command = [self.bin(cache), "agent", "-c", str(self.config), "-m", PROMPT]
        return [*command, "--no-markdown"]

    def start_service(self, cache: Path) -> str | None:
        return self._serve([self.bin(cache), "serve", "-c", str(self.config)], self.port)

    def warm_reply(self, url: str) -> None:
        self._chat(url, "bench-model")


class Openclaw(Peer):
    def folder(self, cache: Path) -> Path:
        return cache / "openclaw"

    def node_too_old(self) -> str | None:
        node = shutil.which("node")
        if node is None:
            return "needs Node.js >= 24.16; there is no node here"
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        major, minor = (int(x) for x in version.strip().lstrip("v").split(".")[:2])
        if (major, minor) < OPENCLAW_NODE:
            return f"needs Node.js >= 24.16; this machine has {version.strip()}"
        return None

    def install(self, cache: Path) -> None:
        reason = self.node_too_old()
        if reason:
            print(f"openclaw: skipped, {reason}", file=sys.stderr)
            return
        folder = self.folder(cache)
        folder.mkdir(parents=True, exist_ok=True)
        npm = ["npm", "install", "--prefix", str(folder), "--no-fund", "--no-audit", "openclaw"]
        subprocess.run(npm, check=True)
        print(f"openclaw: installed in {folder}", file=sys.stderr)

    def check(self, cache: Path) -> None:
        self.skip = self.node_too_old()
        if self.skip is None and not (self.folder(cache) / "node_modules/.bin/openclaw").exists():
            self.skip = "not installed (run with --install)"

    def bin(self, cache: Path) -> str:
        return str(self.folder(cache) / "node_modules/.bin/openclaw")

    def setup(self, cache: Path, base_url: str) -> None:
        self.base_url = base_url

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.home),
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": self.base_url,
        }

    def help_cmd(self, cache: Path) -> list[str]:
        return [self.bin(cache), "--help"]

    def prompt_cmd(self, cache: Path) -> list[str]:
        return [self.bin(cache), "agent", "--local", "--message", PROMPT]


def all_peers() -> list[Peer]:
    return [Pynchy("pynchy"), Llm("llm"), Hermes("hermes-agent"), Nanobot("nanobot"),
            Openclaw("openclaw")]  # fmt: skip


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(command[-3:])} failed: {' / '.join(tail)}")
    return elapsed


def interleaved(peers: list[Peer], rounds: int, run: Any, what: str) -> dict[str, list[float]]:
    """rounds x each peer once, the order rotated each round; a peer that fails is out."""
    samples: dict[str, list[float]] = {p.name: [] for p in peers}
    live = list(peers)
    for r in range(rounds):
        for peer in live[r % len(live) :] + live[: r % len(live)] if live else []:
            try:
                samples[peer.name].append(run(peer))
            except Exception as exc:
                print(f"{peer.name}: {what} failed: {exc}", file=sys.stderr)
                live.remove(peer)
                samples[peer.name] = []
    return samples


def cell(values: list[float], scale: float, unit: str, base: float | None) -> str:
    if not values:
        return "-"
    mid = statistics.median(values) * scale
    fmt = (lambda v: f"{v:.2f}") if unit == "s" else (lambda v: f"{v:.0f}")
    text = f"{fmt(mid)} {unit}"
    if len(values) > 1:
        text += f" ({fmt(min(values) * scale)}-{fmt(max(values) * scale)})"
    if base:
        text += f" x{mid / base:.1f}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--install", action="store_true", help="install the peers, then run")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/pynchy-peers")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warm", type=int, default=20, help="warm replies per service")
    args = parser.parse_args()
    cache = args.cache.expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    peers = all_peers()
    if args.install:
        for peer in peers[1:]:
            peer.install(cache)
    server = openai_stub.start()
    base_url = f"http://127.0.0.1:{server.server_port}/v1"
    for peer in peers:
        peer.check(cache)
        if peer.skip is None:
            try:
                peer.setup(cache, base_url)
            except Exception as exc:
                peer.skip = f"could not be set up: {exc}"
        if peer.skip:
            print(f"{peer.name}: not measured: {peer.skip}", file=sys.stderr)
    ready = [p for p in peers if p.skip is None]
    rows: dict[str, dict[str, list[float]]] = {}
    rows["`--help`"] = interleaved(
        ready, args.rounds, lambda p: _timed(p.help_cmd(cache), p.env()), "--help"
    )
    rows["one prompt -> reply, cold"] = interleaved(
        ready, args.rounds, lambda p: _timed(p.prompt_cmd(cache), p.env()), "prompt"
    )
    rss: dict[str, list[float]] = {p.name: [] for p in peers}
    warm: dict[str, list[float]] = {p.name: [] for p in peers}
    urls: dict[str, str] = {}
    for peer in ready:
        try:
            url = peer.start_service(cache)
        except Exception as exc:
            print(f"{peer.name}: service did not start: {exc}", file=sys.stderr)
            peer.stop_service()
            continue
        if url:
            urls[peer.name] = url
    try:
        for peer in ready:
            if peer.name in urls:
                for _ in range(3):  # warm-up: the first reply starts pynchy's container
                    peer.warm_reply(urls[peer.name])
        time.sleep(3)  # idle: let them settle
        for peer in ready:
            if peer.name in urls and peer.service is not None:
                rss[peer.name] = [rss_mb(peer.service.pid, children=True)]
        with_service = [p for p in ready if p.name in urls]

        def one(peer: Peer) -> float:
            start = time.perf_counter()
            peer.warm_reply(urls[peer.name])
            return time.perf_counter() - start

        warm.update(interleaved(with_service, args.warm, one, "warm reply"))
    finally:
        for peer in ready:
            peer.stop_service()
    rows["serve idle RSS"] = rss
    rows["warm reply p50 (service API)"] = warm
    show(rows, peers)


def show(rows: dict[str, dict[str, list[float]]], peers: list[Peer]) -> None:
    units = {
        "`--help`": (1, "s"),
        "one prompt -> reply, cold": (1, "s"),
        "serve idle RSS": (1, "MB"),
        "warm reply p50 (service API)": (1000, "ms"),
    }
    names = [p.name for p in peers]
    print("| | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for label, by_peer in rows.items():
        scale, unit = units[label]
        base_values = by_peer.get("pynchy") or []
        base = statistics.median(base_values) * scale if base_values else None
        cells = []
        for name in names:
            ratio_base = None if name == "pynchy" else base
            cells.append(cell(by_peer.get(name, []), scale, unit, ratio_base))
        print(f"| {label} | " + " | ".join(cells) + " |")
    skipped = [p for p in peers if p.skip]
    for peer in skipped:
        print(f"\n{peer.name}: not measured: {peer.skip}")


if __name__ == "__main__":
    main()
