"""Shared helpers for the benchmarks: a throwaway PYNCHY_HOME, a serve to measure, RSS,
medians, a table."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table


@contextmanager
def temp_home(**env: str):
    """Run with a fresh PYNCHY_HOME (and extra env), restoring the environment after."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="pynchy-bench-") as home:
        os.environ["PYNCHY_HOME"] = home
        os.environ.update(env)
        try:
            yield Path(home)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    """Until GET url answers; RuntimeError when proc exits first or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no answer from {url} in {seconds:.0f}s")


@contextmanager
def serve_process(*args: str) -> Iterator[subprocess.Popen]:
    """`pynchy serve ARGS` on a free port of this machine, once its /health answers;
    stopped after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pynchy_cli", "serve", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait()


def rss_mb(pid: int, *, children: bool = False) -> float:
    """VmRSS of a process in MB, with its descendants' when `children` (a service may fork
    workers); what is gone counts 0."""
    pids, total = [pid], 0
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                total += next(int(x.split()[1]) for x in fh if x.startswith("VmRSS"))
            if children:
                for task in os.listdir(f"/proc/{current}/task"):
                    with open(f"/proc/{current}/task/{task}/children") as fh:
                        pids += [int(c) for c in fh.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def timed(fn: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def pct_ms(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def print_table(title: str, rows: list[tuple[str, ...]], columns: tuple[str, ...]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
