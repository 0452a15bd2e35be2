"""What the security sweep looks for in a line of text: secrets in common key formats,
high-entropy values assigned to secret-sounding names, and risky settings. A secret is
only ever reported masked (`mask`): its first characters and its length."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

# name, pattern of the secret itself (group "secret" when only part of the match is)
KEY_FORMATS: list[tuple[str, re.Pattern[str]]] = [
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{60,})")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("OpenAI API key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}")),
]

_SECRET_NAME = (
    r"(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|credentials?|private[_-]?key|auth)"
)
ASSIGNMENT = re.compile(
    rf"(?i)\b[\w.-]*{_SECRET_NAME}[\w.-]*\s*(?::=|=|:)\s*[\"']?(?P<secret>[A-Za-z0-9+/=_.~-]{{16,}})"
)
MIN_ENTROPY = 3.5  # bits per character: random keys have 4 and more, words and paths less

RISKY: list[tuple[str, re.Pattern[str]]] = [
    ("debug enabled", re.compile(r"(?i)\bdebug\s*[:=]\s*[\"']?(?:true|1|yes|on)\b")),
    (
        "listens on every interface (0.0.0.0)",
        re.compile(r"(?i)(?:host|bind|listen|address|addr)\w*[\"']?\s*[:=]?\s*[\"']?0\.0\.0\.0"),
    ),
    (
        "TLS verification disabled",
        re.compile(
            r"(?i)(?:\bverify\s*=\s*False\b|verify_?ssl\w*\s*[:=]\s*[\"']?(?:false|0|no)\b"
            r"|ssl_?verify\w*\s*[:=]\s*[\"']?(?:false|0|no)\b|sslverify\s*=\s*false\b"
            r"|NODE_TLS_REJECT_UNAUTHORIZED\s*[:=]\s*[\"']?0|rejectUnauthorized\s*:\s*false"
            r"|\bCERT_NONE\b|\binsecure_skip_verify\s*[:=]\s*true)"
        ),
    ),
    ("world-writable mode in code", re.compile(r"\bchmod\s+(?:-R\s+)?0?777\b|\b0o777\b")),
]


@dataclass(frozen=True)
class LineFinding:
    kind: str
    masked: str | None  # secrets only
    column: int


def mask(secret: str) -> str:
    """'AKIA' + stars: never more than 4 characters of a secret, and its length."""
    shown = secret[:4] if len(secret) >= 12 else secret[:1]
    return f"{shown}{'*' * 8} ({len(secret)} chars)"


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def secrets_in(line: str) -> list[LineFinding]:
    """Secrets on one line: key formats first, then high-entropy assignments."""
    found: list[LineFinding] = []
    spans: list[tuple[int, int]] = []
    for kind, pattern in KEY_FORMATS:
        for match in pattern.finditer(line):
            spans.append(match.span())
            found.append(LineFinding(kind, mask(match.group(0)), match.start() + 1))
    for match in ASSIGNMENT.finditer(line):
        start, end = match.span("secret")
        if any(s < end and start < e for s, e in spans):
            continue  # already named by its format
        value = match.group("secret")
        if entropy(value) >= MIN_ENTROPY and not value.isalpha():
            found.append(LineFinding("high-entropy secret assignment", mask(value), start + 1))
    return found


def risky_in(line: str) -> list[LineFinding]:
    return [
        LineFinding(kind, None, match.start() + 1)
        for kind, pattern in RISKY
        if (match := pattern.search(line))
    ]
