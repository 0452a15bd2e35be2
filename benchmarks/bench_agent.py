"""Agent run benchmarks: a cold run in podman (echo model) against a bare `podman run`,
and the host's overhead per run with the process runtime against a bare interpreter start.

    .venv/bin/python benchmarks/bench_agent.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys

from common import median_ms, print_table, temp_home, timed

from pynchy_cli.core.agent.background import wait_for_removals
from pynchy_cli.core.agent.run import AgentRun, RunRequest
from pynchy_cli.core.context import Context
from pynchy_cli.core.groups import add_group, find_group


def agent_run(runtime: str) -> None:
    ctx = Context()
    group = find_group(ctx.db, "bench") or add_group(ctx.db, ctx.paths, "bench", admin=True)
    run = AgentRun(
        ctx,
        RunRequest(group=group, prompt="hello", model="echo", runtime=runtime, new_session=True),
    )
    outcome = asyncio.run(run.execute())
    wait_for_removals()  # the container gone too, as before `pynchy agent run` exits
    assert outcome.status == "succeeded", outcome.error


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with temp_home(PYNCHY_ALLOW_PROCESS_RUNTIME="true"):
        image = Context().settings.image
        bare_podman = timed(
            lambda: subprocess.run(
                ["podman", "run", "--rm", "--network", "none", image, "python3", "-c", "pass"],
                check=True,
                capture_output=True,
            ),
            args.repeat,
        )
        cold = timed(lambda: agent_run("podman"), args.repeat)
        bare_python = timed(
            lambda: subprocess.run([sys.executable, "-S", "-c", "pass"], check=True), args.repeat
        )
        process = timed(lambda: agent_run("process"), args.repeat)
    rows.append(
        (
            "cold run, podman, echo",
            f"{median_ms(cold):.0f}",
            "bare `podman run ... python3 -c pass`",
            f"{median_ms(bare_podman):.0f}",
            f"{median_ms(cold) / median_ms(bare_podman):.2f}x",
        )
    )
    rows.append(
        (
            "run, process runtime, echo",
            f"{median_ms(process):.0f}",
            "bare `python -S -c pass`",
            f"{median_ms(bare_python):.0f}",
            f"{median_ms(process) / median_ms(bare_python):.2f}x",
        )
    )
    rows.append(
        (
            "host overhead per run (process)",
            f"{median_ms(process) - median_ms(bare_python):.0f}",
            "",
            "",
            "",
        )
    )
    print_table(
        f"agent runs (median of {args.repeat})", rows, ("what", "ms", "peer", "peer ms", "ratio")
    )


if __name__ == "__main__":
    main()
