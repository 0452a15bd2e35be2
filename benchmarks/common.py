"""Shared helpers for the benchmarks: a throwaway PYNCHY_HOME, medians, a table."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
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
