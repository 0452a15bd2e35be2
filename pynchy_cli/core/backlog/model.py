"""The backlog's vocabulary: statuses and their folders, slugs and short titles."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pynchy_cli.core.errors import UsageError


@dataclass(frozen=True)
class Status:
    name: str  # what users type and see: "ready"
    folder: str  # where its plans live: "3-ready"
    heading: str  # its section in TODO.md: "3 - Ready"
    blurb: str  # the line under the heading
    tracked: bool = True  # listed in TODO.md (completed and denied items leave it)
    verb: str = ""  # the command that moves an item here: "ready"

    @property
    def order(self) -> int:
        return STATUSES.index(self)


STATUSES: list[Status] = [
    Status(
        "proposed", "0-proposed", "0 - Proposed", "*Ideas awaiting human review - to be discussed.*"
    ),
    Status(
        "approved", "1-approved", "1 - Approved", "*Approved ideas. No plan yet.*", verb="approve"
    ),
    Status(
        "planning",
        "2-planning",
        "2 - Planning",
        "*Draft plan exists. Awaiting human sign-off.*",
        verb="plan",
    ),
    Status(
        "ready",
        "3-ready",
        "3 - Ready",
        "*Plan approved or not needed. Ready for an agent to pick up.*",
        verb="ready",
    ),
    Status("in-progress", "4-in-progress", "4 - In Progress", "*Being implemented.*", verb="start"),
    Status(
        "completed",
        "5-completed",
        "Completed",
        "We don't track completed items here. Plans are moved to `5-completed/` via `git mv` "
        "and the line is removed.",
        tracked=False,
        verb="done",
    ),
    Status(
        "denied",
        "denied",
        "Denied",
        "We don't track denied items here. Plans are moved to `denied/` via `git mv` "
        "and the line is removed.",
        tracked=False,
        verb="deny",
    ),
]

BY_FOLDER = {s.folder: s for s in STATUSES}
STATUS_NAMES = ", ".join(s.name for s in STATUSES)

_ALIASES = {
    "propose": "proposed",
    "new": "proposed",
    "todo": "approved",
    "plan": "planning",
    "planned": "planning",
    "start": "in-progress",
    "started": "in-progress",
    "doing": "in-progress",
    "done": "completed",
    "complete": "completed",
    "deny": "denied",
    "reject": "denied",
    "rejected": "denied",
}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def parse_status(text: str) -> Status:
    """A status by name, folder, number, heading or verb: "ready", "3-ready", "3", "start"."""
    key = _key(text)
    for status in STATUSES:
        number = status.folder.split("-")[0] if status.folder[0].isdigit() else ""
        names = {status.name, status.folder, status.heading, status.verb, number}
        if key and key in {_key(n) for n in names if n}:
            return status
    if key in {_key(a) for a in _ALIASES}:
        wanted = next(v for a, v in _ALIASES.items() if _key(a) == key)
        return next(s for s in STATUSES if s.name == wanted)
    raise UsageError(f"unknown status {text!r}", f"Use one of: {STATUS_NAMES}")


def status_for_heading(heading: str) -> Status | None:
    """The status a TODO.md section heading stands for ("3 - Ready", "Completed"), if any."""
    words = re.sub(r"^[\d\s.\-–—:)]+", "", heading).strip()
    key = _key(words)
    for status in STATUSES:
        if key in {_key(status.name), _key(status.heading.split(" - ")[-1])}:
            return status
    if key in {_key(a) for a in _ALIASES}:
        return parse_status(words)
    return None


# -- slugs and titles ------------------------------------------------------------------------

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MAX_SLUG = 60
_STOPWORD_TEXT = (
    "a an the to for of in into on at as and or with from by is are be it its this that these "
    "so well also via than then too very"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _ascii_words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", plain)


def _join(words: list[str], limit: int = _MAX_SLUG) -> str:
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            break
        slug = candidate
    return slug or (words[0][:limit] if words else "")


def slugify(text: str) -> str:
    """Lowercase ascii words joined by hyphens: "Ray resource orchestration" -> that, hyphenated."""
    return _join(_ascii_words(text))


def short_slug(text: str, words: int = 4) -> str:
    """A slug from the first few meaningful words of a long text."""
    meaningful = [w for w in _ascii_words(text) if w not in _STOPWORDS]
    return _join(meaningful[:words]) or slugify(text)


def short_title(text: str, limit: int = 70) -> str:
    """A title from a long item text: its first sentence, without asides, cut at a word."""
    first = re.split(r"[.!?:;](?:\s|$)", text.strip(), maxsplit=1)[0]
    first = re.sub(r"\s*\([^)]*\)", "", first).strip()
    first = first[:1].upper() + first[1:]
    if len(first) <= limit:
        return first.rstrip(".")
    words = first[: limit + 1].split()[:-1]
    while len(words) > 1 and words[-1].lower().strip(",") in _STOPWORDS:
        words.pop()
    return " ".join(words).rstrip(",") + "…"


def valid_slug(slug: str) -> str:
    if not SLUG_RE.match(slug) or len(slug) > 80:
        raise UsageError(
            f"invalid item name {slug!r}",
            "Use lowercase ascii letters, digits and single hyphens, e.g. ray-orchestration",
        )
    return slug
