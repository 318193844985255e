"""Bad input on purpose: the row-level defects of the CSV deliveries and the file-level ones.

Row-level defects are extra records that exist only to be quarantined (one of each kind per few thousand persons);
:func:`deliveries.emit_csv` puts them at random lines of a delivery and reports each line. File-level defects are
whole files that must be rejected: a duplicate delivery, an HTML error page, a Latin-1 file, a missing required
column, a truncated gzip stream. (The event files' row defects are planned in :mod:`events`.)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

from dagster_project.synthetic import identifiers as ids
from dagster_project.synthetic.event_sql import WASH_PROGRAMS
from dagster_project.synthetic.population import (
    ConsentEvent, Contract, Model, fill_contract_terms, make_companies, make_person_identities, new_vehicle,
)
from dagster_project.synthetic.records import (
    COMPANY_COLUMNS, CONSENT_COLUMNS, CONTRACT_COLUMNS, PERSON_COLUMNS, WASH_COLUMNS, company_row, consent_row,
    contract_row, file_name, gzip_bytes, in_column_order, person_row, write_csv,
)
from dagster_project.synthetic.report import BadFile, DuplicateFile, GenerationReport
from dagster_project.synthetic.values import add_months, iso_ts, time_on

DEFECT_KINDS = (
    "missing_required", "bad_date", "bad_timestamp", "bad_number", "bad_bool", "bad_enum", "out_of_range",
    "bad_pattern", "bad_checksum", "invalid_json", "wrong_field_count",
)
FILE_DEFECT_KINDS = ("not_utf8", "missing_required_column", "not_parseable", "truncated_gzip")


Value = str | Callable[[], str]


@dataclass
class Defect:
    """A row to insert into a delivery, and the kind and column the report gives it."""

    row: list[str]
    kind: str
    column: str | None


def mutate(row: list[str], columns: Sequence[str], column: str, value: str, kind: str) -> Defect:
    out = list(row)
    out[columns.index(column)] = value
    return Defect(out, kind, column)


# --------------------------------------------------------------------------------------------------------------
# Row-level: extra records that exist only to be quarantined
# --------------------------------------------------------------------------------------------------------------
def _nth_defect(n: int, row: list[str], columns: Sequence[str], mutations: Sequence[tuple[str, Value, str]],
                wrong_count: list[str] | None = None) -> Defect:
    """Defect ``n`` of a cycle through ``mutations`` (column, bad value, kind) and then, when given, ``wrong_count``
    (the row with a wrong number of fields). A value may be a function: it is called only for its own defect."""
    cycle = len(mutations) + (wrong_count is not None)
    if n % cycle == len(mutations):
        return Defect(wrong_count, "wrong_field_count", None)
    column, value, kind = mutations[n % cycle]
    return mutate(row, columns, column, value() if callable(value) else value, kind)


def junk_persons(fake: Faker, rng: random.Random, model: Model, reps: int) -> list[Defect]:
    template = make_person_identities(fake, rng, 10 * reps)
    defects: list[Defect] = []
    company = model.companies[0].business_id
    for k, p in enumerate(template):
        p.person_id = f"P{len(model.persons) + k + 1:06d}"
        p.customer_type, p.rel_start = "prospect", model.as_of - timedelta(days=rng.randint(120, 300))
        p.updated_at = time_on(rng, p.rel_start)
        p.ssn = None
        row = person_row(p)
        defects.append(_nth_defect(k, row, PERSON_COLUMNS, (
            ("last_name", "", "missing_required"), ("customer_type", "vip", "bad_enum"),
            ("email", (p.email or "x@y.fi").replace("@", "."), "bad_pattern"),
            ("postal_code", (p.postal or "00100")[:4], "bad_pattern"),
            ("ssn", lambda: ids.corrupt_hetu(ids.make_hetu(rng, p.birth)), "bad_checksum"),
            ("business_id", ids.corrupt_ytunnus(company), "bad_checksum"),
            ("relationship_start", f"{p.rel_start.year}-02-30", "bad_date"),
            ("updated_at", f"{p.updated_at.year}-13-01T10:00:00+02:00", "bad_timestamp"),
            ("role", "driver", "bad_enum"),
        ), wrong_count=row[:-1]))
    return defects


def junk_companies(fake: Faker, rng: random.Random, model: Model, reps: int) -> list[Defect]:
    template = make_companies(fake, rng, 7 * reps)
    defects: list[Defect] = []
    for k, comp in enumerate(template):
        comp.rel_start = model.as_of - timedelta(days=rng.randint(100, 3000))
        comp.updated_at = time_on(rng, comp.rel_start)
        comp.parent = None
        defects.append(_nth_defect(k, company_row(comp), COMPANY_COLUMNS, (
            ("business_id", ids.corrupt_ytunnus(comp.business_id), "bad_checksum"),
            ("payment_terms_days", "200", "out_of_range"), ("payment_terms_days", "30 pv", "bad_number"),
            ("billing_method", "fax", "bad_enum"), ("name", "", "missing_required"),
            ("relationship_start", "2020-02-30", "bad_date"),
            ("parent_business_id", ids.corrupt_ytunnus(model.companies[0].business_id), "bad_checksum"),
        )))
    return defects


def junk_contracts(rng: random.Random, model: Model, reps: int) -> list[Defect]:
    defects: list[Defect] = []
    company = model.companies[-1]
    driver = next(p for p in model.persons if p.business_id == company.business_id)
    c = CONTRACT_COLUMNS
    plates = {x.vehicle.plate for x in model.contracts if x.vehicle}
    for k in range(11 * reps):
        start = model.as_of - timedelta(days=rng.randint(6 * 365, 9 * 365))
        con = Contract(contract_id=f"C{len(model.contracts) + k + 1:06d}", customer_business_id=company.business_id,
                       customer_person_id=None, driver_person_id=driver.person_id,
                       contract_type="Avoin huoltoleasing", status="ended", delivery_date=start, start_date=start,
                       end_date=add_months(start, 36) - timedelta(days=1), planned_end=None, duration_months=36,
                       vehicle=new_vehicle(rng, plates, start), cost_center=company.cost_centers[0])
        fill_contract_terms(rng, con, model.as_of)
        row = contract_row(con)
        vin, notes = row[c.index("vin")], c.index("notes")
        defects.append(_nth_defect(k, row, c, (
            ("contract_type", "", "missing_required"), ("status", "cancelled", "bad_enum"),
            ("replacement_car_right", "kyllä", "bad_bool"), ("start_date", f"31.02.{start.year}", "bad_date"),
            ("updated_at", "32.13.2024 25:61:00", "bad_timestamp"), ("residual_value", "noin 18000", "bad_number"),
            ("lease_rent", "-" + row[c.index("lease_rent")], "out_of_range"),
            ("registration_number", "1234", "bad_pattern"), ("vin", vin[:10] + "O" + vin[11:], "bad_pattern"),
            ("power_source", "vety", "bad_enum"),
        ), wrong_count=row[:notes] + ["Soita ma", " ti klo 9-16"] + row[notes + 1:]))  # an unquoted ';' in notes
    return defects


def junk_consents(rng: random.Random, model: Model, reps: int) -> list[Defect]:
    defects: list[Defect] = []
    for k in range(6 * reps):
        p = rng.choice(model.persons)
        e = ConsentEvent(p.person_id, "direct_marketing", "email", "grant",
                         time_on(rng, model.as_of - timedelta(days=rng.randint(30, 900))), "web_form")
        row = consent_row(f"KX{k:07d}", e)
        defects.append(_nth_defect(k, row, CONSENT_COLUMNS, (
            ("purpose", "newsletter", "bad_enum"), ("channel", "fax", "bad_enum"), ("action", "maybe", "bad_enum"),
            ("person_id", "", "missing_required"), ("recorded_at", "eilen klo 14", "bad_timestamp"),
        ), wrong_count=row + ["", "ylimääräinen"]))
    return defects


# --------------------------------------------------------------------------------------------------------------
# File-level: whole files to be rejected, and a duplicate delivery
# --------------------------------------------------------------------------------------------------------------
HTML_ERROR_PAGE = """<!DOCTYPE html>
<html lang="fi">
<head><meta charset="utf-8"><title>502 Bad Gateway</title></head>
<body>
<h1>502 Bad Gateway</h1>
<p>Palvelu on tilapäisesti poissa käytöstä. Yritä myöhemmin uudelleen.</p>
</body>
</html>
"""


def _sample_wash_rows(rng: random.Random, model: Model, day: date, n: int, tag: str) -> list[list[str]]:
    """``n`` plausible wash rows of ``day`` (ids ``W<day><tag><nnn>``, outside the ids of the event files)."""
    cars = [c for c in model.contracts if c.vehicle and c.status == "active"] or model.contracts
    rows = []
    for i in range(n):
        c = rng.choice(cars)
        rows.append(in_column_order(WASH_COLUMNS, {
            "wash_id": f"W{day.strftime('%Y%m%d')}{tag}{i:03d}",
            "registration_number": c.vehicle.plate if c.vehicle else "", "phone": "",
            "washed_at": iso_ts(time_on(rng, day, 8, 21)), "wash_program": rng.choice(WASH_PROGRAMS),
            "wash_location": f"Neste {rng.choice(('Hämeenlinna', 'Jyväskylä', 'Seinäjoki'))} Keskusta",
        }))
    return rows


def file_level_defects(out: Path, report: GenerationReport, model: Model, window: list[date],
                       rng: random.Random) -> None:
    """Next to the event files of the middle day of ``window``: files that must be rejected, and a duplicate."""
    day = window[len(window) // 2]
    # fuel: the same content delivered again under another name, and an HTML error page saved as JSONL
    original = file_name("fuel", day)
    dup = file_name("fuel", day, "_2")
    (out / "fuel" / dup).write_bytes((out / "fuel" / original).read_bytes())
    report.add_file("fuel", dup, report.files["fuel"][original])
    report.duplicate_files.append(DuplicateFile("fuel", dup, original))
    html = file_name("fuel", day, "_3")
    (out / "fuel" / html).write_text(HTML_ERROR_PAGE, encoding="utf-8")
    report.add_file("fuel", html, HTML_ERROR_PAGE.count("\n"))
    report.bad_files.append(BadFile("fuel", html, "not_parseable"))
    # wash: a Latin-1 file, and a file without the required washed_at column
    latin = file_name("wash", day, "_2")
    n = write_csv(out / "wash" / latin, WASH_COLUMNS, _sample_wash_rows(rng, model, day, 12, "L"), encoding="latin-1")
    report.add_file("wash", latin, n)
    report.bad_files.append(BadFile("wash", latin, "not_utf8"))
    nocol = file_name("wash", day, "_3")
    keep = [i for i, c in enumerate(WASH_COLUMNS) if c != "washed_at"]
    rows = [[r[i] for i in keep] for r in _sample_wash_rows(rng, model, day, 8, "M")]
    n = write_csv(out / "wash" / nocol, [WASH_COLUMNS[i] for i in keep], rows)
    report.add_file("wash", nocol, n)
    report.bad_files.append(BadFile("wash", nocol, "missing_required_column"))
    # web: a gzip stream cut off in the middle
    lines = [
        '{"event_id": "E%s9%06d", "event_time": "%sT12:%02d:00Z", "event_type": "page_view", "cookie_id": null, '
        '"user_id": null, "ip_address": null, "user_agent": null, "page_url": "https://www.example.fi/leasing/", '
        '"referrer": null, "search_query": null, "consent_analytics": false, "consent_marketing": false}'
        % (day.strftime("%Y%m%d"), i, day.isoformat(), i % 60) for i in range(400)]
    data = gzip_bytes(("\n".join(lines) + "\n").encode())
    trunc = file_name("web", day, "_2")
    (out / "web" / trunc).write_bytes(data[: len(data) * 3 // 5])
    report.add_file("web", trunc, len(lines))
    report.bad_files.append(BadFile("web", trunc, "truncated_gzip"))
