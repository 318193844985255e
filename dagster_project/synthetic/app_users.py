"""The Driver Assistant's app users: who sends location pings, from where, in which car, and their
``location_tracking`` consent over time.

App users are drivers of a running contract who have no location consent event in the population's history, so
that their location consent is exactly the schedule built here: the consents deliveries carry these events (the
master run those up to its as-of date, each daily increment those of its day), and the location pings of a day
can be told apart into those the loader keeps and those it must withhold (RULES.md §2) from this schedule alone.

The schedule is a function of the seed and the population as of the model's date, and reaches past that date, so
that the daily deliveries after a master run (built from the same model) carry the later withdrawals and grants.
Users cycle through the groups of ``GROUPS``: a grant long ago, no grant at all (the app sends pings anyway), a
grant and a withdrawal around the as-of date, a grant only around the as-of date.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from dagster_project.synthetic.population import CITIES, ConsentEvent, Model
from dagster_project.synthetic.values import HELSINKI, time_on

GROUPS = ("granted", "no_grant", "withdraws", "granted", "late_grant", "granted", "withdraws", "granted")
# Days from the model's as-of date of the k-th withdrawal and of the k-th late grant: some inside even a short
# master window, some after it (delivered by the daily increments).
WITHDRAW_OFFSETS = (-1, 1, -3, 2, -2, 3, 0, 5, -4, 8, -6, 13)
LATE_GRANT_OFFSETS = (-2, 1, -1, 2, -3, 4, 0, 6)
# Latitude and longitude of the population's cities (a user's day starts near home).
CITY_COORDS = {
    "Helsinki": (60.1699, 24.9384), "Espoo": (60.2055, 24.6559), "Vantaa": (60.2934, 25.0378),
    "Tampere": (61.4978, 23.7610), "Turku": (60.4518, 22.2666), "Oulu": (65.0121, 25.4651),
    "Jyväskylä": (62.2426, 25.7473), "Lahti": (60.9827, 25.6612), "Kuopio": (62.8924, 27.6770),
    "Pori": (61.4851, 21.7974), "Porvoo": (60.3932, 25.6650), "Joensuu": (62.6010, 29.7636),
    "Lappeenranta": (61.0587, 28.1887), "Hämeenlinna": (60.9959, 24.4643), "Vaasa": (63.0951, 21.6165),
    "Seinäjoki": (62.7903, 22.8403), "Rovaniemi": (66.5039, 25.7294), "Kotka": (60.4664, 26.9458),
}
assert set(CITY_COORDS) == set(CITIES)
APP_USER_SHARE = 25  # one app user per this many running contracts (at least len(GROUPS))


@dataclass(frozen=True)
class AppUser:
    j: int                  # the user's number (0 .. users - 1): pings are laid out per user in this order
    person_id: str
    group: str              # one of GROUPS
    home: tuple[float, float]
    cars: tuple[tuple[str, date, date], ...]  # (plate, first day, last day) of the person's contract cars
    events: tuple[ConsentEvent, ...]           # their location_tracking events (channel any), oldest first

    def plate_on(self, day: date) -> str | None:
        return next((plate for plate, start, end in self.cars if start <= day <= end), None)

    def granted_all_day(self, day: date) -> bool:
        """The latest event before ``day`` is a grant and none falls on ``day``: every ping of the day loads."""
        before = [e for e in self.events if e.recorded_at.date() < day]
        return bool(before) and before[-1].action == "grant" and all(e.recorded_at.date() != day for e in self.events)


def utc_naive(local: datetime) -> datetime:
    """A Helsinki wall-clock time as a naive UTC time (what the ping SQL compares with)."""
    return local.replace(tzinfo=HELSINKI).astimezone(timezone.utc).replace(tzinfo=None)


def choose_app_users(model: Model, seed: int) -> list[AppUser]:
    """The app users of the population as of ``model.as_of`` and their location consent schedule."""
    rng = random.Random(f"{seed}:app_users")
    with_events = {e.person_id for e in model.consents if e.purpose == "location_tracking"}
    running = [c for c in model.contracts
               if c.status == "active" and c.vehicle and c.start_date and c.start_date <= model.as_of]
    candidates = sorted({c.driver_person_id for c in running} - with_events)
    n = min(len(candidates), max(len(GROUPS), len(running) // APP_USER_SHARE))
    chosen = sorted(rng.sample(candidates, n))
    cars: dict[str, list[tuple[str, date, date]]] = {}
    for c in model.contracts:
        if c.vehicle and c.start_date:
            cars.setdefault(c.driver_person_id, []).append(
                (c.vehicle.plate, c.start_date, c.end_date or c.planned_end or date(2999, 12, 31)))
    users: list[AppUser] = []
    withdrawals = late = 0
    for j, person_id in enumerate(chosen):
        group = GROUPS[j % len(GROUPS)]
        p = model.person(person_id)
        lat, lon = CITY_COORDS.get(p.city or "", CITY_COORDS[CITIES[rng.randrange(len(CITIES))]])
        home = (round(lat + rng.uniform(-0.05, 0.05), 6), round(lon + rng.uniform(-0.08, 0.08), 6))

        def event(action: str, day: date) -> ConsentEvent:
            return ConsentEvent(person_id, "location_tracking", "any", action, time_on(rng, day, 8, 21), "mobile_app")

        events: list[ConsentEvent] = []
        if group in ("granted", "withdraws"):
            events.append(event("grant", model.as_of - timedelta(days=rng.randint(30, 700))))
        if group == "withdraws":
            events.append(event("withdraw", model.as_of + timedelta(days=WITHDRAW_OFFSETS[withdrawals
                                                                                          % len(WITHDRAW_OFFSETS)])))
            withdrawals += 1
        if group == "late_grant":
            events.append(event("grant", model.as_of + timedelta(days=LATE_GRANT_OFFSETS[late
                                                                                        % len(LATE_GRANT_OFFSETS)])))
            late += 1
        users.append(AppUser(j, person_id, group, home, tuple(sorted(cars.get(person_id, []), key=lambda c: c[1])),
                             tuple(events)))
    return users


def consent_events_between(users: list[AppUser], after: date | None, until: date) -> list[ConsentEvent]:
    """The app users' events recorded on a day after ``after`` (None: any day) up to ``until``."""
    return [e for u in users for e in u.events
            if (after is None or e.recorded_at.date() > after) and e.recorded_at.date() <= until]
