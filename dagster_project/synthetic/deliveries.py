"""The master-data deliveries: CRM persons and companies, contracts, consents and the Robinson list.

A master run delivers a full first export ``days`` before ``as_of`` and up to three delta exports until ``as_of``,
with the realistic trouble of delta exports (rectified details, a stale row, a re-delivered corrected consent, a
shuffled upper-case header, an unknown extra column, a BOM); an increment run delivers one persons and one consents
delta.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from faker import Faker

from dagster_project.synthetic import identifiers as ids
from dagster_project.synthetic.app_users import AppUser, consent_events_between
from dagster_project.synthetic.defects import Defect, junk_companies, junk_consents, junk_contracts, junk_persons
from dagster_project.synthetic.population import E_INVOICE_OPERATORS, ConsentEvent, Contract, Model, Person
from dagster_project.synthetic.records import (
    COMPANY_COLUMNS, CONSENT_COLUMNS, CONTRACT_COLUMNS, PERSON_COLUMNS, ROBINSON_COLUMNS, company_row, consent_row,
    contract_row, file_name, in_column_order, person_row, write_csv,
)
from dagster_project.synthetic.report import DriftFile, GenerationReport, HeaderVariant, KeyedLine, KeyTracker
from dagster_project.synthetic.values import time_on
from ingest.contracts import SOURCES


def emit_csv(report: GenerationReport, keys: KeyTracker, out: Path, source: str, name: str,
             header: Sequence[str], rows: list[list[str]], defects: list[Defect], rng: random.Random,
             *, delimiter: str = ",", encoding: str = "utf-8", key_column: int | None = None) -> None:
    """Write good rows with the defects inserted at random places; record everything in the report.

    ``key_column`` is where the key stands in ``header`` (by default found by the contract's key name).
    """
    if key_column is None:
        key_column = list(header).index(SOURCES[source].key[0])
    slots = sorted(rng.sample(range(len(rows) + len(defects)), len(defects)))
    merged: list[list[str]] = []
    good = iter(rows)
    defect_at = dict(zip(slots, defects))
    for pos in range(len(rows) + len(defects)):
        d = defect_at.get(pos)
        if d is not None:
            merged.append(d.row)
            report.bad_row(source, name, pos + 2, d.kind, d.column)
        else:
            row = next(good)
            merged.append(row)
            keys.add(source, row[key_column])
    n = write_csv(out / source / name, header, merged, delimiter=delimiter, encoding=encoding)
    report.add_file(source, name, n)


def _fixture_copies(model: Model) -> int:
    """How many copies of each row defect a first export carries: one per started 5,000 persons."""
    return 1 + len(model.persons) // 5000


def _first_export_cutoff(first: date) -> datetime:
    return datetime.combine(first, time(23, 59))


def delta_days(first: date, as_of: date) -> list[date]:
    """The days of the (up to three) delta exports after the first export of ``first``, the last one ``as_of``."""
    days = (as_of - first).days
    return sorted({first + timedelta(days=max(1, round(k * days / 3))) for k in (1, 2, 3)} - {first}) if days else []


def _correct_person(rng: random.Random, p: Person) -> Person:
    """A plausible rectification: new email, new phone format, or a move."""
    q = dataclasses.replace(p)
    r = rng.random()
    if r < 0.4 and p.email:
        q.email = p.email.replace("@", f"{rng.randint(1, 9)}@")
    elif r < 0.7 and p.phone:
        q.phone_style = ids.PHONE_STYLES[(ids.PHONE_STYLES.index(p.phone_style) + 1) % len(ids.PHONE_STYLES)]
    else:
        q.street = f"{p.street.rsplit(' ', 1)[0] if p.street else 'Kauppakatu'} {rng.randint(1, 80)}"
    return q


def _seeded_faker(rng: random.Random) -> Faker:
    fake = Faker("fi_FI")
    fake.seed_instance(rng.randint(0, 2**31))
    return fake


def _person_corrections(rng: random.Random, model: Model, day: date, n: int) -> tuple[list[Person], list[list[str]]]:
    """``n`` current customers with a rectified detail, as delta rows updated on ``day``."""
    current = [p for p in model.persons if p.rel_end is None and p.customer_type != "prospect"]
    chosen = rng.sample(current, min(len(current), n))
    return chosen, [person_row(_correct_person(rng, p), time_on(rng, day)) for p in chosen]


def _first_crm_export(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, first: date,
                      rng: random.Random, source: str, header: Sequence[str], rows: list[list[str]],
                      junk: Callable[[Faker, random.Random, Model, int], list[Defect]]) -> None:
    """The full first export of a CRM source, with its row defects."""
    emit_csv(report, keys, out, source, file_name(source, first), header, rows,
             junk(_seeded_faker(rng), rng, model, _fixture_copies(model)), rng)


def persons_deliveries(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, first: date,
                       deltas: list[date], rng: random.Random) -> None:
    cutoff = _first_export_cutoff(first)
    _first_crm_export(out, report, keys, model, first, rng, "crm_persons", PERSON_COLUMNS,
                      [person_row(p, min(p.updated_at, cutoff)) for p in model.persons], junk_persons)
    for k, day in enumerate(deltas):
        chosen, rows = _person_corrections(rng, model, day, max(3, len(model.persons) // 100))
        name = file_name("crm_persons", day)
        if k == 0:
            stale = next(p for p in model.persons if p not in chosen and p.rel_end is None)
            old = _correct_person(rng, stale)
            rows.append(person_row(old, min(stale.updated_at, cutoff) - timedelta(days=40)))
            report.stale_rows.append(KeyedLine("crm_persons", name, len(rows) + 1, stale.person_id,
                                               file_name("crm_persons", first)))
        emit_csv(report, keys, out, "crm_persons", name, PERSON_COLUMNS, rows, [], rng)


def persons_increment(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, day: date,
                      rng: random.Random) -> None:
    _, rows = _person_corrections(rng, model, day, max(2, len(model.persons) // 400))
    emit_csv(report, keys, out, "crm_persons", file_name("crm_persons", day), PERSON_COLUMNS, rows, [], rng)


def companies_deliveries(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, first: date,
                         deltas: list[date], rng: random.Random) -> None:
    cutoff = _first_export_cutoff(first)
    _first_crm_export(out, report, keys, model, first, rng, "crm_companies", COMPANY_COLUMNS,
                      [company_row(c, min(c.updated_at, cutoff)) for c in model.companies], junk_companies)
    for k, day in enumerate(deltas):
        chosen = rng.sample(model.companies, min(len(model.companies), max(2, len(model.companies) // 30)))
        changed = []
        for comp in chosen:
            new = dataclasses.replace(comp, payment_terms_days=rng.choice((14, 30, 45)),
                                      billing_method=rng.choice(("e_invoice", "email", "paper")))
            if new.billing_method != "e_invoice":
                new.e_invoice_address = new.e_invoice_operator = ""
            elif not new.e_invoice_address:
                new.e_invoice_address = f"0037{comp.business_id.replace('-', '')}"
                new.e_invoice_operator = rng.choice(E_INVOICE_OPERATORS)
            changed.append(company_row(new, time_on(rng, day)))
        name = file_name("crm_companies", day)
        header: list[str] = list(COMPANY_COLUMNS)
        key_col = None
        if k == 0:  # upper-case, shuffled header
            order = list(range(len(header)))
            rng.shuffle(order)
            key_col = order.index(header.index("business_id"))
            header = [f" {header[i].upper()} " if i == order[0] else header[i].upper() for i in order]
            changed = [[row[i] for i in order] for row in changed]
            report.header_variants.append(HeaderVariant("crm_companies", name, "header_case_order"))
        elif k == 1:  # schema drift: an unknown extra column
            header.insert(7, "toimialakoodi")
            changed = [row[:7] + [rng.choice(("49410", "62010", "46900", "41200"))] + row[7:] for row in changed]
            report.drift_files.append(DriftFile("crm_companies", name, ("toimialakoodi",)))
        emit_csv(report, keys, out, "crm_companies", name, header, changed, [], rng, key_column=key_col)


def _contract_state_at(c: Contract, day: date) -> Contract:
    """The contract as the export of ``day`` showed it (before later starts and ends)."""
    if c.start_date and c.start_date > day and c.status != "ordered":
        return dataclasses.replace(c, status="ordered", start_date=None, end_date=None, vehicle=None,
                                   start_km=0, latest_odometer_km=0)
    if c.status in ("ended", "terminated") and c.end_date and c.end_date > day:
        return dataclasses.replace(c, status="active", end_date=c.planned_end,
                                   latest_odometer_km=max(c.start_km, c.latest_odometer_km - 1500))
    return c


def contracts_deliveries(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, first: date,
                         deltas: list[date], rng: random.Random) -> None:
    cutoff = _first_export_cutoff(first)
    initial = [dataclasses.replace(_contract_state_at(c, first),
                                   updated_at=min(c.updated_at, cutoff - timedelta(hours=rng.randint(1, 400))))
               for c in model.contracts]
    name = file_name("contracts", first)
    emit_csv(report, keys, out, "contracts", name, CONTRACT_COLUMNS, [contract_row(c) for c in initial],
             junk_contracts(rng, model, _fixture_copies(model)), rng, delimiter=";", encoding="utf-8-sig")
    report.header_variants.append(HeaderVariant("contracts", name, "bom"))
    previous = first
    for k, day in enumerate(deltas):
        changed = [c for c in model.contracts
                   if (c.start_date and previous < c.start_date <= day)
                   or (c.status in ("ended", "terminated") and c.end_date and previous < c.end_date <= day)]
        running = [c for c in model.contracts if c.status == "active" and c not in changed]
        changed += rng.sample(running, min(len(running), max(2, len(model.contracts) // 200)))
        rows = [contract_row(dataclasses.replace(_contract_state_at(c, day), updated_at=time_on(rng, day)))
                for c in changed]
        dname = file_name("contracts", day)
        if k == 0:
            changed_ids = {x.contract_id for x in changed}
            stale = next(c for c in initial if c.status == "active" and c.contract_id not in changed_ids)
            old = dataclasses.replace(stale, latest_odometer_km=max(stale.start_km, stale.latest_odometer_km - 900),
                                      updated_at=stale.updated_at - timedelta(days=30))
            rows.append(contract_row(old))
            report.stale_rows.append(KeyedLine("contracts", dname, len(rows) + 1, stale.contract_id, name))
        emit_csv(report, keys, out, "contracts", dname, CONTRACT_COLUMNS, rows, [], rng, delimiter=";")
        previous = day


def contracts_increment(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, day: date,
                        rng: random.Random) -> None:
    """A day's contracts delta: a few running contracts with their latest odometer reading, updated that day."""
    running = [c for c in model.contracts if c.status == "active"]
    changed = rng.sample(running, min(len(running), max(2, len(model.contracts) // 400)))
    rows = [contract_row(dataclasses.replace(c, updated_at=time_on(rng, day))) for c in changed]
    emit_csv(report, keys, out, "contracts", file_name("contracts", day), CONTRACT_COLUMNS, rows, [], rng,
             delimiter=";")


def _new_consents(rng: random.Random, model: Model, day: date, n: int, app: Sequence[AppUser],
                  ) -> list[ConsentEvent]:
    """``n`` persons' consent events of ``day``, none of them an app user's location event (those come only from
    the app users' schedule, :mod:`app_users`, which the callers add)."""
    app_ids = {u.person_id for u in app}
    events = []
    for p in rng.sample(model.persons, min(n, len(model.persons))):
        r = rng.random()
        at = time_on(rng, day - timedelta(days=2 if r < 0.1 else 0), 8, 21)
        if r < 0.5:
            events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("email", "sms")), "grant", at,
                                       rng.choice(("web_form", "mobile_app"))))
        elif r < 0.75:
            events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("email", "sms", "any")),
                                       "withdraw", at, "customer_service"))
        elif r < 0.85:
            events.append(ConsentEvent(p.person_id, "profiling", "any", "object", at, "customer_service"))
        else:
            action = rng.choice(("grant", "withdraw"))
            if p.person_id not in app_ids:
                events.append(ConsentEvent(p.person_id, "location_tracking", "any", action, at, "mobile_app"))
    return sorted(events, key=lambda e: (e.recorded_at, e.person_id))


def _consent_id(day: date, seq: int) -> str:
    return f"K{day.strftime('%Y%m%d')}{seq:06d}"


def _consent_rows(day: date, events: list[ConsentEvent]) -> list[list[str]]:
    """The consents file of ``day``: its events numbered from 1."""
    return [consent_row(_consent_id(day, i + 1), e) for i, e in enumerate(events)]


def consents_deliveries(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, first: date,
                        deltas: list[date], rng: random.Random, app: Sequence[AppUser]) -> None:
    history = sorted([e for e in model.consents if e.recorded_at.date() <= first]
                     + consent_events_between(list(app), None, first), key=lambda e: (e.recorded_at, e.person_id))
    rows = _consent_rows(first, history)
    hist_name = file_name("consents", first)
    emit_csv(report, keys, out, "consents", hist_name, CONSENT_COLUMNS, rows,
             junk_consents(rng, model, _fixture_copies(model)), rng)
    previous = first
    for k, day in enumerate(deltas):
        events = _new_consents(rng, model, day, max(3, len(model.persons) // 150), app)
        events = sorted(events + consent_events_between(list(app), previous, day),
                        key=lambda e: (e.recorded_at, e.person_id))
        previous = day
        rows = _consent_rows(day, events)
        name = file_name("consents", day)
        if k == 0 and history:  # correction: an earlier event re-delivered with a different source
            i = rng.randrange(len(history))
            e = history[i]
            fixed = dataclasses.replace(e, source="customer_service" if e.source != "customer_service" else "web_form")
            rows.append(consent_row(_consent_id(first, i + 1), fixed))
            report.corrections.append(KeyedLine("consents", name, len(rows) + 1, _consent_id(first, i + 1), hist_name))
        emit_csv(report, keys, out, "consents", name, CONSENT_COLUMNS, rows, [], rng)


def consents_increment(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, day: date,
                       rng: random.Random, app: Sequence[AppUser]) -> None:
    events = sorted(_new_consents(rng, model, day, max(2, len(model.persons) // 400), app)
                    + consent_events_between(list(app), day - timedelta(days=1), day),
                    key=lambda e: (e.recorded_at, e.person_id))
    rows = _consent_rows(day, events)
    emit_csv(report, keys, out, "consents", file_name("consents", day), CONSENT_COLUMNS, rows, [], rng)


def _robinson_row(**values: str) -> list[str]:
    """A Robinson list entry: a name and address, or a phone number (the other fields empty)."""
    return in_column_order(ROBINSON_COLUMNS, values, absent="")


def _robinson_entry(rng: random.Random, p: Person, by_phone: bool) -> list[str]:
    """``p`` as people put themselves on the list: by phone, or by name and address in any case and spacing."""
    if by_phone and p.phone:
        return _robinson_row(phone=ids.format_phone(p.phone, rng.choice(ids.PHONE_STYLES)))

    def vary(s: str) -> str:
        s = rng.choice((s, s.upper(), s.lower(), s))
        return rng.choice((s, f" {s}", f"{s} ", s))

    return _robinson_row(first_name=vary(p.first_name), last_name=vary(p.last_name),
                         street_address=vary(p.street or ""), postal_code=vary(p.postal or ""))


def robinson_deliveries(out: Path, report: GenerationReport, model: Model, rng: random.Random) -> None:
    """Last month's and this month's full list: some private customers, people unknown to the CRM and, on the older
    list only, a few who have since left it."""
    fake = _seeded_faker(rng)
    private = [p for p in model.persons if p.customer_type == "private"
               or (p.customer_type == "prospect" and not p.business_id)]
    listed = rng.sample(private, min(len(private), max(4, len(private) // 30)))
    strangers = []
    for _ in range(max(10, len(model.persons) // 20)):
        if rng.random() < 0.3:
            strangers.append(_robinson_row(phone=ids.format_phone(ids.make_mobile(rng, ids.UNKNOWN_MOBILE_PREFIX),
                                                                  rng.choice(ids.PHONE_STYLES))))
        else:
            strangers.append(_robinson_row(first_name=fake.first_name(), last_name=fake.last_name(),
                                           street_address=fake.street_address(), postal_code=fake.postcode()))
    newer = [_robinson_entry(rng, p, by_phone=(k % 2 == 0 or not (p.street and p.postal)))
             for k, p in enumerate(listed)]
    newer_all = newer + strangers
    rng.shuffle(newer_all)
    removed = rng.sample(private, min(len(private), 3))  # only on the older list
    older = newer[: len(newer) * 2 // 3] + [_robinson_entry(rng, p, True) for p in removed] + strangers[5:]
    rng.shuffle(older)
    month = model.as_of.replace(day=1)
    prev_month = (month - timedelta(days=1)).replace(day=1)
    for d, rows in ((prev_month, older), (month, newer_all)):
        name = file_name("robinson", d)
        n = write_csv(out / "robinson" / name, ROBINSON_COLUMNS, rows)
        report.add_file("robinson", name, n)
