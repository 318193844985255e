"""The Driver Assistant's manual drive log: trips typed by drivers, or by a fleet manager or customer service for
them (SOURCES.md ``drive_log``).

A share of the cars on contract keep a log, chosen per contract from the seed (most of them company cars: the log is
what a taxable car benefit needs). A logged car's odometer grows by its contract's daily kilometres — the rate the
population gave the contract, so the readings agree with the contract's ``start_km`` and ``latest_odometer_km`` —
and each day's kilometres are one to three trips with consecutive readings, the end point of one the start point of
the next (free text: the driver's home address, the company's, a few places of their own; sometimes left empty). A
trip is typed on its day or up to three days later, and the file of a day holds the trips typed that day.

Everything about a trip follows from the seed, its contract and its day, so the master run and the daily
deliveries after it (built from the same population) write each trip exactly once, in the file of the day it was
typed. The defects: a few distances that do not equal ``end_km - start_km`` and a few start readings below the
previous trip's end (overlapping ranges) — both load, they are data-quality findings — and, in a master run, extra
rows that exist only to be quarantined (a bad enum, negative kilometres, a missing required value, ...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from faker import Faker

from dagster_project.synthetic.defects import Defect, mutate
from dagster_project.synthetic.deliveries import emit_csv
from dagster_project.synthetic.population import Contract, Model
from dagster_project.synthetic.records import DRIVE_LOG_COLUMNS, file_name, in_column_order
from dagster_project.synthetic.report import GenerationReport, KeyTracker
from dagster_project.synthetic.values import iso_date, iso_ts, time_on

LOG_SHARE = {"company": 0.25, "private": 0.05}  # share of cars that keep a drive log, by customer
MAX_TYPING_LAG = 3                              # days a trip may be typed after it was driven
# Places typed as text rather than as an address.
LANDMARKS = ("Koti", "Toimisto", "Lentoasema", "Rautatieasema", "Satama", "Asiakkaan toimipiste", "Mökki",
             "Kauppakeskus", "Varasto", "Huoltokorjaamo")
BUSINESS_RULES = ("drive_log.distance_mismatch", "drive_log.odometer_overlap")


@dataclass(frozen=True)
class LoggedCar:
    contract_id: str
    number: int               # the contract's number (trip ids are made of it)
    driver_person_id: str
    plate: str
    start: date               # the contract's period
    end: date
    start_km: int
    km_per_day: int
    company: bool
    home: str
    work: str
    places: tuple[str, ...]   # other places the driver goes to


@dataclass(frozen=True)
class Trip:
    trip_id: str
    driver_person_id: str
    registration_number: str
    trip_date: date
    start_km: int
    end_km: int
    distance_km: int
    trip_type: str
    start_point: str
    end_point: str
    added_by: str
    added_at: datetime
    leg: int                  # the trip's number on its day (0: the day's first)

    @property
    def typed_on(self) -> date:
        return self.added_at.date()


def trip_row(t: Trip) -> list[str]:
    return in_column_order(DRIVE_LOG_COLUMNS, {
        "trip_id": t.trip_id, "driver_person_id": t.driver_person_id, "registration_number": t.registration_number,
        "trip_date": iso_date(t.trip_date), "start_km": str(t.start_km), "end_km": str(t.end_km),
        "distance_km": str(t.distance_km), "trip_type": t.trip_type, "start_point": t.start_point,
        "end_point": t.end_point, "added_by": t.added_by, "added_at": iso_ts(t.added_at),
    })


def _place_pool(seed: int) -> list[str]:
    """Addresses and towns as drivers type them (Faker fi_FI), the same for every run of the seed."""
    fake = Faker("fi_FI")
    fake.seed_instance(f"{seed}:drive_log_places")
    pool = [f"{fake.street_address()}, {fake.city()}" for _ in range(160)]
    pool += [fake.street_address() for _ in range(40)] + [fake.city() for _ in range(40)]
    return pool


def _km_per_day(c: Contract, as_of: date, rng: random.Random) -> int:
    """The contract's daily kilometres: what its odometer readings imply, or (a contract of as-of day) a guess."""
    last = min(c.end_date or as_of, as_of)
    days = (last - c.start_date).days if c.start_date else 0
    return (c.latest_odometer_km - c.start_km) // days if days > 0 else rng.randint(25, 90)


def logged_cars(model: Model, seed: int) -> list[LoggedCar]:
    """The cars whose driver keeps a drive log (each contract decides from the seed alone)."""
    pool = _place_pool(seed)
    companies = {c.business_id: c for c in model.companies}
    cars = []
    for c in model.contracts:
        if c.vehicle is None or c.start_date is None:
            continue
        rng = random.Random(f"{seed}:drive_log:{c.contract_id}")
        company = companies.get(c.customer_business_id or "")
        if rng.random() >= LOG_SHARE["company" if company else "private"]:
            continue
        km = _km_per_day(c, model.as_of, rng)
        if km <= 0:
            continue
        p = model.person(c.driver_person_id)
        home = f"{p.street}, {p.city}" if p.street and p.city else rng.choice(pool)
        work = f"{company.street}, {company.city}" if company else rng.choice(pool)
        cars.append(LoggedCar(c.contract_id, int(c.contract_id[1:]), c.driver_person_id, c.vehicle.plate,
                              c.start_date, c.end_date or c.planned_end or date(2999, 12, 31), c.start_km, km,
                              company is not None, home, work, tuple(rng.sample(pool, 3))))
    return cars


def _typed(rng: random.Random, place: str) -> str:
    """A place as the user typed it: usually as is, sometimes a landmark word, sometimes nothing."""
    r = rng.random()
    if r < 0.06:
        return ""
    if r < 0.12:
        return rng.choice(LANDMARKS)
    return place


def trips_on(car: LoggedCar, day: date, seed: int) -> list[Trip]:
    """The car's trips driven on ``day`` (none outside its contract's period: the car is handed back on its end
    day, with the reading the next contract of the car starts from)."""
    if not car.start <= day < car.end:
        return []
    rng = random.Random(f"{seed}:trip:{car.contract_id}:{day.isoformat()}")
    km0 = car.start_km + car.km_per_day * (day - car.start).days
    n = 1 + (rng.random() < 0.5) + (rng.random() < 0.2)
    n = min(n, car.km_per_day)
    cuts = sorted(rng.sample(range(1, car.km_per_day), n - 1)) if n > 1 else []
    readings = [km0, *(km0 + c for c in cuts), km0 + car.km_per_day]
    weekend = day.weekday() >= 5
    r = rng.random()
    lag = 0 if r < 0.75 else 1 if r < 0.92 else rng.randint(2, MAX_TYPING_LAG)
    trips, here = [], car.home
    for k in range(n):
        if car.company:
            work = rng.random() < (0.15 if weekend else 0.8)
        else:
            work = rng.random() < 0.1
        if k == n - 1 and n > 1:
            there = car.home
        else:
            options = [car.work, *car.places[:2]] if work else [*car.places, car.home]
            there = rng.choice([o for o in options if o != here] or [car.work])
        s = rng.random()
        added_by = ("driver" if s < 0.82 else "fleet_manager" if s < 0.94 else "customer_service") if car.company \
            else ("driver" if s < 0.93 else "customer_service")
        typed_on = day + timedelta(days=lag)
        added_at = time_on(rng, day, 16, 24) if lag == 0 else time_on(rng, typed_on, 7, 22)
        plate = car.plate.lower() if rng.random() < 0.03 else car.plate
        trips.append(Trip(f"T{day.strftime('%Y%m%d')}{car.number:06d}{k + 1}", car.driver_person_id, plate, day,
                          readings[k], readings[k + 1], readings[k + 1] - readings[k],
                          "work" if work else "leisure", _typed(rng, here), _typed(rng, there), added_by, added_at,
                          k))
        here = there
    return trips


def trips_typed(cars: list[LoggedCar], seed: int, days: list[date]) -> dict[date, list[Trip]]:
    """The trips typed on each of ``days`` (driven on that day or up to MAX_TYPING_LAG days before)."""
    wanted = set(days)
    out: dict[date, list[Trip]] = {d: [] for d in days}
    first = min(days) - timedelta(days=MAX_TYPING_LAG)
    driven = [first + timedelta(days=k) for k in range((max(days) - first).days + 1)]
    for car in cars:
        if car.end < first or car.start > max(days):
            continue
        for day in driven:
            for t in trips_on(car, day, seed):
                if t.typed_on in wanted:
                    out[t.typed_on].append(t)
    return out


def _business_rule_cases(rng: random.Random, typed: dict[date, list[Trip]], minimum: int) -> dict[str, int]:
    """Turn a few trips into data-quality findings that load: a distance that is not end - start, and a start
    reading below the end of the day's previous trip (which is typed with it, so it is in the same file)."""
    total = sum(len(trips) for trips in typed.values())
    counts = {name: 0 for name in BUSINESS_RULES}
    wanted = (max(minimum, total // 400), max(minimum, total // 600))
    later_legs = [(d, i) for d, trips in typed.items() for i, t in enumerate(trips) if t.leg > 0]
    overlaps = rng.sample(later_legs, min(len(later_legs), wanted[1]))
    taken = set(overlaps)
    others = [(d, i) for d, trips in typed.items() for i in range(len(trips)) if (d, i) not in taken]
    mismatches = rng.sample(others, min(len(others), wanted[0]))
    for (day, i), name in [(s, BUSINESS_RULES[0]) for s in mismatches] + [(s, BUSINESS_RULES[1]) for s in overlaps]:
        t = typed[day][i]
        if name == BUSINESS_RULES[0]:
            t = replace(t, distance_km=max(0, t.distance_km + rng.choice((-10, -3, 2, 5, 12, 100))) or 1)
            if t.distance_km == t.end_km - t.start_km:
                t = replace(t, distance_km=t.distance_km + 1)
        else:
            start = t.start_km - rng.randint(3, 20)
            t = replace(t, start_km=start, distance_km=t.end_km - start)
        typed[day][i] = t
        counts[name] += 1
    return counts


def junk_drive_log(rng: random.Random, base: Trip, reps: int) -> list[Defect]:
    """Rows that exist only to be quarantined, made from a plausible trip."""
    defects = []
    columns = DRIVE_LOG_COLUMNS
    for k in range(8 * reps):
        row = trip_row(replace(base, trip_id=f"TX{k:07d}"))
        column, value, kind = (
            ("trip_type", "työajo", "bad_enum"), ("start_km", f"-{base.start_km}", "out_of_range"),
            ("registration_number", "", "missing_required"), ("driver_person_id", "", "missing_required"),
            ("trip_date", f"{base.trip_date.year}-02-30", "bad_date"), ("distance_km", "12,5", "bad_number"),
            ("added_by", "admin", "bad_enum"), ("added_at", base.added_at.strftime("%d.%m.%Y %H:%M"), "bad_timestamp"),
        )[k % 8]
        defects.append(mutate(row, columns, column, value, kind))
    return defects


def drive_log_deliveries(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, seed: int,
                         window: list[date], master: bool, reps: int) -> None:
    """One drive-log file per day of ``window``: the trips typed that day. A master run also gets at least one of
    each business-rule case and, in the file of the middle day, ``reps`` rows of each row defect."""
    rng = random.Random(f"{seed}:drive_log_deliveries:{window[-1].isoformat()}:{len(window)}:{master}")
    typed = trips_typed(logged_cars(model, seed), seed, window)
    for name, n in _business_rule_cases(rng, typed, 1 if master else 0).items():
        if n or master:
            report.business_rule_rows[name] = report.business_rule_rows.get(name, 0) + n
    middle = window[len(window) // 2]
    for day in window:
        trips = sorted(typed[day], key=lambda t: (t.added_at, t.trip_id))
        defects = junk_drive_log(rng, trips[0], reps) if master and day == middle and trips else []
        emit_csv(report, keys, out, "drive_log", file_name("drive_log", day), DRIVE_LOG_COLUMNS,
                 [trip_row(t) for t in trips], defects, rng)
