"""The CalDAV side of the calendar tools, through the `caldav` library.

Every operation opens its own connection (tools are called seldom, and a fresh connection
survives a server restart) and answers plain dicts that the MCP server returns as JSON.
Failures become `CalendarError` with one line an agent can act on: the server is down,
the login was refused, no such calendar or event. Nothing here ever prints the password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynchy_calendar.config import CalendarConfig

MAX_CALENDARS = 100
MAX_TEXT = 2000  # characters of a description returned per event
MAX_RANGE = timedelta(days=366)  # the widest window list_events expands
TIMEOUT = 30  # seconds per HTTP request


class CalendarError(Exception):
    """A failure to tell the agent in one line."""


def parse_when(text: str, zone: ZoneInfo | None) -> date | datetime:
    """`2027-01-05` (a day), `2027-01-05T10:00` (in the configured or host time zone) or
    `2027-01-05T10:00+01:00` / `...Z`."""
    text = text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CalendarError(
            f"{text!r} is not a date or time: use 2027-01-05, 2027-01-05T10:00"
            " or 2027-01-05T10:00+01:00"
        ) from None
    if when.tzinfo is None:
        if zone:
            return when.replace(tzinfo=zone)
        when = when.astimezone()  # the host's local time, as a bare offset
    if not isinstance(when.tzinfo, ZoneInfo):
        # A bare offset has no TZID a server knows: store the moment in UTC.
        return when.astimezone(UTC)
    return when


def _as_datetime(value: date | datetime, zone: ZoneInfo | None) -> datetime:
    if isinstance(value, datetime):
        return value
    midnight = datetime(value.year, value.month, value.day)
    return midnight.replace(tzinfo=zone) if zone else midnight.astimezone()


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else None


def _cut(text: Any, limit: int = MAX_TEXT) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


def describe(event: Any, calendar: str) -> dict[str, Any]:
    """An event (one occurrence when expanded) as the agent sees it."""
    comp = event.component
    start = comp.get("dtstart").dt if comp.get("dtstart") else None
    try:
        end = comp.end
    except Exception:  # no DTEND or DURATION: icalendar's rules say so
        end = None
    found: dict[str, Any] = {
        "uid": str(comp.get("uid", "")),
        "calendar": calendar,
        "summary": str(comp.get("summary", "")),
        "start": _iso(start),
        "end": _iso(end),
        "all_day": isinstance(start, date) and not isinstance(start, datetime),
    }
    for key in ("location", "description"):
        if comp.get(key):
            found[key] = _cut(comp.get(key))
    if comp.get("recurrence-id") or comp.get("rrule"):
        found["recurring"] = True
    return found


class Calendars:
    """The account's calendars on one CalDAV server."""

    def __init__(self, config: CalendarConfig):
        self.config = config
        self.zone = ZoneInfo(config.timezone) if config.timezone else None

    @contextmanager
    def _principal(self) -> Iterator[Any]:
        import caldav
        from caldav.lib import error

        client = caldav.DAVClient(
            url=self.config.url,
            username=self.config.username,
            password=self.config.password,
            timeout=TIMEOUT,
            enable_rfc6764=False,  # the URL is given; no DNS discovery
        )
        try:
            yield client.principal()
        except error.AuthorizationError:
            raise CalendarError(
                f"the CalDAV server refused the login of {self.config.username!r}: check"
                " CALDAV_USERNAME and CALDAV_PASSWORD (or [plugin.calendar]) on the host"
            ) from None
        except error.NotFoundError as exc:
            raise CalendarError(f"not found on the CalDAV server: {_reason(exc)}") from None
        except error.DAVError as exc:
            raise CalendarError(f"the CalDAV server answered an error: {_reason(exc)}") from None
        except OSError as exc:  # connection refused, DNS, timeouts (niquests' errors are OSErrors)
            raise CalendarError(
                f"cannot reach the CalDAV server at {self.config.url} ({type(exc).__name__});"
                " is it running, and is CALDAV_URL right?"
            ) from None
        finally:
            client.close()

    def _calendars(self, principal: Any) -> list[Any]:
        return list(principal.calendars())[:MAX_CALENDARS]

    @staticmethod
    def _name(calendar: Any) -> str:
        return str(calendar.get_display_name() or calendar.id or calendar.url)

    def _pick(self, principal: Any, wanted: str | None) -> Any:
        calendars = self._calendars(principal)
        if not calendars:
            raise CalendarError("the account has no calendars")
        wanted = wanted or self.config.calendar
        if not wanted:
            return calendars[0]
        for calendar in calendars:
            if wanted in (self._name(calendar), calendar.id):
                return calendar
        names = ", ".join(self._name(c) for c in calendars)
        raise CalendarError(f"no calendar named {wanted!r}; the calendars are: {names}")

    def list_calendars(self) -> list[dict[str, Any]]:
        with self._principal() as principal:
            default = self.config.calendar
            found = []
            for i, calendar in enumerate(self._calendars(principal)):
                name = self._name(calendar)
                chosen = default in (name, calendar.id) if default else i == 0
                found.append({"name": name, "id": calendar.id, "default": chosen})
            return found

    def list_events(self, start: str, end: str, calendar: str | None, limit: int) -> dict[str, Any]:
        begin = _as_datetime(parse_when(start, self.zone), self.zone)
        until = _as_datetime(parse_when(end, self.zone), self.zone)
        if until <= begin:
            raise CalendarError("end must be after start")
        if until - begin > MAX_RANGE:
            raise CalendarError("the range is longer than 366 days: ask for a shorter one")
        with self._principal() as principal:
            chosen = [self._pick(principal, calendar)] if calendar else self._calendars(principal)
            events: list[dict[str, Any]] = []
            for cal in chosen:
                found = cal.search(start=begin, end=until, event=True, expand=True)
                events += [describe(e, self._name(cal)) for e in found]
        events.sort(key=lambda e: _sort_key(e["start"], self.zone))
        return {
            "events": events[:limit],
            "more": max(0, len(events) - limit),  # left out: ask with a narrower range
        }

    def create_event(
        self,
        summary: str,
        start: str,
        end: str | None,
        details: dict[str, str],
        calendar: str | None,
    ) -> dict[str, Any]:
        begin = parse_when(start, self.zone)
        until = parse_when(end, self.zone) if end else _default_end(begin)
        _check_order(begin, until)
        with self._principal() as principal:
            cal = self._pick(principal, calendar)
            extra = {k: v for k, v in details.items() if v}
            event = cal.save_event(dtstart=begin, dtend=until, summary=summary, **extra)
            return describe(event, self._name(cal))

    def _find(self, principal: Any, uid: str, calendar: str | None) -> tuple[Any, Any]:
        from caldav.lib import error

        chosen = [self._pick(principal, calendar)] if calendar else self._calendars(principal)
        for cal in chosen:
            try:
                return cal, cal.get_event_by_uid(uid)
            except error.NotFoundError:
                continue
        where = f"calendar {calendar!r}" if calendar else "any calendar"
        raise CalendarError(f"no event with uid {uid!r} in {where}")

    def update_event(
        self, uid: str, changes: dict[str, Any], calendar: str | None
    ) -> dict[str, Any]:
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise CalendarError(
                "nothing to change: give summary, start, end, location or description"
            )
        with self._principal() as principal:
            cal, event = self._find(principal, uid, calendar)
            with event.edit_icalendar_component() as comp:
                _apply(comp, changes, self.zone)
            event.save()
            return describe(event, self._name(cal))

    def delete_event(self, uid: str, calendar: str | None) -> dict[str, Any]:
        with self._principal() as principal:
            cal, event = self._find(principal, uid, calendar)
            gone = describe(event, self._name(cal))
            event.delete()
            return {"deleted": gone}


def _apply(comp: Any, changes: dict[str, Any], zone: ZoneInfo | None) -> None:
    """Change an event's fields in place; a moved start keeps the event's length."""
    old_start, old_end = comp.get("dtstart").dt, _end_of(comp)
    start = parse_when(changes["start"], zone) if "start" in changes else None
    end = parse_when(changes["end"], zone) if "end" in changes else None
    if start is not None and end is None:
        if old_end is not None and _is_day(start) == _is_day(old_start):
            end = start + (old_end - old_start)
        else:
            end = _default_end(start)
    _check_order(start or old_start, end or old_end)
    if start is not None:
        _replace(comp, "dtstart", start)
    if end is not None:
        comp.pop("duration", None)
        _replace(comp, "dtend", end)
    for key in ("summary", "location", "description"):
        if key in changes:
            _replace(comp, key, changes[key] or None)


def _replace(comp: Any, key: str, value: Any) -> None:
    comp.pop(key, None)
    if value is not None:
        comp.add(key, value)


def _default_end(start: date | datetime) -> date | datetime:
    return start + (timedelta(days=1) if _is_day(start) else timedelta(hours=1))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def _is_day(value: date | datetime) -> bool:
    return not isinstance(value, datetime)


def _end_of(comp: Any) -> Any:
    try:
        return comp.end
    except Exception:
        return None


def _check_order(start: date | datetime, end: date | datetime | None) -> None:
    if end is None:
        return
    if _is_day(start) != _is_day(end):
        raise CalendarError(
            "start and end must both be days (2027-01-05) or both be times (2027-01-05T10:00)"
        )
    try:
        wrong = end <= start
    except TypeError:  # a floating (zone-less) time against one with a zone: let it be
        return
    if wrong:
        raise CalendarError("end must be after start")


def _sort_key(iso: str | None, zone: ZoneInfo | None) -> datetime:
    if not iso:
        return datetime.min.replace(tzinfo=zone or datetime.now().astimezone().tzinfo)
    return _as_datetime(parse_when(iso, zone), zone)
