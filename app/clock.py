"""The one clock: every rule that depends on "now" reads it here.

Tests move time with ``time-machine``, which patches the standard library's clock, so a gate,
a window or a local date can be checked at 00:30 Beijing time or at the instant a session
starts. Nothing else in ``app/`` calls ``datetime.now`` or ``date.today``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``tzdata`` supplies the database where the OS has none)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def local_date(instant: datetime, zone_name: str) -> date:
    """The calendar date of ``instant`` in the zone ``zone_name``."""
    return instant.astimezone(zone(zone_name)).date()


def today(zone_name: str | None = None) -> date:
    """Today's date in ``zone_name`` (the service's zone, ``ONEEXAM_TIMEZONE``, by default)."""
    return local_date(now(), zone_name or _service_zone[0])


_service_zone = [DEFAULT_TIMEZONE]


def use_service_zone(zone_name: str) -> None:
    """Make ``zone_name`` (``ONEEXAM_TIMEZONE``) the zone of :func:`today` where a caller names
    none, such as the validation of an ID number's birth date; ``create_app`` calls it."""
    zone(zone_name)
    _service_zone[0] = zone_name
