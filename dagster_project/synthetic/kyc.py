"""Know-your-customer records (SOURCES.md ``kyc``): identity checks, beneficial owners and PEP checks.

* ``identity_verification``: every private customer of a contract and every business contact who represents a
  company (a decision maker), with the person's henkilötunnus (when the CRM has one), the company they represent
  and the document they showed;
* ``pep_check``: the same persons' latest politically-exposed-person check;
* ``beneficial_owner``: one to three owners of more than 25 % of each company, some of them in the CRM (the
  company's decision maker), the others known by name (and often henkilötunnus) only.

Records exist for customers whose relationship lasts or ended less than ten years before the as-of date; those
that ended more than five years before it are the ones the five-year KYC retention (AML Act 444/2017 ch. 3 §3)
must delete. KYC is a delta source: the first export holds every record verified by its day, later exports the
records verified since and re-checks of earlier ones (same ``kyc_id``, newer ``updated_at``). Everything follows
from the seed and the population, so the daily deliveries after a master run update the same records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

from faker import Faker

from dagster_project.synthetic import identifiers as ids
from dagster_project.synthetic.defects import Defect, mutate
from dagster_project.synthetic.deliveries import emit_csv
from dagster_project.synthetic.population import Model, Person
from dagster_project.synthetic.records import KYC_COLUMNS, file_name, in_column_order
from dagster_project.synthetic.report import GenerationReport, KeyTracker
from dagster_project.synthetic.values import add_years, iso_date, iso_ts, time_on

STAFF = tuple(f"staff{n:03d}" for n in (7, 12, 17, 23, 42, 51, 64))
DOCUMENT_TYPES = ("passport", "id_card", "driving_licence", "residence_permit")
KEPT_AFTER_END_YEARS = 10   # no record of a relationship that ended longer ago than this


@dataclass(frozen=True)
class KycRecord:
    kyc_id: str
    record_type: str
    person_id: str | None
    business_id: str | None
    verified_at: datetime
    verified_by: str
    full_name: str = ""
    ssn: str | None = None
    document_type: str | None = None
    document_number: str | None = None
    document_expiry: date | None = None
    ownership_pct: str = ""     # as delivered: "62.5"
    is_pep: bool | None = None
    updated_at: datetime | None = None


def kyc_row(r: KycRecord) -> list[str]:
    return in_column_order(KYC_COLUMNS, {
        "kyc_id": r.kyc_id, "record_type": r.record_type, "person_id": r.person_id or "",
        "business_id": r.business_id or "", "full_name": r.full_name, "ssn": r.ssn or "",
        "document_type": r.document_type or "", "document_number": r.document_number or "",
        "document_expiry": iso_date(r.document_expiry), "ownership_pct": r.ownership_pct,
        "is_pep": "" if r.is_pep is None else str(r.is_pep).lower(), "verified_at": iso_ts(r.verified_at),
        "verified_by": r.verified_by, "updated_at": iso_ts(r.updated_at or r.verified_at),
    })


def _document(rng: random.Random, issued: date) -> tuple[str, str, date]:
    kind = rng.choices(DOCUMENT_TYPES, (35, 35, 25, 5))[0]
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVXYZ") for _ in range(2))
    number = {"passport": f"{letters}{rng.randint(0, 9999999):07d}", "id_card": f"{rng.randint(0, 999999999):09d}",
              "driving_licence": f"{rng.randint(10000000, 99999999)}",
              "residence_permit": f"FIN{rng.randint(0, 99999999):08d}"}[kind]
    valid_years = {"passport": 5, "id_card": 5, "driving_licence": 15, "residence_permit": 4}[kind]
    return kind, number, add_years(issued - timedelta(days=rng.randint(0, 900)), valid_years)


def _customers(model: Model) -> list[Person]:
    """Persons whose identity the company verified: private customers of a contract, companies' decision makers;
    only relationships that last or ended less than ``KEPT_AFTER_END_YEARS`` before as-of."""
    contract_customers = {c.customer_person_id for c in model.contracts if c.customer_person_id}
    horizon = add_years(model.as_of, -KEPT_AFTER_END_YEARS)
    return [p for p in model.persons
            if p.rel_start and (p.rel_end is None or p.rel_end > horizon)
            and ((p.customer_type == "private" and p.person_id in contract_customers)
                 or (p.customer_type == "business_contact" and p.role == "decision_maker"))]


def _ownership_shares(rng: random.Random) -> list[float]:
    """The shares (%) of a company's beneficial owners: one to three owners of more than 25 % each."""
    n = rng.choices((1, 2, 3), (50, 35, 15))[0]
    if n == 1:
        return [rng.randint(52, 200) / 2]
    if n == 2:
        first = rng.randint(52, 148) / 2
        return [first, rng.randint(52, int(200 - 2 * first)) / 2]
    return [rng.choice((26.0, 30.0, 33.0, 33.3)) for _ in range(3)]


def kyc_records(model: Model, seed: int) -> list[KycRecord]:
    """Every KYC record of the population as of ``model.as_of`` (ids in a fixed order)."""
    rng = random.Random(f"{seed}:kyc")
    fake = Faker("fi_FI")
    fake.seed_instance(f"{seed}:kyc_owners")
    records: list[KycRecord] = []

    def next_id() -> str:
        return f"KYC{len(records) + 1:06d}"

    cutoff = datetime.combine(model.as_of, time(18))
    for p in _customers(model):
        onboarded = min(time_on(rng, p.rel_start + timedelta(days=rng.randint(0, 14)), 8, 17), cutoff)
        kind, number, expiry = _document(rng, onboarded.date())
        records.append(KycRecord(next_id(), "identity_verification", p.person_id, p.business_id, onboarded,
                                 rng.choice(STAFF), ssn=p.ssn, document_type=kind, document_number=number,
                                 document_expiry=expiry))
        last = min(p.rel_end or model.as_of, model.as_of)
        checked = max(onboarded, min(time_on(rng, last - timedelta(days=rng.randint(0, 330)), 8, 17), cutoff))
        records.append(KycRecord(next_id(), "pep_check", p.person_id, p.business_id, checked, rng.choice(STAFF),
                                 is_pep=rng.random() < 0.02))
    representatives: dict[str, list[Person]] = {}
    for p in model.persons:
        if p.customer_type == "business_contact" and p.role == "decision_maker" and p.business_id:
            representatives.setdefault(p.business_id, []).append(p)
    for company in model.companies:
        shares = _ownership_shares(rng)
        verified = min(time_on(rng, company.rel_start + timedelta(days=rng.randint(1, 30)), 8, 17), cutoff)
        owners = list(representatives.get(company.business_id, []))
        for pct in shares:
            crm = owners.pop(0) if owners and rng.random() < 0.5 else None
            if crm is not None:
                name, person_id, ssn = f"{crm.first_name} {crm.last_name}", crm.person_id, crm.ssn
            else:
                male = rng.random() < 0.5
                name = f"{fake.first_name_male() if male else fake.first_name_female()} {fake.last_name()}"
                birth = date(1945, 1, 1) + timedelta(days=rng.randint(0, 45 * 365))
                person_id, ssn = None, ids.make_hetu(rng, birth, male=male) if rng.random() < 0.6 else None
            records.append(KycRecord(next_id(), "beneficial_owner", person_id, company.business_id, verified,
                                     rng.choice(STAFF), full_name=name, ssn=ssn, ownership_pct=f"{pct:.1f}"))
    return records


def _recheck(rng: random.Random, r: KycRecord, day: date) -> KycRecord:
    """A record checked again on ``day``: a PEP check re-run, a renewed document, an owner's share confirmed."""
    at = time_on(rng, day, 8, 17)
    if r.record_type == "identity_verification":
        kind, number, expiry = _document(rng, day)
        return replace(r, document_type=kind, document_number=number, document_expiry=expiry, verified_at=at,
                       verified_by=rng.choice(STAFF), updated_at=at)
    if r.record_type == "pep_check":
        return replace(r, is_pep=r.is_pep if rng.random() < 0.98 else not r.is_pep, verified_at=at,
                       verified_by=rng.choice(STAFF), updated_at=at)
    return replace(r, verified_at=at, verified_by=rng.choice(STAFF), updated_at=at)


def _rechecks(rng: random.Random, records: list[KycRecord], model: Model, day: date, n: int) -> list[KycRecord]:
    current = {p.person_id for p in model.persons if p.rel_end is None}
    candidates = [r for r in records if r.person_id in current or r.record_type == "beneficial_owner"]
    return [_recheck(rng, r, day) for r in rng.sample(candidates, min(n, len(candidates)))]


def junk_kyc(rng: random.Random, records: list[KycRecord], reps: int) -> list[Defect]:
    """Rows that exist only to be quarantined, each made from a record of the kind its defect concerns."""
    by_type = {t: next(r for r in records if r.record_type == t)
               for t in ("identity_verification", "beneficial_owner", "pep_check")}
    cases = (
        ("beneficial_owner", "business_id", lambda r: ids.corrupt_ytunnus(r.business_id), "bad_checksum"),
        ("beneficial_owner", "ownership_pct", lambda r: "120.0", "out_of_range"),
        ("identity_verification", "document_number", lambda r: "", "missing_required"),
        ("identity_verification", "document_expiry", lambda r: f"{r.document_expiry.year}-02-30", "bad_date"),
        ("pep_check", "record_type", lambda r: "pep", "bad_enum"),
        ("pep_check", "is_pep", lambda r: "kyllä", "bad_bool"),
        ("pep_check", "verified_at", lambda r: r.verified_at.strftime("%d.%m.%Y klo %H"), "bad_timestamp"),
    )
    defects = []
    for k in range(len(cases) * reps):
        record_type, column, value, kind = cases[k % len(cases)]
        base = replace(by_type[record_type], kyc_id=f"KYCX{k:05d}")
        defects.append(mutate(kyc_row(base), KYC_COLUMNS, column, value(base), kind))
    return defects


def kyc_deliveries(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, seed: int, first: date,
                   deltas: list[date], reps: int) -> None:
    """The first export of ``first`` (every record verified by then, with the row defects) and one delta per day
    of ``deltas``: the records verified since the previous export and re-checks of earlier ones."""
    rng = random.Random(f"{seed}:kyc_deliveries:{first.isoformat()}:{len(deltas)}")
    records = kyc_records(model, seed)
    cutoff = datetime.combine(first, time(23, 59))
    delivered = [r for r in records if r.verified_at <= cutoff]
    emit_csv(report, keys, out, "kyc", file_name("kyc", first), KYC_COLUMNS, [kyc_row(r) for r in delivered],
             junk_kyc(rng, records, reps), rng)
    previous = cutoff
    for day in deltas:
        until = datetime.combine(day, time(23, 59))
        new = [r for r in records if previous < r.verified_at <= until]
        rows = new + _rechecks(rng, delivered, model, day, max(2, len(records) // 300))
        delivered += new
        previous = until
        emit_csv(report, keys, out, "kyc", file_name("kyc", day), KYC_COLUMNS,
                 [kyc_row(r) for r in _unique(rows)], [], rng)


def kyc_increment(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, seed: int,
                  day: date) -> None:
    """A day's KYC delta after a master run: a few records checked again that day."""
    rng = random.Random(f"{seed}:kyc_increment:{day.isoformat()}")
    rows = _rechecks(rng, kyc_records(model, seed), model, day, max(1, len(model.persons) // 700))
    emit_csv(report, keys, out, "kyc", file_name("kyc", day), KYC_COLUMNS, [kyc_row(r) for r in rows], [], rng)


def _unique(records: list[KycRecord]) -> list[KycRecord]:
    """One row per kyc_id in a delivery (the last version of it)."""
    return list({r.kyc_id: r for r in records}.values())
