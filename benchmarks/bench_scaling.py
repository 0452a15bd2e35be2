"""Scaling benchmarks, Ray against the local semaphore, printed as ratios in one run:

- the cost of a run's scheduling: message -> reply (echo model, podman, a cold container
  per message) with scaling local, and with scaling ray on one (embedded) node;
- 200 messages over 20 groups: local, Ray on one node, Ray on three nodes (all on this
  machine: the third case pays the remote path, workspace shipping and the socket relay,
  without adding cores);
- serve's idle memory without and with Ray (serve alone, and with Ray's processes).

Each case runs in a fresh process (Ray reads its environment when first imported).

    .venv/bin/python benchmarks/bench_scaling.py [--messages N] [--burst N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import pct_ms, print_table, rss_mb, serve_process, temp_home

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' Ray cluster on this machine

GROUPS = 20
# Half a CPU per run: on this machine's 2 cores, 4 runs at once, as limits.max_concurrent.
RAY_ENV = {"PYNCHY_SCALING": "ray", "PYNCHY_RAY__CPUS": "0.5"}


async def _latency(count: int) -> list[float]:
    from pynchy_cli.core.context import Context
    from pynchy_cli.core.groups import get_group
    from pynchy_cli.core.serve.service import Service

    ctx = Context()
    service = Service(ctx, model="echo", runtime="podman")
    await service.start()
    group = get_group(ctx.db, "main")
    samples = []
    with service.bus.subscribe("main") as events:
        for i in range(count + 1):  # the first one warms Ray's worker pool and podman
            start = time.perf_counter()
            await service.receive(group, "bench", f"message {i}", channel="terminal")
            while True:
                event = await events.get()
                if event["type"] == "message" and event.get("sender_kind") == "assistant":
                    break
            samples.append(time.perf_counter() - start)
    await service.drain(30)
    return samples[1:]


async def _burst(messages: int) -> dict[str, float]:
    from pynchy_cli.core.context import Context
    from pynchy_cli.core.groups import add_group, get_group
    from pynchy_cli.core.serve.service import Service

    ctx = Context()
    names = [f"g{i:02d}" for i in range(GROUPS)]
    for name in names:
        add_group(ctx.db, ctx.paths, name, admin=True)
    service = Service(ctx, model="echo", runtime="podman")
    await service.start()
    groups = {n: get_group(ctx.db, n) for n in names}
    last: dict[str, int] = {}
    start = time.perf_counter()
    for i in range(messages):
        name = names[i % GROUPS]
        message, _ = await service.receive(groups[name], "bench", f"m{i}", channel="terminal")
        last[name] = message["id"]
    while any(get_group(ctx.db, n).last_answered_id < last[n] for n in names):
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    runs = ctx.db.execute("select count(*) from runs").fetchone()[0]
    nodes = ctx.db.execute("select count(distinct node) from runs").fetchone()[0]
    await service.drain(60)
    return {"seconds": elapsed, "rate": messages / elapsed, "runs": runs, "nodes": nodes}


def _case(name: str, count: int) -> None:
    """Run one case here (a child process) and print its JSON."""
    if name == "latency":
        print(json.dumps(asyncio.run(_latency(count))))
    else:
        print(json.dumps(asyncio.run(_burst(count))))


def _child(case: str, count: int, env: dict[str, str], home: Path | None = None) -> object:
    with temp_home(PYNCHY_LIMITS__IDLE_TIMEOUT="0", **env):
        if home is not None:
            os.environ["PYNCHY_HOME"] = str(home)
        done = subprocess.run(
            [sys.executable, __file__, "--case", case, "--count", str(count)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _idle_rss(env: dict[str, str]) -> tuple[float, float]:
    """(RSS of serve, RSS of serve and every process it started) in MB."""
    with temp_home(**env), serve_process("--model", "echo", "--runtime", "podman") as proc:
        time.sleep(5)  # let it settle (Ray's workers start lazily)
        return rss_mb(proc.pid), rss_mb(proc.pid, children=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=30, help="per latency case")
    parser.add_argument("--burst", type=int, default=200, help="messages over 20 groups")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _case(args.case, args.count)
        return
    from rayhelp import Cluster

    local = _child("latency", args.messages, {})
    ray = _child("latency", args.messages, RAY_ENV)
    bursts = {
        "local": _child("burst", args.burst, {}),
        "ray, 1 node": _child("burst", args.burst, RAY_ENV),
    }
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="pb", dir="/tmp")))
    try:
        cluster.start_head("--num-cpus", "2")
        cluster.add("w1", "--num-cpus", "1")
        cluster.add("w2", "--num-cpus", "1")
        with tempfile.TemporaryDirectory(prefix="pynchy-bench-") as home:
            cluster.give_token(Path(home))
            env = {**RAY_ENV, "PYNCHY_RAY__ADDRESS": cluster.address}
            bursts["ray, 3 nodes"] = _child("burst", args.burst, env, Path(home))
    finally:
        cluster.stop()
    rss_local, _ = _idle_rss({})
    rss_ray, rss_ray_all = _idle_rss(RAY_ENV)

    def ms(samples: object, p: int) -> float:
        return pct_ms(samples, p)  # type: ignore[arg-type]

    rows = []
    for p in (50, 99):
        base, other = ms(local, p), ms(ray, p)
        rows.append(
            (f"message -> reply p{p}", f"{base:.0f} ms", f"{other:.0f} ms", f"{other / base:.2f}x")
        )
    base = bursts["local"]
    for label in ("ray, 1 node", "ray, 3 nodes"):
        other = bursts[label]
        rows.append(
            (
                f"{args.burst} messages / {GROUPS} groups, {label}",
                f"{base['rate']:.1f} msg/s ({base['runs']:.0f} runs)",
                f"{other['rate']:.1f} msg/s ({other['runs']:.0f} runs, {other['nodes']:.0f} nodes)",
                f"{other['rate'] / base['rate']:.2f}x",
            )
        )
    rows.append(
        (
            "idle RSS of serve",
            f"{rss_local:.0f} MB",
            f"{rss_ray:.0f} MB",
            f"{rss_ray / rss_local:.2f}x",
        )
    )
    rows.append(
        (
            "idle RSS, serve + Ray's processes",
            f"{rss_local:.0f} MB",
            f"{rss_ray_all:.0f} MB",
            f"{rss_ray_all / rss_local:.2f}x",
        )
    )
    print_table(
        f"scaling, ray against local (podman, echo model, {args.messages} cold runs per case)",
        rows,
        ("what", "local", "ray", "ray / local"),
    )


if __name__ == "__main__":
    main()
