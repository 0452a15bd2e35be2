"""Agent cores through their real client libraries against local wire-format servers,
and the offline cores, pricing and the registry."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from pydantic import SecretStr

from pynchy_cli import protocol
from pynchy_cli.core.agent_cores.anthropic import AnthropicCore
from pynchy_cli.core.agent_cores.base import Usage
from pynchy_cli.core.agent_cores.offline import EchoCore, ScriptedCore
from pynchy_cli.core.agent_cores.openai import OpenAICore
from pynchy_cli.core.agent_cores.pricing import cost_usd, price_for
from pynchy_cli.core.agent_cores.registry import make_core
from pynchy_cli.core.agent_cores.sdk_errors import status_error
from pynchy_cli.core.config import Account, Settings
from pynchy_cli.core.errors import ConfigError, ExitCode, UnavailableError
from pynchy_cli.core.models import choose_model
from tests.fakes.anthropic_server import AnthropicServer
from tests.fakes.openai_server import OpenAIServer

ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"
OPENAI_KEY = "sk-proj-test-0123456789abcdef"
BASH = next(t for t in protocol.LOCAL_TOOLS if t["name"] == "bash")
SYSTEM = "You are a test assistant."


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def tool_results(*results: tuple[str, str, bool]) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": i, "content": c, "is_error": e}
            for i, c, e in results
        ],
    }


def complete(
    core: Any,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    max_tokens: int = 1024,
    close: bool = True,
):
    async def go():
        try:
            return await core.complete(
                system=SYSTEM, messages=messages, tools=tools or [], max_tokens=max_tokens
            )
        finally:
            if close:
                await core.aclose()

    return asyncio.run(go())


def complete_error(core: Any, messages: list[dict[str, Any]]) -> UnavailableError:
    with pytest.raises(UnavailableError) as info:
        complete(core, messages)
    return info.value


def all_text(err: BaseException) -> str:
    """Everything an error could show: its line, str, repr and the chain behind it."""
    parts = []
    seen: BaseException | None = err
    while seen is not None:
        parts += [str(seen), repr(seen), getattr(seen, "hint", "") or ""]
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    if isinstance(err, UnavailableError):
        parts.append(err.line())
    return "\n".join(parts)


# --- Anthropic ----------------------------------------------------------------------------


def test_anthropic_text_turn_usage_and_cost():
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.reply_text(
            "Hello there",
            usage={
                "input_tokens": 1000,
                "output_tokens": 200,
                "cache_read_input_tokens": 5000,
                "cache_creation_input_tokens": 400,
            },
            model="claude-sonnet-5-5-20260928",
        )
        result = complete(
            AnthropicCore("claude-sonnet-5-5", ANTHROPIC_KEY, srv.base_url), [user("hi")]
        )
    assert result.content == [{"type": "text", "text": "Hello there"}]
    assert result.stop_reason == "end_turn"
    assert result.model == "claude-sonnet-5-5-20260928"
    assert result.usage == Usage(1000, 200, 5000, 400)
    # sonnet 5.5: $2 in, $10 out, cache reads $0.10, cache writes $2.50 per million
    assert result.cost_usd == pytest.approx((1000 * 2 + 200 * 10 + 5000 * 0.1 + 400 * 2.5) / 1e6)

    (request,) = srv.requests
    assert request.path == "/v1/messages"
    assert srv.presented_key(request) == ANTHROPIC_KEY
    assert "anthropic-version" in request.headers
    body = request.body
    assert body["model"] == "claude-sonnet-5-5"
    assert body["max_tokens"] == 1024
    assert body["system"][0]["text"] == SYSTEM
    assert body["messages"][0]["role"] == "user"
    assert body["messages"][0]["content"][0]["text"] == "hi"
    assert "tools" not in body


THINKING_TURN = [
    {"type": "thinking", "thinking": "list the files", "signature": "sig-1"},
    {"type": "redacted_thinking", "data": "opaque"},
    {"type": "thinking", "thinking": "", "signature": "sig-2"},  # display "omitted"
    {"type": "text", "text": "Let me look."},
    {
        "type": "tool_use",
        "id": "toolu_01",
        "name": "bash",
        "input": {"command": "ls", "timeout": 5},
    },
]


def test_anthropic_tool_use_round_trip():
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.reply(THINKING_TURN, stop_reason="tool_use")
        srv.reply_text("Two files.")
        core = AnthropicCore("claude-haiku-4-5", ANTHROPIC_KEY, srv.base_url)
        messages = [user("what is here?")]
        first = complete(core, messages, [BASH], close=False)
        assert first.stop_reason == "tool_use"
        assert first.content == [
            {"type": "thinking", "thinking": "list the files"},
            {"type": "text", "text": "Let me look."},
            {
                "type": "tool_use",
                "id": "toolu_01",
                "name": "bash",
                "input": {"command": "ls", "timeout": 5},
            },
        ]
        # The agent sends the whole turn back, as the protocol carries it.
        messages += [
            {"role": "assistant", "content": first.content},
            tool_results(("toolu_01", "a.txt\nb.txt", False)),
        ]
        second = complete(core, messages, [BASH])

    assert second.content == [{"type": "text", "text": "Two files."}]
    assert second.stop_reason == "end_turn"
    tools = srv.requests[0].body["tools"]
    assert tools == [
        {"name": "bash", "description": BASH["description"], "input_schema": BASH["input_schema"]}
    ]
    sent = srv.requests[1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    # the assistant turn goes back as the API issued it: signed and redacted thinking too
    assert sent[1]["content"] == THINKING_TURN
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == "toolu_01"
    assert result["content"] == "a.txt\nb.txt"
    assert not result.get("is_error")


def test_anthropic_unknown_turn_goes_back_without_thinking():
    """A turn this core did not produce (a resumed session) has no signature to send:
    its thinking is left out, the rest maps 1:1."""
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.reply_text("Two files.")
        messages = [
            user("what is here?"),
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "list the files"},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "bash",
                        "input": {"command": "ls"},
                    },
                ],
            },
            tool_results(("toolu_01", "a.txt", False)),
        ]
        complete(AnthropicCore("claude-haiku-4-5", ANTHROPIC_KEY, srv.base_url), messages)
    assert srv.requests[0].body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_01", "name": "bash", "input": {"command": "ls"}}
    ]


def test_anthropic_tool_error_is_flagged():
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.reply_text("I see it failed.")
        messages = [
            user("run it"),
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_9", "name": "bash", "input": {"command": "x"}}
                ],
            },
            tool_results(("toolu_9", "command not found", True)),
        ]
        complete(AnthropicCore("claude-sonnet-5-5", ANTHROPIC_KEY, srv.base_url), messages)
    block = srv.requests[0].body["messages"][2]["content"][0]
    assert block["is_error"] is True
    assert block["content"] == "command not found"


def test_anthropic_wrong_key_is_unavailable_without_the_key(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    wrong = "sk-ant-wrong-key-987654321"
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.reply_text("never")
        err = complete_error(AnthropicCore("claude-sonnet-5-5", wrong, srv.base_url), [user("hi")])
    assert srv.presented_key(srv.requests[0]) == wrong
    assert len(srv.requests) == 1  # auth failures are not retried
    assert err.exit_code == ExitCode.UNAVAILABLE
    assert "anthropic" in err.message and "401" in err.message
    assert "api_key" in (err.hint or "")
    assert "\n" not in err.line()
    assert wrong not in all_text(err)
    assert wrong not in caplog.text


@pytest.mark.parametrize(("status", "word"), [(500, "server error"), (529, "overloaded")])
def test_anthropic_server_errors_retry_a_bounded_number_of_times(status: int, word: str):
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.fail(status, times=10)
        err = complete_error(
            AnthropicCore("claude-sonnet-5-5", ANTHROPIC_KEY, srv.base_url, max_retries=2),
            [user("hi")],
        )
    assert len(srv.requests) == 3  # one try and two retries
    assert f"HTTP {status}" in err.message and word in err.message
    assert err.hint
    assert ANTHROPIC_KEY not in all_text(err)


def test_anthropic_recovers_after_a_transient_error():
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.fail(529, times=1)
        srv.reply_text("ok now")
        result = complete(
            AnthropicCore("claude-sonnet-5-5", ANTHROPIC_KEY, srv.base_url), [user("hi")]
        )
    assert result.content == [{"type": "text", "text": "ok now"}]
    assert len(srv.requests) == 2


def test_anthropic_rejected_request_names_the_reason():
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:  # nothing queued: the fake answers 400
        err = complete_error(
            AnthropicCore("claude-sonnet-5-5", ANTHROPIC_KEY, srv.base_url), [user("hi")]
        )
    assert "HTTP 400" in err.message and "no reply queued" in err.message
    assert len(srv.requests) == 1


def test_anthropic_connection_refused():
    srv = AnthropicServer(key=ANTHROPIC_KEY).start()
    url = srv.base_url
    srv.stop()
    err = complete_error(
        AnthropicCore("claude-sonnet-5-5", ANTHROPIC_KEY, url, max_retries=0), [user("hi")]
    )
    assert "cannot connect" in err.message and url in err.message
    assert "base_url" in (err.hint or "")


def test_anthropic_fake_streams_like_the_api():
    async def go(base_url: str):
        client = anthropic.AsyncAnthropic(api_key=ANTHROPIC_KEY, base_url=base_url)
        try:
            async with client.messages.stream(
                model="claude-sonnet-5-5",
                max_tokens=100,
                messages=[{"role": "user", "content": "hi"}],
                tools=[{"name": "bash", "input_schema": {"type": "object"}}],
            ) as stream:
                return await stream.get_final_message()
        finally:
            await client.close()

    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.reply_tool_use("bash", {"command": "ls"}, text="Looking", id="toolu_s")
        message = asyncio.run(go(srv.base_url))
    assert srv.requests[0].body["stream"] is True
    assert message.stop_reason == "tool_use"
    assert message.content[0].text == "Looking"
    assert message.content[1].input == {"command": "ls"}


# --- OpenAI -------------------------------------------------------------------------------


def test_openai_text_turn_usage_and_cost():
    with OpenAIServer(key=OPENAI_KEY) as srv:
        srv.reply_text(
            "Hello there",
            usage={
                "prompt_tokens": 1200,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 200},
            },
            model="gpt-4o-2024-08-06",
        )
        result = complete(OpenAICore("gpt-4o", OPENAI_KEY, srv.base_url), [user("hi")])
    assert result.content == [{"type": "text", "text": "Hello there"}]
    assert result.stop_reason == "end_turn"
    assert result.model == "gpt-4o-2024-08-06"
    assert result.usage == Usage(input_tokens=1000, output_tokens=300, cache_read_tokens=200)
    assert result.cost_usd == pytest.approx((1000 * 2.5 + 300 * 10 + 200 * 1.25) / 1e6)

    (request,) = srv.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    body = request.body
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "hi"},
    ]
    assert body["max_tokens"] == 1024  # a compatible server: the widely known name
    assert "tools" not in body


def test_openai_tool_call_round_trip():
    with OpenAIServer(key=OPENAI_KEY) as srv:
        call_id = srv.reply_tool_call("bash", {"command": "ls"}, text="Let me look.")
        srv.reply_text("Two files.")
        core = OpenAICore("gpt-4.1-mini", OPENAI_KEY, srv.base_url)
        messages = [user("what is here?")]
        first = complete(core, messages, [BASH], close=False)
        assert first.stop_reason == "tool_use"
        assert first.content == [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": call_id, "name": "bash", "input": {"command": "ls"}},
        ]
        messages += [
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "hm"}, *first.content],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call_id,
                        "content": "a.txt\nb.txt",
                        "is_error": False,
                    },
                    {"type": "text", "text": "and be brief"},
                ],
            },
        ]
        second = complete(core, messages, [BASH])

    assert second.content == [{"type": "text", "text": "Two files."}]
    assert srv.requests[0].body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "bash",
                "description": BASH["description"],
                "parameters": BASH["input_schema"],
            },
        }
    ]
    sent = srv.requests[1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]
    assistant = sent[2]
    assert assistant["content"] == "Let me look."
    (call,) = assistant["tool_calls"]
    assert call["id"] == call_id and call["type"] == "function"
    assert call["function"]["name"] == "bash"
    assert json.loads(call["function"]["arguments"]) == {"command": "ls"}
    assert sent[3] == {"role": "tool", "tool_call_id": call_id, "content": "a.txt\nb.txt"}
    assert sent[4] == {"role": "user", "content": "and be brief"}


def test_openai_tool_error_is_marked_in_the_text():
    with OpenAIServer(key=OPENAI_KEY) as srv:
        srv.reply_text("It failed.")
        messages = [
            user("run it"),
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "call_9", "name": "bash", "input": {"command": "x"}}
                ],
            },
            tool_results(("call_9", "command not found", True)),
        ]
        complete(OpenAICore("gpt-4o", OPENAI_KEY, srv.base_url), messages)
    tool_message = srv.requests[0].body["messages"][3]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_9"
    assert tool_message["content"].startswith("ERROR: ")
    assert "command not found" in tool_message["content"]
    assert srv.requests[0].body["messages"][2]["content"] is None  # tool calls only


def test_openai_malformed_arguments_become_raw_and_go_back_cleanly():
    with OpenAIServer(key=OPENAI_KEY) as srv:
        call_id = srv.reply_tool_call("bash", '{"command": "ls"')
        srv.reply_text("Sorry.")
        core = OpenAICore("gpt-4o", OPENAI_KEY, srv.base_url)
        first = complete(core, [user("go")], [BASH], close=False)
        assert first.content == [
            {
                "type": "tool_use",
                "id": call_id,
                "name": "bash",
                "input": {"_raw": '{"command": "ls"'},
            }
        ]
        messages = [
            user("go"),
            {"role": "assistant", "content": first.content},
            tool_results((call_id, "invalid arguments", True)),
        ]
        second = complete(core, messages, [BASH])
    assert second.content == [{"type": "text", "text": "Sorry."}]


def test_openai_compatible_server_quirks():
    """Ollama-style answers: tool calls finished with "stop", reasoning in an extra field,
    no usage; and a server that takes no key."""
    with OpenAIServer(key=None) as srv:
        srv.reply(
            {
                "content": None,
                "reasoning_content": "think first",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "bash", "arguments": ""},
                    }
                ],
            },
            finish_reason="stop",
        )
        srv.reply_text("cut off", finish_reason="length")
        core = OpenAICore("llama3.2", None, srv.base_url)
        first = complete(core, [user("go")], [BASH], close=False)
        second = complete(core, [user("go on")])
    assert first.stop_reason == "tool_use"
    assert first.content == [
        {"type": "thinking", "thinking": "think first"},
        {"type": "tool_use", "id": "call_1", "name": "bash", "input": {}},
    ]
    assert first.cost_usd is None  # a local model has no known price: unknown, not $0
    assert second.stop_reason == "max_tokens"
    assert srv.requests[0].headers["authorization"] == "Bearer not-needed"


def test_openai_official_endpoint_uses_max_completion_tokens():
    core = OpenAICore("gpt-4o", OPENAI_KEY, None)
    assert core._official
    asyncio.run(core.aclose())


def test_openai_wrong_key_is_unavailable_without_the_key(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    wrong = "sk-proj-wrong-key-987654321"
    with OpenAIServer(key=OPENAI_KEY) as srv:
        srv.reply_text("never")
        err = complete_error(OpenAICore("gpt-4o", wrong, srv.base_url), [user("hi")])
        assert srv.requests[0].headers["authorization"] == f"Bearer {wrong}"
    # the fake's 401 text quotes the key in full (the real API masks it): none of it shows
    assert len(srv.requests) == 1
    assert "openai" in err.message and "401" in err.message
    assert "api_key" in (err.hint or "")
    assert wrong not in all_text(err)
    assert wrong not in caplog.text


def test_openai_server_error_retries_a_bounded_number_of_times():
    with OpenAIServer(key=OPENAI_KEY) as srv:
        srv.fail(500, times=10)
        err = complete_error(
            OpenAICore("gpt-4o", OPENAI_KEY, srv.base_url, max_retries=1), [user("hi")]
        )
    assert len(srv.requests) == 2  # one try and one retry
    assert "HTTP 500" in err.message
    assert OPENAI_KEY not in all_text(err)


def test_openai_rejected_request_names_the_reason():
    with OpenAIServer(key=OPENAI_KEY) as srv:
        srv.reply_text("unused")
        # an unanswered tool call: the fake validates the conversation like the API does
        messages = [
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "call_x", "name": "bash", "input": {}}],
            },
            user("hi"),
        ]
        err = complete_error(OpenAICore("gpt-4o", OPENAI_KEY, srv.base_url), messages)
    assert "HTTP 400" in err.message and "tool_call_ids" in err.message


def test_openai_fake_streams_like_the_api():
    async def go(base_url: str):
        client = openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=base_url)
        try:
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            parts, calls, finish = [], [], None
            async for chunk in stream:
                for choice in chunk.choices:
                    parts.append(choice.delta.content or "")
                    calls += choice.delta.tool_calls or []
                    finish = choice.finish_reason or finish
            return "".join(parts), calls, finish
        finally:
            await client.close()

    with OpenAIServer(key=OPENAI_KEY) as srv:
        srv.reply_tool_call("bash", {"command": "ls"}, text="Looking", id="call_s")
        text, calls, finish = asyncio.run(go(srv.base_url))
    assert text == "Looking"
    assert calls[0].id == "call_s" and calls[0].function.name == "bash"
    assert json.loads("".join(c.function.arguments or "" for c in calls)) == {"command": "ls"}
    assert finish == "tool_calls"


def test_provider_text_in_errors_is_redacted():
    body = {"error": {"message": f"bad request from key {OPENAI_KEY} (also sk-abc***wxyz)"}}
    err = status_error("openai", 400, body, secret=OPENAI_KEY, key_var="OPENAI_API_KEY")
    assert "HTTP 400" in err.message and "bad request from key" in err.message
    assert OPENAI_KEY not in err.line() and "wxyz" not in err.line()
    long = status_error("openai", 422, {"message": "x " * 500}, secret=None, key_var="K")
    assert len(long.line()) < 400


# --- offline cores ------------------------------------------------------------------------


def test_echo_is_deterministic_and_counts_words():
    messages = [
        user("first"),
        {"role": "assistant", "content": [{"type": "text", "text": "x"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "one"},
                {"type": "text", "text": "hello big world"},
            ],
        },
    ]
    a = complete(EchoCore(), messages)
    b = complete(EchoCore(), messages)
    assert a == b
    assert a.content == [{"type": "text", "text": "echo: hello big world"}]
    assert a.stop_reason == "end_turn"
    assert a.usage.input_tokens > 0 and a.usage.output_tokens == 4
    assert a.cost_usd == 0.0


def test_echo_after_tool_results_says_done():
    messages = [
        user("run"),
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "ls"}}
            ],
        },
        tool_results(("t1", "a.txt", False)),
    ]
    assert complete(EchoCore(), messages).content == [{"type": "text", "text": "echo: done"}]


def write_script(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "script.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


SCRIPT = {
    "turns": [
        {
            "thinking": "look first",
            "text": "Looking.",
            "tool_calls": [
                {"name": "bash", "input": {"command": "ls"}},
                {"name": "read_file", "input": {"path": "a.txt"}},
            ],
        },
        {"text": "All done."},
    ]
}


def test_scripted_replays_turns_by_history(tmp_path: Path):
    core = ScriptedCore(write_script(tmp_path, SCRIPT))
    first = complete(core, [user("go")])
    assert first.stop_reason == "tool_use"
    assert first.content == [
        {"type": "thinking", "thinking": "look first"},
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "toolu_0_0", "name": "bash", "input": {"command": "ls"}},
        {"type": "tool_use", "id": "toolu_0_1", "name": "read_file", "input": {"path": "a.txt"}},
    ]
    assert first.usage.output_tokens > 0
    # stateless: the same history gives the same turn (a retry, a resumed session)
    assert complete(core, [user("go")]) == first
    history = [
        user("go"),
        {"role": "assistant", "content": first.content},
        tool_results(("toolu_0_0", "a.txt", False), ("toolu_0_1", "hi", False)),
    ]
    second = complete(core, history)
    assert second.content == [{"type": "text", "text": "All done."}]
    assert second.stop_reason == "end_turn"
    history += [{"role": "assistant", "content": second.content}, user("more?")]
    third = complete(core, history)  # a follow-up in the same run goes on
    assert third.content == [{"type": "text", "text": "(script finished)"}]
    assert third.stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], '"turns" list'),
        ({"turns": ["hi"]}, "turn 0 must be an object"),
        ({"turns": [{"text": "a", "tool_call": []}]}, "unknown key 'tool_call'"),
        ({"turns": [{"tool_calls": [{"input": {}}]}]}, "tool call 0 needs a name"),
        ({"turns": [{"tool_calls": [{"name": "bash", "input": "ls"}]}]}, "must be an object"),
        ({"turns": [{"thinking": "only"}]}, "needs text or tool_calls"),
        ({"turns": [{"text": 3}]}, "text must be a string"),
    ],
)
def test_scripted_bad_files_are_config_errors(tmp_path: Path, content: Any, expected: str):
    path = write_script(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        ScriptedCore(path)
    assert expected in info.value.message
    assert str(path) in info.value.message
    assert info.value.hint and "\n" not in info.value.line()


def test_scripted_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        ScriptedCore(tmp_path / "nope.json")
    assert "does not exist" in info.value.message
    assert info.value.exit_code == ExitCode.CONFIG


# --- pricing ------------------------------------------------------------------------------


def test_pricing_matches_families_and_dated_names():
    assert price_for("claude-sonnet-4-5") == price_for("claude-sonnet-4-5-20250929")
    assert price_for("claude-3-5-haiku-latest") is not None
    assert price_for("claude-opus-4-20250514").input == 15.0
    assert price_for("claude-opus-4-5").input == 5.0
    assert price_for("gpt-4o-mini-2024-07-18").input == 0.15
    assert price_for("gpt-4o").input == 2.5
    assert price_for("gpt-4.1-mini").output == 1.6
    assert price_for("openai/gpt-4.1").input == 2.0
    # unknown: a local model, and a newer version than the table knows
    assert price_for("llama3.2") is None
    assert price_for("claude-sonnet-4-99") is None
    assert price_for("gpt-4o-audio-preview") is None


def test_cost_usd():
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost_usd("gpt-4.1", usage) == pytest.approx(10.0)
    assert cost_usd("claude-haiku-4-5", Usage(cache_read_tokens=1_000_000)) == pytest.approx(0.1)
    assert cost_usd("mystery-model", usage) is None


# --- registry -----------------------------------------------------------------------------


def settings_with(**accounts: Account) -> Settings:
    return Settings(accounts=accounts)


def test_make_core_offline(tmp_path: Path):
    settings = settings_with()
    assert isinstance(make_core(choose_model(settings, flag="echo"), settings), EchoCore)
    script = write_script(tmp_path, SCRIPT)
    core = make_core(choose_model(settings, flag=f"scripted:{script}"), settings)
    assert isinstance(core, ScriptedCore) and core.path == script


def test_make_core_anthropic_account_end_to_end():
    with AnthropicServer(key=ANTHROPIC_KEY) as srv:
        srv.reply_text("hi from the account")
        settings = settings_with(
            anthropic=Account(
                provider="anthropic", api_key=SecretStr(ANTHROPIC_KEY), base_url=srv.base_url
            )
        )
        core = make_core(choose_model(settings, flag="anthropic:claude-haiku-4-5"), settings)
        assert isinstance(core, AnthropicCore) and core.model == "claude-haiku-4-5"
        result = complete(core, [user("hi")])
    assert result.content == [{"type": "text", "text": "hi from the account"}]
    assert srv.presented_key(srv.requests[0]) == ANTHROPIC_KEY


def test_make_core_openai_compatible_account_without_key():
    with OpenAIServer(key=None) as srv:
        srv.reply_text("local model here")
        settings = settings_with(local=Account(provider="openai", base_url=srv.base_url))
        choice = choose_model(settings, flag="openai:qwen3", group_account="local")
        core = make_core(choice, settings)
        assert isinstance(core, OpenAICore)
        result = complete(core, [user("hi")])
    assert result.content == [{"type": "text", "text": "local model here"}]
    assert srv.requests[0].body["model"] == "qwen3"


def test_make_core_without_account_is_a_config_error():
    from pynchy_cli.core.models import ModelChoice

    with pytest.raises(ConfigError) as info:
        make_core(ModelChoice("anthropic", "claude-sonnet-5-5", "work"), settings_with())
    assert "work" in info.value.message and info.value.hint
