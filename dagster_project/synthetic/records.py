"""How generated records become landing files: the contract's columns, the file names, CSV rows and writers.

The columns come from the source contract (:mod:`ingest.contracts`); the generator has no copy of its own. Rows are
built by column name and laid out in the contract's order, so the files are delivered in that order and a column
added to the contract without a value here is an error rather than a shifted row. (The JSON Lines and the wash lines
that DuckDB writes spell their fields out in SQL, in the same order; tests/test_generate.py compares every CSV header
and every JSON line's fields with the contract.)
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from dagster_project.synthetic import identifiers as ids
from dagster_project.synthetic.population import Company, ConsentEvent, Contract, Person
from dagster_project.synthetic.values import fi_date, fi_money, fi_ts, iso_date, iso_ts
from ingest.contracts import SOURCE_NAMES, SOURCES

# File names as the upstream systems write them (the contract's samples): a prefix and the delivery date in that
# system's format, then the contract's suffix. The Robinson list comes monthly, every other source daily.
FILE_NAMES: dict[str, tuple[str, str]] = {
    "crm_persons": ("persons_", "%Y-%m-%d"),
    "crm_companies": ("companies_", "%Y-%m-%d"),
    "contracts": ("fleet_contracts_", "%Y%m%d"),
    "fuel": ("fuel_", "%Y-%m-%d"),
    "wash": ("wash_", "%Y-%m-%d"),
    "web": ("web_", "%Y-%m-%d"),
    "consents": ("consents_", "%Y-%m-%d"),
    "robinson": ("robinson_", "%Y-%m"),
    "drive_log": ("drive_log_", "%Y-%m-%d"),
    "location": ("location_", "%Y-%m-%d"),
    "kyc": ("kyc_", "%Y-%m-%d"),
}
# The sources this generator writes, in the contract's order (a contract source it does not know is left out: a
# landing zone may lack a source).
GENERATED_SOURCES: tuple[str, ...] = tuple(s for s in SOURCE_NAMES if s in FILE_NAMES)
if set(GENERATED_SOURCES) != set(FILE_NAMES):
    raise ImportError(f"not in the source contract: {sorted(set(FILE_NAMES) - set(GENERATED_SOURCES))}")

PERSON_COLUMNS = tuple(SOURCES["crm_persons"].column_names)
COMPANY_COLUMNS = tuple(SOURCES["crm_companies"].column_names)
CONTRACT_COLUMNS = tuple(SOURCES["contracts"].column_names)
WASH_COLUMNS = tuple(SOURCES["wash"].column_names)
CONSENT_COLUMNS = tuple(SOURCES["consents"].column_names)
ROBINSON_COLUMNS = tuple(SOURCES["robinson"].column_names)
DRIVE_LOG_COLUMNS = tuple(SOURCES["drive_log"].column_names)
KYC_COLUMNS = tuple(SOURCES["kyc"].column_names)
_VEHICLE_COLUMNS = ("start_km", "latest_odometer_km", "registration_number", "vin", "make", "model",
                    "first_registration_date", "vehicle_class", "power_source", "co2_g_km")


def file_name(source: str, day: date, suffix: str = "") -> str:
    """The name of ``source``'s delivery of ``day``; ``suffix`` marks a second file of the same day (``_2``)."""
    prefix, date_format = FILE_NAMES[source]
    return f"{prefix}{day.strftime(date_format)}{suffix}{SOURCES[source].suffix}"


def in_column_order(columns: Sequence[str], values: Mapping[str, str], *, absent: str | None = None) -> list[str]:
    """``values`` as a row laid out in ``columns``; a column without a value is an error unless ``absent`` fills it."""
    known = sum(1 for c in columns if c in values)
    if known != len(values) or (absent is None and known != len(columns)):
        unknown, missing = sorted(set(values) - set(columns)), sorted(set(columns) - set(values))
        raise KeyError(f"row does not fit the contract: unknown {unknown}, missing {missing}")
    return [values.get(c, absent) for c in columns]


def person_row(p: Person, updated_at: datetime | None = None) -> list[str]:
    return in_column_order(PERSON_COLUMNS, {
        "person_id": p.person_id, "first_name": p.first_name, "last_name": p.last_name, "ssn": p.ssn or "",
        "email": p.email or "", "phone": ids.format_phone(p.phone, p.phone_style) if p.phone else "",
        "street_address": p.street or "", "postal_code": p.postal or "", "city": p.city or "",
        "customer_type": p.customer_type, "business_id": p.business_id or "", "position": p.position or "",
        "role": p.role or "", "relationship_start": iso_date(p.rel_start), "relationship_end": iso_date(p.rel_end),
        "updated_at": iso_ts(updated_at or p.updated_at),
    })


def company_row(c: Company, updated_at: datetime | None = None) -> list[str]:
    return in_column_order(COMPANY_COLUMNS, {
        "business_id": c.business_id, "name": c.name, "parent_business_id": c.parent or "",
        "street_address": c.street, "postal_code": c.postal, "city": c.city, "billing_method": c.billing_method,
        "e_invoice_address": c.e_invoice_address, "e_invoice_operator": c.e_invoice_operator,
        "payment_terms_days": str(c.payment_terms_days), "relationship_start": iso_date(c.rel_start),
        "relationship_end": "", "updated_at": iso_ts(updated_at or c.updated_at),
    })


def _vehicle_fields(c: Contract) -> dict[str, str]:
    v = c.vehicle
    if v is None:
        return dict.fromkeys(_VEHICLE_COLUMNS, "")
    return {
        "start_km": str(c.start_km), "latest_odometer_km": str(c.latest_odometer_km), "registration_number": v.plate,
        "vin": v.vin, "make": v.make, "model": v.model, "first_registration_date": fi_date(v.first_registration),
        "vehicle_class": v.vehicle_class, "power_source": v.power, "co2_g_km": str(v.co2),
    }


def contract_row(c: Contract) -> list[str]:
    return in_column_order(CONTRACT_COLUMNS, {
        "contract_id": c.contract_id, "customer_business_id": c.customer_business_id or "",
        "customer_person_id": c.customer_person_id or "", "contract_type": c.contract_type, "status": c.status,
        "delivery_date": fi_date(c.delivery_date), "start_date": fi_date(c.start_date),
        "end_date": fi_date(c.end_date), "duration_months": str(c.duration_months),
        "residual_value": fi_money(c.residual_value), "lease_rent": fi_money(c.lease_rent),
        "service_budget": fi_money(c.service_budget), "account_fee": fi_money(c.account_fee),
        "total_monthly": fi_money(c.total_monthly), "included_km": str(c.included_km), **_vehicle_fields(c),
        "cost_center": c.cost_center or "", "driver_person_id": c.driver_person_id,
        "finance_company": c.finance_company, "insurance_company": c.insurance_company,
        "insurance_deductible": fi_money(c.insurance_deductible),
        "replacement_car_right": "1" if c.replacement_car_right else "0",
        "replacement_car_class": c.replacement_car_class or "", "notes": c.notes, "updated_at": fi_ts(c.updated_at),
    })


def consent_row(event_id: str, e: ConsentEvent) -> list[str]:
    return in_column_order(CONSENT_COLUMNS, {
        "consent_event_id": event_id, "person_id": e.person_id, "purpose": e.purpose, "channel": e.channel,
        "action": e.action, "recorded_at": iso_ts(e.recorded_at), "source": e.source,
    })


def write_csv(path: Path, header: Sequence[str], rows: Iterable[list[str]], *, delimiter: str = ",",
              encoding: str = "utf-8") -> int:
    """Write a header and ``rows`` (``\\n`` line ends); return the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    path.write_bytes(buf.getvalue().encode(encoding))
    return n


def gzip_bytes(data: bytes) -> bytes:
    """gzip without a file name or time stamp, so that the same data gives the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()
