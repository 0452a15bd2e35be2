"""Does an account's model server answer, with the models pynchy will ask it for?

For `pynchy doctor`: every `openai` account with a base_url (a local server such as
Ollama, llama.cpp's llama-server or vLLM, or any endpoint a person configured) is asked
`GET {base_url}/models`, the OpenAI list-models call these servers all answer, within
TIMEOUT seconds. The models the configuration and the groups use on that account must be
among those it lists. The official OpenAI endpoint (no base_url) is not asked: doctor
makes no paid or remote calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2

from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.models import choose_model

TIMEOUT = 5.0  # seconds for the whole request
START_HINT = (
    "Start the server (ollama serve; llama-server --jinja -m MODEL.gguf --port 8080;"
    " vllm serve MODEL --enable-auto-tool-choice --tool-call-parser PARSER) or fix"
    " base_url in [accounts.{account}]"
)


@dataclass(frozen=True)
class ServerFinding:
    account: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True  # the account is in use: runs on it would fail


def models_in_use(settings: Settings, groups: list[Any]) -> dict[str, dict[str, list[str]]]:
    """account -> model name -> who uses it (`default`, `group G`, `agent A`)."""
    wanted: list[tuple[str, dict[str, Any]]] = []
    if settings.model:
        wanted.append(("default", {}))
    for group in groups:
        wanted.append(
            (f"group {group.name}", {"group_model": group.model, "group_account": group.account})
        )
    for name, agent in (settings.agents or {}).items():
        if agent.model:
            wanted.append((f"agent {name}", {"flag": agent.model, "group_account": agent.account}))
    used: dict[str, dict[str, list[str]]] = {}
    for who, how in wanted:
        try:
            choice = choose_model(settings, **how)
        except PynchyError:
            continue  # the model check reports it
        if choice.account:
            used.setdefault(choice.account, {}).setdefault(choice.name, []).append(who)
    return used


def check_model_servers(settings: Settings, groups: list[Any]) -> list[ServerFinding]:
    used = models_in_use(settings, groups)
    return [
        check_server(name, account, used.get(name, {}))
        for name, account in sorted(settings.accounts.items())
        if account.provider == "openai" and account.base_url
    ]


def check_server(name: str, account: Any, models: dict[str, list[str]]) -> ServerFinding:
    """One account's server: it answers GET /models, and lists each model in `models`."""
    url = account.base_url.rstrip("/") + "/models"
    key = account.api_key.get_secret_value() if account.api_key else None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    required = bool(models)
    try:
        response = httpx2.get(url, headers=headers, timeout=TIMEOUT)
    except httpx2.HTTPError as exc:
        why = "did not answer in time" if isinstance(exc, httpx2.TimeoutException) else "is down"
        return ServerFinding(
            name, False, f"{url} {why} ({type(exc).__name__})", _start(name), required
        )
    if response.status_code in (401, 403):
        fix = f"Set api_key in [accounts.{name}] to the server's key"
        return ServerFinding(
            name, False, f"{url} refused the key (HTTP {response.status_code})", fix, required
        )
    listed = _model_ids(response)
    if listed is None:
        detail = f"{url} answered HTTP {response.status_code}, not a model list"
        fix = f"base_url in [accounts.{name}] must be the server's OpenAI API root, e.g. .../v1"
        return ServerFinding(name, False, detail, fix, required)
    missing = {m: who for m, who in models.items() if not _serves(listed, m)}
    shown = ", ".join(sorted(listed)[:8]) + (", ..." if len(listed) > 8 else "")
    if missing:
        model, who = next(iter(sorted(missing.items())))
        users = ", ".join(who)
        detail = f"{url} does not list {model} (used by {users}); it lists: {shown or 'none'}"
        fix = (
            f"Load it there (ollama pull {model}; llama-server -m FILE --alias {model}; vllm"
            f" serve {model}) or pick a listed one: pynchy groups set G --model openai:NAME"
            f" --account {name}"
        )
        return ServerFinding(name, False, detail, fix, required)
    uses = f"; serves {', '.join(sorted(models))}" if models else ""
    return ServerFinding(name, True, f"{url} answers ({len(listed)} model(s){uses})", None)


def _model_ids(response: Any) -> set[str] | None:
    """The ids of `{"object": "list", "data": [{"id": ...}, ...]}`; None for anything else."""
    if response.status_code != 200:
        return None
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    return {str(m["id"]) for m in data if isinstance(m, dict) and "id" in m}


def _serves(listed: set[str], model: str) -> bool:
    """Ollama lists llama3.2 as llama3.2:latest and answers to either name."""
    return model in listed or f"{model}:latest" in listed


def _start(account: str) -> str:
    return START_HINT.format(account=account)
