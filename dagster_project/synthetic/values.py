"""Values as the landing files write them (ISO and Finnish dates, timestamps, money) and calendar arithmetic."""

from __future__ import annotations

import random
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")


def iso_ts(local: datetime) -> str:
    """A Helsinki wall-clock time as ISO 8601 with its offset."""
    return local.replace(tzinfo=HELSINKI).isoformat(timespec="seconds")


def iso_date(d: date | None) -> str:
    return d.isoformat() if d else ""


def fi_date(d: date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else ""


def fi_ts(local: datetime) -> str:
    return local.strftime("%d.%m.%Y %H:%M:%S")


def fi_money(cents: int | None) -> str:
    """Cents as a Finnish decimal-comma amount (``-12,05``)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


def add_months(d: date, months: int) -> date:
    """``d`` moved by whole months; a day the month lacks becomes its last day."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def time_on(rng: random.Random, d: date, start_hour: int = 7, end_hour: int = 19) -> datetime:
    """A random time of day ``d`` from ``start_hour`` up to (not including) ``end_hour``."""
    return datetime.combine(d, time(rng.randint(start_hour, end_hour - 1), rng.randint(0, 59), rng.randint(0, 59)))
