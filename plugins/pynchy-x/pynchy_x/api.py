"""The X API v2 through tweepy's Client, with X's refusals turned into one clear line.

tweepy's Client always talks to https://api.twitter.com; requests' transport adapters are
how a Session routes a URL, so an adapter mounted for that host sends each request on to
`api_url` (a proxy, or a local test server) and gives it a timeout. OAuth 1.0a requests
are signed for X's own URL, as a proxy that forwards them to X needs.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter

from pynchy_x.config import DEFAULT_API_URL, SETUP_HINT, XConfig

TIMEOUT = (10.0, 60.0)  # seconds to connect, and to wait for each part of an answer
_DETAIL_LIMIT = 300
# an id, or a post's URL: https://x.com/NAME/status/ID (also twitter.com, /i/web/status/ID)
_POST_ID = re.compile(
    r"(\d{1,19})"
    r"|https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/(?:\w+/){1,2}status/(\d{1,19})(?:[/?#]\S*)?"
)


class XError(Exception):
    """One line for the agent: what X (or the way to it) said, and what to do."""


class ApiUrlAdapter(HTTPAdapter):
    """Sends requests for tweepy's fixed host to `api_url`, each with a timeout."""

    def __init__(self, api_url: str, timeout: tuple[float, float] = TIMEOUT):
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if self.api_url != DEFAULT_API_URL and url.startswith(DEFAULT_API_URL + "/"):
            request.url = self.api_url + url[len(DEFAULT_API_URL) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def post_id(value: str) -> str:
    """The id of a post given as its id or its URL (https://x.com/NAME/status/ID)."""
    found = _POST_ID.fullmatch(str(value).strip())
    if not found:
        raise XError(
            f"{clip(value)!r} is not a post id (digits) or a post URL"
            " (https://x.com/NAME/status/ID)"
        )
    return found.group(1) or found.group(2)


def post_url(pid: str) -> str:
    return f"https://x.com/i/status/{pid}"


class XApi:
    """The calls the tools make. Every method raises XError with a line for the agent."""

    def __init__(self, config: XConfig):
        if not config.usable:
            raise XError(f"X is not configured on the host. {SETUP_HINT}")
        self.config = config
        # OAuth 1.0a keys sign every request; otherwise the OAuth 2.0 user token is the
        # bearer token and tweepy is told not to use "user auth" (its name for OAuth 1.0a)
        self.user_auth = config.oauth1
        self.client = tweepy.Client(
            bearer_token=config.bearer_token or None,
            consumer_key=config.consumer_key or None,
            consumer_secret=config.consumer_secret or None,
            access_token=config.access_token or None,
            access_token_secret=config.access_token_secret or None,
            return_type=dict,  # X's JSON as it came
            wait_on_rate_limit=False,  # say when to retry instead of hanging the call
        )
        self.client.session.mount(DEFAULT_API_URL + "/", ApiUrlAdapter(config.api_url))

    # --- publishing ------------------------------------------------------------------------

    def create_post(
        self, text: str, *, reply_to: str | None = None, quote: str | None = None
    ) -> dict[str, Any]:
        """POST /2/tweets; X's answer is {"data": {"id", "text"}}."""
        answer = self._call(
            "posting",
            self.client.create_tweet,
            text=text,
            in_reply_to_tweet_id=reply_to,
            quote_tweet_id=quote,
            user_auth=self.user_auth,
        )
        return self._data("posting", answer)

    def like(self, pid: str) -> bool:
        """POST /2/users/:id/likes with {"tweet_id"}; X answers {"data": {"liked": true}}."""
        answer = self._call("liking", self.client.like, pid, user_auth=self.user_auth)
        return bool(self._data("liking", answer).get("liked"))

    def repost(self, pid: str) -> bool:
        """POST /2/users/:id/retweets with {"tweet_id"}; {"data": {"retweeted": true}}."""
        answer = self._call("reposting", self.client.retweet, pid, user_auth=self.user_auth)
        return bool(self._data("reposting", answer).get("retweeted"))

    # --- reading ---------------------------------------------------------------------------

    _FIELDS = {
        "expansions": ["author_id"],
        "tweet_fields": [
            "author_id",
            "created_at",
            "conversation_id",
            "referenced_tweets",
            "public_metrics",
        ],
        "user_fields": ["username", "name"],
    }

    def get_post(self, pid: str) -> dict[str, Any]:
        """GET /2/tweets/:id with its author. A missing post is a 200 with only "errors"."""
        answer = self._call(
            "reading the post", self.client.get_tweet, pid, user_auth=self.user_auth, **self._FIELDS
        )
        self._data("reading the post", answer)
        return answer

    def mentions(self, max_results: int) -> dict[str, Any]:
        """GET /2/users/:id/mentions, newest first."""
        return self._call(
            "reading mentions",
            self.client.get_users_mentions,
            self.me["id"],
            max_results=max_results,
            user_auth=self.user_auth,
            **self._FIELDS,
        )

    def search_recent(self, query: str, max_results: int) -> dict[str, Any]:
        """GET /2/tweets/search/recent (the last seven days), newest first."""
        return self._call(
            "searching",
            self.client.search_recent_tweets,
            query,
            max_results=max_results,
            user_auth=self.user_auth,
            **self._FIELDS,
        )

    @cached_property
    def me(self) -> dict[str, Any]:
        """GET /2/users/me: the account the credentials belong to (id, name, username)."""
        answer = self._call("finding the account", self.client.get_me, user_auth=self.user_auth)
        return self._data("finding the account", answer)

    # --- errors ----------------------------------------------------------------------------

    def _call(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except tweepy.TooManyRequests as exc:
            raise XError(f"{what} failed: {rate_limited(exc.reset_time)}") from exc
        except tweepy.Unauthorized as exc:
            raise XError(
                f"{what} failed: X refused the credentials (401 Unauthorized: {detail(exc)})."
                " A person must check the X keys on the host; retrying will not help"
            ) from exc
        except tweepy.Forbidden as exc:
            raise XError(f"{what} failed: X refused it (403 Forbidden): {detail(exc)}") from exc
        except tweepy.NotFound as exc:
            raise XError(f"{what} failed: not found on X (404): {detail(exc)}") from exc
        except tweepy.BadRequest as exc:
            raise XError(
                f"{what} failed: X found the request invalid (400): {detail(exc)}"
            ) from exc
        except tweepy.TwitterServerError as exc:
            raise XError(
                f"{what} failed: X had a server error ({exc.response.status_code}); try again"
                " in a few minutes"
            ) from exc
        except tweepy.HTTPException as exc:
            raise XError(f"{what} failed: X answered {detail(exc)}") from exc
        except requests.JSONDecodeError as exc:  # before RequestException: it is one too
            raise XError(f"{what} failed: X's answer was not JSON; try again later") from exc
        except requests.RequestException as exc:
            raise XError(
                f"{what} failed: X is not reachable ({type(exc).__name__}); try again later"
            ) from exc

    def _data(self, what: str, answer: Any) -> dict[str, Any]:
        data = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(data, dict):
            return data
        problems = answer.get("errors") if isinstance(answer, dict) else None
        said = "; ".join(
            str(p.get("detail") or p.get("message") or p.get("title"))
            for p in (problems or [])
            if isinstance(p, dict)
        )
        raise XError(f"{what} failed: {clip(said) or 'X answered without data'}")


def detail(exc: tweepy.HTTPException) -> str:
    said = "; ".join(str(m) for m in exc.api_messages) or exc.response.reason or "no detail"
    return clip(said)


def clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _DETAIL_LIMIT else text[:_DETAIL_LIMIT] + "..."


def rate_limited(reset_time: int | None, now: float | None = None) -> str:
    """What an agent is told when X's rate limit is reached (x-rate-limit-reset is the
    epoch second when the window starts again)."""
    if reset_time is None:
        return "X's rate limit was reached; retry in 15 minutes (X gave no reset time)"
    wait = max(0, int(reset_time - (time.time() if now is None else now)))
    when = datetime.fromtimestamp(reset_time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"X's rate limit was reached; retry after {when} (in {wait} seconds)"
