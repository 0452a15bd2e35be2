"""A local X API v2 for tests: the endpoints tweepy's Client calls, on 127.0.0.1.

Built from X's documented formats:
- Authentication: `Authorization: OAuth ...` (OAuth 1.0a user context, HMAC-SHA1; the
  signature is checked against X's own URL, https://api.twitter.com/PATH) or
  `Authorization: Bearer TOKEN` (an OAuth 2.0 user token). Anything else: 401
  {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}.
- POST /2/tweets {"text", "reply": {"in_reply_to_tweet_id"}, "quote_tweet_id"} -> 201
  {"data": {"id", "text", "edit_history_tweet_ids"}}; the same text twice -> 403 "You are not
  allowed to create a Tweet with duplicate content."; a reply to or quote of an unknown post
  -> 400 invalid-request problem with "errors".
- POST /2/users/:id/likes and /2/users/:id/retweets {"tweet_id"} -> 200 {"data": {"liked":
  true}} / {"data": {"retweeted": true}}; :id must be the authenticated user (else 403).
- GET /2/users/me -> {"data": {"id", "name", "username"}}.
- GET /2/tweets/:id -> {"data": {...}, "includes": {"users": [...]}}; an unknown id is a 200
  with only "errors" (a resource-not-found problem).
- GET /2/users/:id/mentions and /2/tweets/search/recent?query= -> {"data": [...],
  "includes", "meta": {"result_count", "newest_id", "oldest_id"}}, newest first;
  max_results outside X's bounds -> 400.
- Failures: routes in `failing` ("POST /2/tweets", "POST /2/users/*") answer their status:
  429 {"title": "Too Many Requests", ...} with x-rate-limit-limit / -remaining / -reset
  (epoch seconds), 503 {"title": "Service Unavailable", ...}, or 200 with an HTML page.
Every request is recorded in `requests` (method, path, query, json, authorization, auth).
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature, utils

from pynchy_cli import testing

CONSUMER_KEY, CONSUMER_SECRET = "ck-pynchy-test", "cs-pynchy-test"
USER_ID = "1500000000000000001"
ACCESS_TOKEN, ACCESS_SECRET = f"{USER_ID}-at-pynchy-test", "as-pynchy-test"
BEARER = "oauth2-user-token-pynchy-test"
X_HOST = "https://api.twitter.com"  # what OAuth 1.0a signatures are computed for
SEARCH_BOUNDS = {"/2/tweets/search/recent": (10, 100), "mentions": (5, 100)}


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "type": kind, "status": status, "detail": detail}


class FakeX(testing.FakeServer):
    thread_name, timeout = "fake-x", 10.0

    def __init__(self) -> None:
        self.users = {
            USER_ID: {"id": USER_ID, "name": "Pynchy Bot", "username": "pynchybot"},
            "2244994945": {"id": "2244994945", "name": "Ann <Dev>", "username": "ann"},
        }
        self.posts: dict[str, dict[str, Any]] = {}
        self.likes: list[tuple[str, str]] = []  # (user id, post id)
        self.reposts: list[tuple[str, str]] = []
        self.requests: list[dict[str, Any]] = []
        self.failing: dict[str, int] = {}  # "POST /2/tweets": 429 or 503
        self.reset_at = int(time.time()) + 900
        self._next = 1_800_000_000_000_000_000
        self.port = 0
        self.add_post("2244994945", "Has anyone tried pynchy? Asking for a friend.")

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self.port = await self._listen(app)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- what a test does ---------------------------------------------------------------

    def add_post(self, author: str, text: str, **fields: Any) -> str:
        self._next += 1
        pid = str(self._next)
        self.posts[pid] = {
            "id": pid,
            "text": text,
            "author_id": author,
            "created_at": "2026-11-02T10:00:00.000Z",
            "conversation_id": pid,
            "edit_history_tweet_ids": [pid],
            "public_metrics": {"like_count": 0, "retweet_count": 0, "reply_count": 0},
            **fields,
        }
        return pid

    def made(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if (r["method"], r["path"]) == (method, path)]

    # --- the API ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        record: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "json": json.loads(body) if body else None,
            "authorization": request.headers.get("Authorization", ""),
        }
        self.requests.append(record)
        user = record["auth"] = self._authenticate(request)
        if user is None:
            return self._json(401, problem(401, "Unauthorized", "Unauthorized"))
        route = f"{request.method} {request.path}"
        for pattern, status in self.failing.items():
            if route == pattern or (pattern.endswith("*") and route.startswith(pattern[:-1])):
                return self._failure(status)
        parts = request.path.strip("/").split("/")
        if route == "POST /2/tweets":
            return self._create(user, record["json"] or {})
        if route == "GET /2/users/me":
            return self._json(200, {"data": self.users[user]})
        if request.method == "POST" and len(parts) == 4 and parts[:2] == ["2", "users"]:
            return self._mark(user, parts[2], parts[3], record["json"] or {})
        if route == "GET /2/tweets/search/recent":
            words = request.query.get("query", "").lower().split()
            found = [p for p in self.posts.values() if all(w in p["text"].lower() for w in words)]
            return self._list(found, request.query, SEARCH_BOUNDS[request.path])
        if request.method == "GET" and len(parts) == 4 and parts[3] == "mentions":
            name = "@" + self.users[parts[2]]["username"]
            found = [p for p in self.posts.values() if name in p["text"]]
            return self._list(found, request.query, SEARCH_BOUNDS["mentions"])
        if request.method == "GET" and len(parts) == 3 and parts[:2] == ["2", "tweets"]:
            return self._lookup(parts[2])
        return self._json(404, problem(404, "Not Found Error", f"no route {route}"))

    def _authenticate(self, request: web.Request) -> str | None:
        """The user id the request is made for, or None."""
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {BEARER}":
            return USER_ID
        if not header.startswith("OAuth "):
            return None
        fields = dict(utils.parse_authorization_header(header))
        if (fields.get("oauth_consumer_key"), fields.get("oauth_token")) != (
            CONSUMER_KEY,
            ACCESS_TOKEN,
        ):
            return None
        query = request.rel_url.raw_query_string  # as signed: still percent-encoded
        signed = SimpleNamespace(
            http_method=request.method,
            uri=X_HOST + request.path + (f"?{query}" if query else ""),
            params=signature.collect_parameters(
                uri_query=query, headers={"Authorization": header}, exclude_oauth_signature=True
            ),
            signature=utils.unescape(fields.get("oauth_signature", "")),
        )
        if not signature.verify_hmac_sha1(signed, CONSUMER_SECRET, ACCESS_SECRET):
            return None
        return ACCESS_TOKEN.split("-")[0]

    def _create(self, user: str, body: dict[str, Any]) -> web.Response:
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return self._invalid("text", text, "The `text` field is required")
        target = (body.get("reply") or {}).get("in_reply_to_tweet_id") or body.get("quote_tweet_id")
        if target is not None and target not in self.posts:
            field = "reply.in_reply_to_tweet_id" if body.get("reply") else "quote_tweet_id"
            return self._invalid(field, target, f"The post {target} does not exist")
        if any(p["author_id"] == user and p["text"] == text for p in self.posts.values()):
            detail = "You are not allowed to create a Tweet with duplicate content."
            return self._json(403, problem(403, "Forbidden", detail))
        refs = []
        if body.get("reply"):
            refs.append({"type": "replied_to", "id": target})
        if body.get("quote_tweet_id"):
            refs.append({"type": "quoted", "id": target})
        pid = self.add_post(user, text, **({"referenced_tweets": refs} if refs else {}))
        return self._json(201, {"data": {"id": pid, "text": text, "edit_history_tweet_ids": [pid]}})

    def _mark(self, user: str, owner: str, what: str, body: dict[str, Any]) -> web.Response:
        if what not in ("likes", "retweets"):
            return self._json(404, problem(404, "Not Found Error", f"no route {what}"))
        if owner != user:
            detail = "You are not permitted to perform this action."
            return self._json(403, problem(403, "Forbidden", detail))
        pid = body.get("tweet_id")
        if pid not in self.posts:
            return self._invalid("tweet_id", pid, f"The post {pid} does not exist")
        (self.likes if what == "likes" else self.reposts).append((user, pid))
        key = "liked" if what == "likes" else "retweeted"
        return self._json(200, {"data": {key: True}})

    def _lookup(self, pid: str) -> web.Response:
        post = self.posts.get(pid)
        if post is None:
            missing = {
                "value": pid,
                "detail": f"Could not find tweet with id: [{pid}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "id",
                "resource_id": pid,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            return self._json(200, {"errors": [missing]})
        return self._json(200, {"data": post, "includes": {"users": self._authors([post])}})

    def _list(self, found: list[dict], query: Any, bounds: tuple[int, int]) -> web.Response:
        wanted = int(query.get("max_results", 10))
        if not bounds[0] <= wanted <= bounds[1]:
            low, high = bounds
            detail = f"The `max_results` query parameter value [{wanted}] is not in {low}..{high}"
            return self._invalid("max_results", str(wanted), detail)
        found = sorted(found, key=lambda p: int(p["id"]), reverse=True)[:wanted]
        if not found:
            return self._json(200, {"meta": {"result_count": 0}})
        meta = {
            "result_count": len(found),
            "newest_id": found[0]["id"],
            "oldest_id": found[-1]["id"],
        }
        return self._json(
            200, {"data": found, "includes": {"users": self._authors(found)}, "meta": meta}
        )

    def _authors(self, posts: list[dict]) -> list[dict]:
        ids = dict.fromkeys(p["author_id"] for p in posts)
        return [self.users[i] for i in ids if i in self.users]

    def _failure(self, status: int) -> web.Response:
        if status == 200:  # what a captive portal answers
            return web.Response(
                text="<html>Sign in to the network</html>", content_type="text/html"
            )
        if status != 429:
            return self._json(status, problem(status, "Service Unavailable", "Service Unavailable"))
        limits = {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(self.reset_at),
        }
        return self._json(429, problem(429, "Too Many Requests", "Too Many Requests"), limits)

    def _invalid(self, field: str, value: Any, message: str) -> web.Response:
        return self._json(
            400,
            {
                "errors": [{"parameters": {field: [value]}, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
        )

    @staticmethod
    def _json(status: int, payload: dict, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(payload, status=status, headers=headers)
