"""serve benchmarks: latency per message (echo model; process runtime, podman warm and
cold), whether it stays flat as a session grows (the first follow-ups against the 91st
to 100th, in one warm container), 1,000 messages over 50 groups, and the idle memory of
`pynchy serve`.

    .venv/bin/python benchmarks/bench_serve.py [--messages N] [--skip-podman]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from common import pct_ms, print_table, rss_mb, serve_process, temp_home

from pynchy_cli.core.context import Context
from pynchy_cli.core.groups import add_group, get_group
from pynchy_cli.core.serve.service import Service


async def _latencies(runtime: str, count: int, idle_timeout: int) -> list[float]:
    os.environ["PYNCHY_LIMITS__IDLE_TIMEOUT"] = str(idle_timeout)
    ctx = Context()
    service = Service(ctx, model="echo", runtime=runtime)
    await service.start()
    group = get_group(ctx.db, "main")
    samples = []
    with service.bus.subscribe("main") as events:
        for i in range(count):
            start = time.perf_counter()
            await service.receive(group, "bench", f"message {i}", channel="terminal")
            while True:
                event = await events.get()
                if event["type"] == "message" and event.get("sender_kind") == "assistant":
                    break
            samples.append(time.perf_counter() - start)
    await service.drain(30)
    return samples


async def _throughput(groups: int, messages: int) -> tuple[float, int]:
    os.environ["PYNCHY_LIMITS__IDLE_TIMEOUT"] = "0"
    ctx = Context()
    names = [f"g{i:02d}" for i in range(groups)]
    for name in names:
        add_group(ctx.db, ctx.paths, name, admin=True)
    service = Service(ctx, model="echo", runtime="process")
    await service.start()
    by_name = {n: get_group(ctx.db, n) for n in names}
    start = time.perf_counter()
    last: dict[str, int] = {}
    for i in range(messages):
        name = names[i % groups]
        message, _ = await service.receive(by_name[name], "bench", f"m{i}", channel="terminal")
        last[name] = message["id"]
    while any(get_group(ctx.db, n).last_answered_id < last[n] for n in names):
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    answered = sum(1 for n in names if get_group(ctx.db, n).last_answered_id >= last[n])
    await service.drain(30)
    return messages / elapsed, answered


def _idle_rss_mb() -> float:
    with serve_process("--model", "echo", "--runtime", "process") as proc:
        time.sleep(2)  # let it settle
        return rss_mb(proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--skip-podman", action="store_true")
    args = parser.parse_args()
    rows = []
    cases = [("process runtime", "process", 0)]
    if not args.skip_podman:
        cases += [("podman, warm container", "podman", 60), ("podman, cold", "podman", 0)]
    for label, runtime, idle in cases:
        with temp_home(PYNCHY_ALLOW_PROCESS_RUNTIME="true"):
            samples = asyncio.run(_latencies(runtime, args.messages, idle))
        rows.append(
            (
                f"message -> reply, {label}",
                f"{pct_ms(samples, 50):.0f}",
                f"{pct_ms(samples, 99):.0f}",
                "",
            )
        )
    for label, runtime in [("process", "process")] + (
        [] if args.skip_podman else [("podman", "podman")]
    ):
        with temp_home(PYNCHY_ALLOW_PROCESS_RUNTIME="true"):
            samples = asyncio.run(_latencies(runtime, 101, 600))
        first, hundredth = samples[1:11], samples[91:101]  # samples[0] starts the container
        rows.append(
            (
                f"follow-ups 1-10 -> 91-100, warm {label}",
                f"{pct_ms(first, 50):.0f} -> {pct_ms(hundredth, 50):.0f}",
                f"{pct_ms(first, 99):.0f} -> {pct_ms(hundredth, 99):.0f}",
                "one session, one container",
            )
        )
    with temp_home(PYNCHY_ALLOW_PROCESS_RUNTIME="true"):
        rate, answered = asyncio.run(_throughput(50, 1000))
    rows.append(
        (
            "1,000 messages over 50 groups",
            "",
            "",
            f"{rate:.0f} msg/s, {answered}/50 groups fully answered",
        )
    )
    with temp_home(PYNCHY_ALLOW_PROCESS_RUNTIME="true"):
        rows.append(("idle RSS of serve", "", "", f"{_idle_rss_mb():.0f} MB"))
    print_table(
        f"serve ({args.messages} messages per latency case)",
        rows,
        ("what", "p50 ms", "p99 ms", "result"),
    )


if __name__ == "__main__":
    main()
