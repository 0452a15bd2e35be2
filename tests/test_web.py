"""The web page over HTTP, against a real `pynchy serve`: login, the session cookie and its
flags, CSRF and Origin checks on every POST, one-time links, logout, escaping, approvals
through the page, and the bearer-token API left as it was."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
import requests
from servehelp import Serve
from webhelp import approval_serve, base_url, csrf_of, log_in, one_time_link

from pynchy_cli.core.paths import Paths
from pynchy_cli.core.serve.endpoint import record_endpoint
from pynchy_cli.core.serve.web.html import Html, esc, fmt
from pynchy_cli.core.serve.web.links import create_link_code, take_link_code


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    home = tmp_path_factory.mktemp("web") / "home"
    home.mkdir()
    service = Serve(home, env={"PYNCHY_PLUGINS": ""}).start()
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def cookie_header(answer: requests.Response) -> str:
    return answer.headers.get("Set-Cookie", "")


# --- without a session ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/web/", "/web/groups/main", "/web/approvals", "/web/runs", "/web/usage"]
)
def test_pages_without_a_session_go_to_the_login(serve, path):
    answer = requests.get(base_url(serve) + path, allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/web/login?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize(
    "path", ["/web/api/approvals", "/web/api/groups/main/messages", "/web/api/health", "/events"]
)
def test_api_calls_without_a_session_are_401(serve, path):
    answer = requests.get(base_url(serve) + path, allow_redirects=False, timeout=10)
    assert answer.status_code == 401
    assert "error" in answer.json()


def test_a_post_without_a_session_is_401(serve):
    base = base_url(serve)
    answer = requests.post(
        base + "/web/groups/main/messages", data={"text": "hi"}, headers={"Origin": base}
    )
    assert answer.status_code == 401
    assert not any(m["content"] == "hi" for m in serve.messages("main"))


def test_the_root_opens_the_page(serve):
    answer = requests.get(base_url(serve) + "/", allow_redirects=False)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/web/")


# --- logging in ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "wrong", "é"])
def test_a_wrong_token_is_refused(serve, token):
    base = base_url(serve)
    answer = requests.post(
        base + "/web/login", data={"token": token}, headers={"Origin": base}, allow_redirects=False
    )
    assert answer.status_code == 401
    assert "That is not the API token." in answer.text
    assert "Set-Cookie" not in answer.headers


def test_the_login_sets_a_strict_httponly_cookie(serve):
    base = base_url(serve)
    answer = requests.post(
        base + "/web/login",
        data={"token": serve.token, "next": "/web/runs"},
        headers={"Origin": base},
        allow_redirects=False,
    )
    assert (answer.status_code, answer.headers["Location"]) == (303, "/web/runs")
    cookie = cookie_header(answer)
    assert cookie.startswith(f"pynchy_session_{serve.port}=")
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert "secure" not in flags  # plain http on loopback: a Secure cookie would be dropped
    # the cookie is not the token, nor anything derived from it that the page shows
    assert serve.token not in cookie


def test_behind_https_the_cookie_is_secure(serve):
    base = base_url(serve).replace("http:", "https:")
    answer = requests.post(
        base_url(serve) + "/web/login",
        data={"token": serve.token},
        headers={"Origin": base, "X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    assert answer.status_code == 303
    assert "secure" in [p.strip().lower() for p in cookie_header(answer).split(";")]


def test_the_login_refuses_a_foreign_origin(serve):
    answer = requests.post(
        base_url(serve) + "/web/login",
        data={"token": serve.token},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
    )
    assert answer.status_code == 403 and "Set-Cookie" not in answer.headers


def test_the_next_page_stays_on_this_site(serve):
    base = base_url(serve)
    for target in ("https://evil.example/", "//evil.example/web/", "/web/\\evil"):
        answer = requests.post(
            base + "/web/login",
            data={"token": serve.token, "next": target},
            headers={"Origin": base},
            allow_redirects=False,
        )
        assert answer.headers["Location"] == "/web/", target


def test_pages_with_the_session(serve):
    session = log_in(serve)
    for path in ("/web/", "/web/groups/main", "/web/approvals", "/web/runs", "/web/tasks"):
        answer = session.get(base_url(serve) + path, allow_redirects=False)
        assert answer.status_code == 200, path
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp
        assert '<meta name="viewport"' in answer.text and '<main id="main"' in answer.text
        assert "<script>" not in answer.text  # no inline script anywhere
    health = session.get(base_url(serve) + "/web/api/health").json()
    assert health["ok"] is True and health["version"] and health["started_at"]


def test_events_take_the_session_cookie(serve):
    session = log_in(serve)
    with session.get(base_url(serve) + "/events?group=main", stream=True, timeout=10) as answer:
        assert answer.status_code == 200
        assert next(answer.iter_lines()) == b": connected"


def test_the_cookie_opens_nothing_of_the_bearer_api_but_events(serve):
    session = log_in(serve)
    assert session.get(base_url(serve) + "/status").status_code == 401
    answer = session.post(base_url(serve) + "/groups/main/messages", json={"text": "x"})
    assert answer.status_code == 401


def test_the_bearer_api_is_unchanged(serve):
    assert serve.get("/status")["groups"][0]["name"] == "main"
    assert serve.get("/health", auth=False)["ok"] is True
    assert serve.send("main", "via the api")["queued"] is True
    answer = requests.get(base_url(serve) + "/status", headers={"Authorization": "Bearer nope"})
    assert answer.json() == {"error": "missing or wrong token"}


# --- POSTs: Origin and CSRF ----------------------------------------------------------------


def test_a_post_needs_the_csrf_token_and_its_own_origin(serve):
    session = log_in(serve)
    base = base_url(serve)
    token = csrf_of(session, serve)
    url = base + "/web/groups/main/messages"
    refused = [
        session.post(url, data={"text": "no csrf"}, headers={"Origin": base}),
        session.post(url, data={"text": "bad csrf", "csrf": "0" * 64}, headers={"Origin": base}),
        session.post(
            url, data={"text": "foreign", "csrf": token}, headers={"Origin": "http://evil.example"}
        ),
        session.post(url, data={"text": "no origin", "csrf": token}),
        session.post(url, data={"text": "null", "csrf": token}, headers={"Origin": "null"}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    stored = {m["content"] for m in serve.messages("main")}
    assert not stored & {"no csrf", "bad csrf", "foreign", "no origin", "null"}
    ok = session.post(
        url,
        data={"text": "with csrf", "csrf": token},
        headers={"Origin": base},
        allow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["Location"].startswith("/web/groups/main#m")
    by_header = session.post(
        url,
        data={"text": "csrf in a header"},
        headers={"Origin": base, "X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert by_header.status_code == 201 and by_header.json()["message"]["channel"] == "web"
    via_referer = session.post(
        url,
        data={"text": "referer only", "csrf": token},
        headers={"Referer": base + "/web/groups/main"},
        allow_redirects=False,
    )
    assert via_referer.status_code == 303
    stored = {m["content"] for m in serve.messages("main")}
    assert {"with csrf", "csrf in a header", "referer only"} <= stored


def test_another_sessions_csrf_token_does_not_work(serve):
    mine, theirs = log_in(serve), log_in(serve)
    base = base_url(serve)
    answer = mine.post(
        base + "/web/groups/main/messages",
        data={"text": "crossed", "csrf": csrf_of(theirs, serve)},
        headers={"Origin": base},
    )
    assert answer.status_code == 403


def test_a_bad_message_is_one_line(serve):
    session = log_in(serve)
    base = base_url(serve)
    answer = session.post(
        base + "/web/groups/main/messages",
        data={"text": "   ", "csrf": csrf_of(session, serve)},
        headers={"Origin": base, "Accept": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["error"].startswith("empty message")
    page = session.get(base + "/web/groups/nobody")
    assert page.status_code == 404 and "no group named" in page.text


# --- logout, one-time links, sessions over restarts -------------------------------------------


def test_logout_ends_the_session_on_serve_too(serve):
    session = log_in(serve)
    base = base_url(serve)
    cookie = dict(session.cookies)
    answer = session.post(
        base + "/web/logout",
        data={"csrf": csrf_of(session, serve)},
        headers={"Origin": base},
        allow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/web/login"
    assert "Max-Age=0" in cookie_header(answer)
    replayed = requests.get(base + "/web/", cookies=cookie, allow_redirects=False)
    assert replayed.status_code == 303  # the old cookie is worth nothing now


def test_a_one_time_link_works_once(serve):
    link = one_time_link(serve, "--group", "main")
    assert link.startswith(base_url(serve) + "/web/link?code=")
    first = requests.get(link, allow_redirects=False)
    assert (first.status_code, first.headers["Location"]) == (303, "/web/groups/main")
    assert "HttpOnly" in cookie_header(first)
    assert requests.get(base_url(serve) + "/web/groups/main", cookies=first.cookies).ok
    again = requests.get(link, allow_redirects=False)
    assert again.status_code == 403 and "already used or has expired" in again.text
    assert "Set-Cookie" not in again.headers


def test_a_one_time_link_expires(serve):
    paths = Paths(config_dir=serve.home, data_dir=serve.home)
    code = create_link_code(paths, ttl=-1)  # already past its time
    answer = requests.get(f"{base_url(serve)}/web/link?code={code}", allow_redirects=False)
    assert answer.status_code == 403 and "Set-Cookie" not in answer.headers
    assert not list((serve.home / "web-links").iterdir())  # taken, so gone


def test_link_codes_are_private_and_single_use(tmp_path):
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    code = create_link_code(paths, "/web/runs")
    [stored] = (tmp_path / "web-links").iterdir()
    assert code not in stored.name and code not in stored.read_text()
    assert stored.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "web-links").stat().st_mode & 0o777 == 0o700
    assert take_link_code(paths, code) == "/web/runs"
    assert take_link_code(paths, code) is None
    with pytest.raises(ValueError):
        create_link_code(paths, "https://evil.example/")


def test_pynchy_web_without_serve_says_so(cli):
    result = cli("web", "--no-open")
    assert result.exit_code != 0
    assert "pynchy serve is not running here" in result.output


def test_pynchy_web_needs_a_port(cli, pynchy_home):
    paths = Paths(config_dir=pynchy_home, data_dir=pynchy_home)
    record_endpoint(paths, host="127.0.0.1", port=8787, socket=str(pynchy_home / "api.sock"))
    result = cli("web", "--no-open")
    assert result.exit_code != 0
    assert "listens on a unix socket" in result.output and "--port" in result.output


def test_sessions_survive_a_restart_but_not_a_new_token(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    first = Serve(home, env={"PYNCHY_PLUGINS": ""}).start()
    session = log_in(first)
    assert (home / "web-sessions.json").stat().st_mode & 0o777 == 0o600
    first.terminate()
    second = Serve(home, env={"PYNCHY_PLUGINS": ""})
    second.port = first.port  # the cookie is named after the port
    second.start()
    try:
        assert session.get(base_url(second) + "/web/", allow_redirects=False).status_code == 200
    finally:
        second.terminate()
    (home / "api-token").unlink()  # serve makes a new token: every session ends
    third = Serve(home, env={"PYNCHY_PLUGINS": ""})
    third.port = first.port
    third.start()
    try:
        assert session.get(base_url(third) + "/web/", allow_redirects=False).status_code == 303
    finally:
        third.kill9()


# --- what the page shows --------------------------------------------------------------------


def test_messages_and_runs_are_shown_as_text(serve):
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> \x1b[31mred\u202e"
    serve.send("main", hostile, sender='<b onmouseover="x">eve</b>')
    serve.wait_for(
        lambda: any(hostile in m["content"] for m in serve.messages("main")[1:]), "the echo"
    )
    session = log_in(serve)
    page = session.get(base_url(serve) + "/web/groups/main").text
    assert "<script>alert" not in page and "<img src=x" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "\\x1b[31mred\\u202e" in page and "\x1b" not in page and "\u202e" not in page
    assert "&lt;b onmouseover=&quot;x&quot;&gt;eve&lt;/b&gt;" in page
    run_id = re.search(r'href="/web/runs/([0-9a-f]+)"', page).group(1)
    transcript = session.get(f"{base_url(serve)}/web/runs/{run_id}").text
    assert "<script>alert" not in transcript and "&lt;script&gt;alert(1)" in transcript


def test_the_escaping_helpers():
    assert esc("<a href='x'>&") == "&lt;a href=&#x27;x&#x27;&gt;&amp;"
    assert esc(Html("<b>ok</b>")) == "<b>ok</b>"
    assert fmt("<p title='{t}'>{b}</p>", t="'><script>", b=Html("<i>x</i>")) == (
        "<p title='&#x27;&gt;&lt;script&gt;'><i>x</i></p>"
    )
    assert esc("a\x00b\x9bc\u2066d\te\nf") == "a\\x00b\\x9bc\\u2066d\te\nf"


def test_usage_tasks_and_health_pages(serve):
    session = log_in(serve)
    base = base_url(serve)
    usage = session.get(base + "/web/usage?since=all&metric=tokens")
    assert usage.status_code == 200
    assert '<svg class="bar"' in usage.text and "By account" in usage.text
    assert "By group" in usage.text and "By day" in usage.text
    assert session.get(base + "/web/usage?since=forever").status_code == 400
    health = session.get(base + "/web/health").text
    assert "serve is up" in health and "version" in health


def test_runs_show_their_node_when_they_have_one(serve):
    serve.send("main", "a run for the list")
    serve.wait_for(lambda: serve.get("/status")["runs"], "a run")
    with sqlite3.connect(serve.home / "pynchy.db") as db:  # as Ray's pool records it
        db.execute("update runs set node = 'node-7f3a'")
    page = log_in(serve).get(base_url(serve) + "/web/runs").text
    assert '<th scope="col">node</th>' in page and "node-7f3a" in page
    assert "Per node" in page


# --- approvals through the page --------------------------------------------------------------


def test_an_approval_from_the_page_takes_the_channel_path(tmp_path):
    serve = approval_serve(tmp_path).start()
    home = serve.home
    try:
        session = log_in(serve)
        base = base_url(serve)
        serve.send("main", "please wipe")
        waiting = serve.wait_for(
            lambda: session.get(base + "/web/api/approvals?group=main").json()["approvals"],
            "the approval request",
        )
        [item] = waiting
        assert item["tool"] == "mcp__pol__wipe"
        assert item["reason"] == "mcp__pol__wipe is a destructive tool"
        page = session.get(base + "/web/approvals").text
        assert "mcp__pol__wipe is a destructive tool" in page and f"approval-{item['id']}" in page
        token = csrf_of(session, serve)
        bad = session.post(
            f"{base}/web/approvals/{item['id']}",
            data={"decision": "maybe", "csrf": token},
            headers={"Origin": base, "Accept": "application/json"},
        )
        assert bad.status_code == 400
        answer = session.post(
            f"{base}/web/approvals/{item['id']}",
            data={"decision": "approve", "csrf": token},
            headers={"Origin": base, "Accept": "application/json"},
        )
        assert answer.json() == {"ok": True, "notice": f"Approved {item['id']}."}
        serve.wait_for(
            lambda: any(m["content"] == "finished" for m in serve.messages("main")),
            "the run to go on",
        )
        again = session.post(
            f"{base}/web/approvals/{item['id']}",
            data={"decision": "deny", "csrf": token},
            headers={"Origin": base, "Accept": "application/json"},
        )
        assert again.status_code == 409
        contents = [m["content"] for m in serve.messages("main")]
        # as if typed in the group: the answer, then the host's notice
        assert f"approve {item['id']}" in contents and f"Approved {item['id']}." in contents
    finally:
        serve.kill9()
    assert serve.calls.read_text() == "wipe\n"
    with sqlite3.connect(home / "pynchy.db") as db:
        assert db.execute("select status, decided_by from approvals").fetchall() == [
            ("approved", "you")
        ]
        [(decision, detail)] = db.execute(
            "select decision, detail from audit where action = 'tool:mcp__pol__wipe'"
        ).fetchall()
        assert (decision, json.loads(detail)["by"]) == ("approved", "you")
        [(channel,)] = db.execute(
            "select channel from messages where content like 'approve %'"
        ).fetchall()
        assert channel == "web"
