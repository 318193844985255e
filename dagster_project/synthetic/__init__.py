"""Synthetic landing zone for fleetdw (see /work/shared/contracts/SOURCES.md).

Master data (persons, companies, contracts, consents, Robinson lists, KYC records) is small and built in Python
(:mod:`population`, written by :mod:`deliveries` and :mod:`kyc`), and so is the drive log (:mod:`drive_log`). The big
event files (fuel, wash, web, location) are built with DuckDB SQL (:mod:`events`, :mod:`event_sql`,
:mod:`location`) from hashes, so that output is deterministic and nothing big is held in Python memory. The
Driver Assistant's app users and their location consent schedule (:mod:`app_users`) decide which pings the loader
must withhold; the report counts them. Bad input is injected on purpose (:mod:`defects`) and listed in the returned
:class:`GenerationReport` (ids, file names, line numbers and kinds only, never personal values).

Plain Python: this package imports no Dagster; the CLI and the tests call :func:`generate_landing`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from dagster_project.synthetic import deliveries
from dagster_project.synthetic.app_users import choose_app_users
from dagster_project.synthetic.defects import file_level_defects
from dagster_project.synthetic.drive_log import drive_log_deliveries
from dagster_project.synthetic.events import generate_events
from dagster_project.synthetic.kyc import kyc_deliveries, kyc_increment
from dagster_project.synthetic.population import build_model
from dagster_project.synthetic.records import GENERATED_SOURCES
from dagster_project.synthetic.report import GenerationReport, KeyTracker, finalise

__all__ = ["GenerationReport", "generate_daily", "generate_landing"]


def generate_landing(out: Path, *, persons: int = 2000, seed: int = 42, as_of: date, days: int = 90,
                     fuel_rows: int | None = None, web_events: int | None = None,
                     location_pings: int | None = None, master: bool = True, start: date | None = None,
                     progress: Callable[[str, int, int], None] | None = None) -> GenerationReport:
    """Write a synthetic landing zone under ``out`` and report what was written (no personal values).

    ``master=True``: CRM, contracts, consents, KYC and Robinson deliveries plus ``days`` days of events (fuel,
    wash, web, drive log, location) ending at ``as_of``. ``master=False``: only events for those days plus one
    persons, contracts, consents and KYC delta, for the same persons/plates/phones as the master run of the same
    seed whose as_of was ``start`` (default ``as_of - days``).
    """
    out = Path(out)
    if days < 1 or persons < 20:
        raise ValueError("need days >= 1 and persons >= 20")
    model_as_of = as_of if master else (start or as_of - timedelta(days=days))
    model = build_model(persons=persons, seed=seed, as_of=model_as_of)
    report = GenerationReport(seed=seed, persons=persons, as_of=as_of.isoformat(), days=days, master=master)
    keys = KeyTracker()
    window = [as_of - timedelta(days=days - 1 - k) for k in range(days)]
    # One stream for everything below, in this order: the same arguments give the same files.
    rng = random.Random(f"{seed}:deliveries:{as_of.isoformat()}:{days}:{master}")
    app = choose_app_users(model, seed)
    for source in GENERATED_SOURCES:
        (out / source).mkdir(parents=True, exist_ok=True)
    reps = 1 + len(model.persons) // 5000  # copies of each row defect in a master run
    if master:
        first = as_of - timedelta(days=days)
        deltas = deliveries.delta_days(first, as_of)
        deliveries.persons_deliveries(out, report, keys, model, first, deltas, rng)
        deliveries.companies_deliveries(out, report, keys, model, first, deltas, rng)
        deliveries.contracts_deliveries(out, report, keys, model, first, deltas, rng)
        deliveries.consents_deliveries(out, report, keys, model, first, deltas, rng, app)
        deliveries.robinson_deliveries(out, report, model, rng)
        kyc_deliveries(out, report, keys, model, seed, first, deltas, reps)
        if progress:
            progress("master", 1, 1)
        report.business_rule_rows["contracts.total_mismatch"] = sum(
            1 for c in model.contracts if c.total_monthly != c.lease_rent + c.service_budget + c.account_fee)
    else:
        deliveries.persons_increment(out, report, keys, model, as_of, rng)
        deliveries.contracts_increment(out, report, keys, model, as_of, rng)
        deliveries.consents_increment(out, report, keys, model, as_of, rng, app)
        kyc_increment(out, report, keys, model, seed, as_of)
    generate_events(out, report, keys, model, seed, window, fuel_rows, web_events, master, rng, progress,
                    app, location_pings)
    if master:
        file_level_defects(out, report, model, window, rng)
    # the drive log after the rest, from its own streams: the other files do not depend on it
    drive_log_deliveries(out, report, keys, model, seed, window, master, reps)
    return finalise(report, keys)


def generate_daily(out: Path, *, start: date, as_of: date, persons: int = 2000, seed: int = 42,
                   progress: Callable[[str, int, int], None] | None = None) -> list[GenerationReport]:
    """The daily deliveries that follow a master landing zone written with ``as_of=start`` (same persons and
    seed): for each day after ``start`` up to ``as_of``, that day's event files (fuel, wash, web, drive log,
    location) and one persons, contracts, consents and KYC delta, each file named for its day."""
    if as_of <= start:
        raise ValueError("as_of must be after start")
    reports = []
    total = (as_of - start).days
    for k in range(1, total + 1):
        day = start + timedelta(days=k)
        reports.append(generate_landing(out, persons=persons, seed=seed, as_of=day, days=1, master=False,
                                        start=start))
        if progress:
            progress("days", k, total)
    return reports
