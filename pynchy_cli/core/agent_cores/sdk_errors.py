"""Turn a provider SDK's failure into one UnavailableError line with a hint.

Both SDKs (anthropic, openai) raise the same shapes: a status error carrying the HTTP
status and the decoded error body, a connection error and a timeout. The messages built
here never contain the api key: auth failures leave the provider's text out entirely,
and any other provider text is redacted (the key itself and anything key-shaped) and cut
to one short line.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pynchy_cli.core.errors import UnavailableError

_KEYLIKE = re.compile(
    r"(?i)(bearer\s+\S+|\b(?:sk|pk|rk|key|api)[-_][A-Za-z0-9_\-*.]{4,}|\*{3,}[A-Za-z0-9]*)"
)
_DETAIL_MAX = 200

_STATUS_WHAT = {
    400: "request rejected",
    401: "authentication failed",
    402: "payment required",
    403: "permission denied",
    404: "not found",
    408: "request timed out",
    413: "request too large",
    422: "request rejected",
    429: "rate limited",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
    529: "overloaded",
}


def redact(text: str, secret: str | None) -> str:
    """Remove the secret and anything that looks like a key from provider text."""
    if secret:
        text = text.replace(secret, "****")
    return _KEYLIKE.sub("****", text)


def safe_url(url: str) -> str:
    """The URL without user info, query or fragment (they may carry credentials)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the configured base_url"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", "")) or url


class ProviderStatusError(UnavailableError):
    """The provider answered with an error status; `error_type` is its error's type or code
    (anthropic `rate_limit_error`, `billing_error`; openai `insufficient_quota`)."""

    def __init__(self, message: str, hint: str, *, status: int, error_type: str | None):
        super().__init__(message, hint)
        self.status = status
        self.error_type = error_type


# Error types meaning "this account may not spend now": another account may.
_OUT_OF_CREDIT = {"billing_error", "insufficient_quota"}


def fallback_reason(error: BaseException) -> str | None:
    """Why another account of the provider should answer instead: "rate limited" or "out of
    credit"; None when the failure is not the account's (a bad request, an outage)."""
    if not isinstance(error, ProviderStatusError):
        return None
    if error.status == 402 or error.error_type in _OUT_OF_CREDIT:
        return "out of credit"
    if error.status == 429:
        return "rate limited"
    # Anthropic answers an empty prepaid balance with a 400 ("Your credit balance is too
    # low ..."), not with billing_error.
    if error.status == 400 and "credit balance" in error.message.lower():
        return "out of credit"
    return None


def _error_type(body: Any) -> str | None:
    inner = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        return None
    for key in ("code", "type"):  # openai puts insufficient_quota in code, type or both
        if inner.get(key) in _OUT_OF_CREDIT:
            return inner[key]
    kind = inner.get("type")
    return kind if isinstance(kind, str) else None


def api_message(body: Any) -> str | None:
    """The provider's own error message from a decoded error body, if any."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(body.get("message"), str):
            return body["message"]
    if isinstance(body, str) and body.strip():
        return body
    return None


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 3] + "..."


def status_error(
    provider: str, status: int, body: Any, *, secret: str | None, key_var: str
) -> ProviderStatusError:
    """An HTTP error status from the provider."""
    what = _STATUS_WHAT.get(status) or ("server error" if status >= 500 else "request failed")
    message = f"{provider}: {what} (HTTP {status})"
    account_hint = f"{key_var} or api_key in [accounts.NAME] of config.toml"
    kind = _error_type(body)
    if status in (401, 403):
        # The provider's text is left out on purpose: some echo (part of) the key back.
        return ProviderStatusError(
            message, f"Check the account's api_key ({account_hint})", status=status, error_type=kind
        )
    detail = api_message(body)
    if detail and status < 500:
        message = f"{provider}: {what} (HTTP {status}: {_one_line(redact(detail, secret))})"
    if status == 404:
        hint = "Check the model name and the account's base_url"
    elif status == 402:
        hint = "Check the account's billing and credit"
    elif status == 429:
        hint = "Wait and try again, or check the account's plan and limits"
    elif status >= 500:
        hint = "The provider is failing or overloaded; try again later"
    else:
        hint = "The provider refused the request; check the model name, or rerun with --traceback"
    return ProviderStatusError(message, hint, status=status, error_type=kind)


def connection_error(provider: str, base_url: str, *, timed_out: bool) -> UnavailableError:
    where = safe_url(base_url)
    if timed_out:
        return UnavailableError(
            f"{provider}: no answer from {where} in time",
            "The provider may be slow or overloaded; try again, or check the account's base_url",
        )
    return UnavailableError(
        f"{provider}: cannot connect to {where}",
        "Check the account's base_url, that the server runs, and your network",
    )


def other_error(provider: str, exc: Exception, *, secret: str | None) -> UnavailableError:
    detail = _one_line(redact(str(exc), secret)) or type(exc).__name__
    return UnavailableError(
        f"{provider}: unexpected answer ({detail})",
        "Check the account's base_url points at a compatible server",
    )
