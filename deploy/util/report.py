"""A machine-readable account of a pyinfra run, for `pynchy deploy`.

When $PYNCHY_DEPLOY_REPORT names a file, the deploy records, per host and operation, whether
it changed something, changed nothing, failed, would change (--dry) or never ran, and writes
that as JSON when pyinfra exits. Only operation names are recorded: no data, no output.
Plain `pyinfra` runs (no variable) are untouched.
"""

from __future__ import annotations

import atexit
import json
import os
from typing import Any

from pyinfra import state as state_proxy
from pyinfra.api.state import BaseStateCallback

ENV = "PYNCHY_DEPLOY_REPORT"

_enabled: list[Any] = []


def _op_name(state: Any, op_hash: str) -> str:
    names = sorted(state.get_op_meta(op_hash).names)
    return names[0] if names else op_hash


class _Errors(BaseStateCallback):
    def __init__(self) -> None:
        self.failed: list[dict[str, str]] = []

    def operation_host_error(self, state, host, op_hash, retry_count=0, max_retries=0):  # type: ignore[override]
        if retry_count >= max_retries:
            self.failed.append({"host": host.name, "op": _op_name(state, op_hash)})


def _status(op_data: Any) -> str:
    meta = op_data.operation_meta
    if meta.is_complete():
        if meta.did_error():
            return "error"
        return "changed" if meta.did_change() else "unchanged"
    maybe = getattr(meta, "_maybe_is_change", None)
    if maybe is None:
        return "not-run"
    if not maybe:
        return "no-change"
    # Like pyinfra's "Conditional Change": runs only if its _if holds (an earlier change).
    return "may-change" if op_data.global_arguments.get("_if") else "would-change"


def collect(state: Any, errors: _Errors) -> dict[str, Any]:
    hosts: dict[str, Any] = {}
    failed_hosts = {h.name for h in getattr(state, "failed_hosts", set())}
    activated = set(getattr(state, "activated_hosts", set()))
    for host in state.inventory:
        if host not in activated and host.name not in failed_hosts:
            continue  # left out by --limit
        ops = []
        host_ops = state.ops.get(host, {})
        for op_hash in state.get_op_order():
            if op_hash in host_ops:
                ops.append({"op": _op_name(state, op_hash), "status": _status(host_ops[op_hash])})
        hosts[host.name] = {"failed": host.name in failed_hosts, "ops": ops}
    return {"hosts": hosts, "failed_ops": errors.failed}


def enable_from_env() -> None:
    """Start recording if $PYNCHY_DEPLOY_REPORT is set (once per process)."""
    path = os.environ.get(ENV)
    if not path or _enabled:
        return
    state = state_proxy._get_module()  # the real State, still reachable at exit
    errors = _Errors()
    state.add_callback_handler(errors)
    _enabled.append(state)

    def write() -> None:
        try:
            data = collect(state, errors)
        except Exception as exc:  # never turn a deploy's exit into a traceback
            data = {"error": f"report incomplete: {type(exc).__name__}: {exc}"}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh)

    atexit.register(write)
