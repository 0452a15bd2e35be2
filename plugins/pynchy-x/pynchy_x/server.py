"""The X tools as an MCP server over stdio: `python -m pynchy_x.server`.

pynchy runs it on the host with the credentials in its environment (see config.py), so an
agent sees only the tools. Each tool's annotations tell pynchy's policy gate its tier:
reading is read-only, everything that publishes as the account is open-world and not
read-only, the external tier a person approves.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from pynchy_x.api import XApi, XError, post_id, post_url
from pynchy_x.config import LONGEST_POST, XConfig, load_config
from pynchy_x.posts import describe
from pynchy_x.text import weighted_length

READS = ToolAnnotations(read_only_hint=True, open_world_hint=True)
PUBLISHES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
# liking or reposting twice leaves the same state
MARKS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)

PostRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=300,
        description="The post's id (digits) or its URL, https://x.com/NAME/status/ID",
    ),
]
PostText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=LONGEST_POST,
        description="The text, at most 280 characters as X counts them unless the host"
        " allows more (a URL counts 23, an emoji or a CJK character 2)",
    ),
]

server = MCPServer(
    "x",
    instructions="The X account configured on the host: read posts and mentions, search"
    " recent posts, and post, reply, quote, repost and like as that account.",
    log_level="WARNING",
)


@cache
def _config() -> XConfig:
    return load_config(environ=os.environ)


@cache
def _api() -> XApi:
    return XApi(_config())


def _answer(action: Callable[[XApi], str]) -> str:
    """action(api), with X's refusals as the tool's error text."""
    try:
        return action(_api())
    except XError as exc:
        raise ToolError(str(exc)) from exc


def _fits(text: str) -> str:
    limit, length = _config().max_post_length, weighted_length(text)
    if not text.strip():
        raise ToolError("the text is empty")
    if length > limit:
        raise ToolError(
            f"the text is {length} characters as X counts them (a URL counts 23, an emoji or"
            f" a CJK character 2) and the account may post {limit}; shorten it"
        )
    return text


def _ref(value: str) -> str:
    try:
        return post_id(value)
    except XError as exc:
        raise ToolError(str(exc)) from exc


# --- reading -------------------------------------------------------------------------------


@server.tool(annotations=READS, structured_output=False)
def get_post(post: PostRef) -> str:
    """Read one post: its text, author, time, what it replies to or quotes, its counts."""
    pid = _ref(post)
    return _answer(lambda api: describe(api.get_post(pid), empty=f"post {pid} was not found"))


@server.tool(annotations=READS, structured_output=False)
def mentions(max_results: Annotated[int, Field(ge=5, le=100)] = 10) -> str:
    """The newest posts that mention the account, newest first."""
    return _answer(
        lambda api: describe(api.mentions(max_results), empty="no posts mention the account")
    )


@server.tool(annotations=READS, structured_output=False)
def search_recent(
    query: Annotated[
        str,
        Field(
            min_length=1,
            max_length=512,
            description="X search syntax, e.g. 'pynchy -is:retweet' or 'from:NAME'",
        ),
    ],
    max_results: Annotated[int, Field(ge=10, le=100)] = 10,
) -> str:
    """Search the posts of the last seven days, newest first."""
    return _answer(
        lambda api: describe(
            api.search_recent(query, max_results), empty="no post of the last seven days matches"
        )
    )


# --- publishing (a person approves each call) -----------------------------------------------


@server.tool(annotations=PUBLISHES, structured_output=False)
def post(text: PostText) -> str:
    """Publish a new post as the account."""
    text = _fits(text)
    made = _answer(lambda api: api.create_post(text)["id"])
    return f"posted {made}: {post_url(made)}"


@server.tool(annotations=PUBLISHES, structured_output=False)
def reply(post: PostRef, text: PostText) -> str:
    """Reply to a post as the account."""
    pid, text = _ref(post), _fits(text)
    made = _answer(lambda api: api.create_post(text, reply_to=pid)["id"])
    return f"replied to {pid} with post {made}: {post_url(made)}"


@server.tool(annotations=PUBLISHES, structured_output=False)
def quote(post: PostRef, text: PostText) -> str:
    """Quote a post: a new post of the account with this text and the quoted post."""
    pid, text = _ref(post), _fits(text)
    made = _answer(lambda api: api.create_post(text, quote=pid)["id"])
    return f"quoted {pid} in post {made}: {post_url(made)}"


@server.tool(annotations=MARKS, structured_output=False)
def retweet(post: PostRef) -> str:
    """Repost (retweet) a post as the account."""
    pid = _ref(post)
    done = _answer(lambda api: "yes" if api.repost(pid) else "")
    return f"reposted {pid}" if done else f"X did not repost {pid}"


@server.tool(annotations=MARKS, structured_output=False)
def like(post: PostRef) -> str:
    """Like a post as the account."""
    pid = _ref(post)
    done = _answer(lambda api: "yes" if api.like(pid) else "")
    return f"liked {pid}" if done else f"X did not like {pid}"


def main() -> None:
    server.run()


if __name__ == "__main__":
    main()
