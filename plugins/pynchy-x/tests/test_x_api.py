"""XApi, the tools' client, directly against the local X API: X's answers that the tools
only pass on (server errors, rate limits without a reset time), and the base URL adapter."""

from __future__ import annotations

import pytest
from pynchy_x.api import ApiUrlAdapter, XApi, XError, post_id, rate_limited
from pynchy_x.config import load_config
from x_fake import USER_ID
from x_helpers import oauth1_env


def api(fake_x, **extra: str) -> XApi:
    return XApi(load_config(environ=oauth1_env(fake_x, **extra)))


def test_a_server_error_says_try_again(fake_x):
    fake_x.failing["POST /2/tweets"] = 503
    with pytest.raises(XError, match=r"posting failed: X had a server error \(503\); try again"):
        api(fake_x).create_post("hello")


def test_an_answer_that_is_not_json(fake_x):
    fake_x.failing["POST /2/tweets"] = 200  # a captive portal or a broken proxy
    with pytest.raises(XError, match=r"posting failed: X's answer was not JSON; try again later"):
        api(fake_x).create_post("hello")


def test_rate_limit_names_the_time_to_retry(fake_x):
    fake_x.failing["GET /2/users/me"] = 429
    with pytest.raises(XError) as err:
        api(fake_x).me  # noqa: B018 (a property that asks X)
    assert "finding the account failed: X's rate limit was reached; retry after" in str(err.value)
    assert rate_limited(1_800_000_900, now=1_800_000_000) == (
        "X's rate limit was reached; retry after 2027-01-15 08:15:00 UTC (in 900 seconds)"
    )
    assert "retry in 15 minutes" in rate_limited(None)


def test_the_account_is_asked_once(fake_x):
    client = api(fake_x)
    assert client.me["username"] == "pynchybot" and client.me["id"] == USER_ID
    assert len(fake_x.made("GET", "/2/users/me")) == 1


def test_requests_go_to_the_api_url_with_a_timeout(fake_x):
    client = api(fake_x)
    adapter = client.client.session.get_adapter("https://api.twitter.com/2/tweets")
    assert isinstance(adapter, ApiUrlAdapter) and adapter.api_url == fake_x.url
    assert adapter.timeout[0] > 0
    # the default API URL leaves tweepy's own host alone
    default = XApi(load_config(environ={"X_BEARER_TOKEN": "t"}))
    assert default.client.session.get_adapter("https://api.twitter.com/2/tweets").api_url == (
        "https://api.twitter.com"
    )


@pytest.mark.parametrize(
    ("given", "wanted"),
    [
        ("1800000000000000001", "1800000000000000001"),
        (" 20 ", "20"),
        ("https://x.com/ann/status/20", "20"),
        ("https://twitter.com/ann/status/20?s=20", "20"),
        ("https://x.com/i/web/status/20", "20"),
        ("https://mobile.twitter.com/ann/status/20/photo/1", "20"),
    ],
)
def test_post_ids_and_urls(given, wanted):
    assert post_id(given) == wanted


@pytest.mark.parametrize(
    "given",
    ["", "abc", "https://example.com/ann/status/20", "12345678901234567890", "1 2", "20/x"],
)
def test_not_post_ids(given):
    with pytest.raises(XError, match="is not a post id"):
        post_id(given)
