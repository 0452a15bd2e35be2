"""What a run leaves to other threads, off its critical path: watching for the container's
exit while the result is awaited, and stopping and removing the container once it answered.

Removal threads are no daemons, so the process never exits before a removal is done;
`wait_for_removals` lets a caller wait for them sooner (`pynchy agent run` before it
returns, serve as it stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from pynchy_cli.core.runtimes.base import ContainerHandle, Runtime

log = logging.getLogger("pynchy.agent")

_pending: set[threading.Thread] = set()
_lock = threading.Lock()


def remove_later(runtime: Runtime, handle: ContainerHandle) -> None:
    """Stop and remove the container in the background (runtime.stop removes it)."""
    thread = threading.Thread(target=_remove, args=(runtime, handle), name=f"remove {handle.name}")
    with _lock:
        _pending.add(thread)
    thread.start()


def _remove(runtime: Runtime, handle: ContainerHandle) -> None:
    try:
        runtime.stop(handle)
    except Exception as exc:  # what is left is an orphan: the next cleanup removes it
        log.warning("could not remove container %s: %s", handle.name, exc)
    finally:
        with _lock:
            _pending.discard(threading.current_thread())


def wait_for_removals(timeout: float | None = None) -> None:
    """Wait until every container removed in the background is gone."""
    with _lock:
        threads = list(_pending)
    for thread in threads:
        thread.join(timeout)


def in_daemon_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """fn(*args) in a daemon thread, as a future of the running loop: for a read-only poll
    the run may stop waiting for. asyncio.to_thread's threads are joined as asyncio.run
    ends, which would hold `pynchy agent run` until the poll's next wake."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled: nobody waits for it any more
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except BaseException as exc:
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="watch exit", daemon=True).start()
    return future
