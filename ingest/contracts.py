"""The landing-zone contract (SOURCES.md) as data.

Every source is declared once here: its folder, file pattern, format, key, loading semantics and columns with
their type, whether they are required and the rule they must satisfy. The loader turns these declarations into
DuckDB SQL (see :mod:`ingest.validation`); nothing else in the project hard-codes a source's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "integer", "decimal", "number", "date", "timestamp", "bool", "enum"]
Semantics = Literal["delta", "event", "full_list"]
FileFormat = Literal["csv", "finnish_csv", "jsonl"]

# Named value rules. Each maps to a SQL predicate in ingest.validation; the reason recorded in quarantine is
# "<rule kind>:<column>", e.g. "checksum:ssn", "pattern:email".
Rule = Literal[
    "person_id", "contract_id", "hetu", "ytunnus", "email", "phone", "postal_code", "plate", "vin", "ip", "utc",
]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "string"
    required: bool = False
    rule: Rule | None = None
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False


@dataclass(frozen=True)
class CrossRule:
    """A row rule over several columns, expressed on the typed columns (``t.<column>``)."""

    name: str
    sql_ok: str  # SQL that is true (or null) when the row satisfies the rule


@dataclass(frozen=True)
class ConsentGate:
    """Rows collected only with consent: a row is kept only when its person's latest event of ``purpose`` in the
    ``consents`` source recorded at or before the row's ``at`` is a grant. Any other row is withheld: counted,
    stored nowhere (RULES.md §2)."""

    purpose: str
    person: str  # the row's person column
    at: str      # the row's timestamp column the consent must be in force at


@dataclass(frozen=True)
class Source:
    name: str
    format: FileFormat
    suffix: str
    key: tuple[str, ...]
    semantics: Semantics
    columns: tuple[Column, ...]
    order_by: str | None = None  # delta sources: the column whose greatest value wins
    cross_rules: tuple[CrossRule, ...] = field(default_factory=tuple)
    consent: ConsentGate | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _s(name: str, required: bool = False, rule: Rule | None = None) -> Column:
    return Column(name, "string", required, rule)


def _enum(name: str, values: tuple[str, ...], required: bool = False) -> Column:
    return Column(name, "enum", required, values=values)


def _nonneg(name: str, type_: ColumnType = "decimal") -> Column:
    return Column(name, type_, min=0)


CRM_PERSONS = Source(
    name="crm_persons",
    format="csv",
    suffix=".csv",
    key=("person_id",),
    semantics="delta",
    order_by="updated_at",
    columns=(
        _s("person_id", True, "person_id"),
        _s("first_name", True),
        _s("last_name", True),
        _s("ssn", rule="hetu"),
        _s("email", rule="email"),
        _s("phone", rule="phone"),
        _s("street_address"),
        _s("postal_code", rule="postal_code"),
        _s("city"),
        _enum("customer_type", ("private", "business_contact", "prospect"), required=True),
        _s("business_id", rule="ytunnus"),
        _s("position"),
        _enum("role", ("car_user", "decision_maker")),
        Column("relationship_start", "date"),
        Column("relationship_end", "date"),
        Column("updated_at", "timestamp", required=True),
    ),
)

CRM_COMPANIES = Source(
    name="crm_companies",
    format="csv",
    suffix=".csv",
    key=("business_id",),
    semantics="delta",
    order_by="updated_at",
    columns=(
        _s("business_id", True, "ytunnus"),
        _s("name", True),
        _s("parent_business_id", rule="ytunnus"),
        _s("street_address"),
        _s("postal_code", rule="postal_code"),
        _s("city"),
        _enum("billing_method", ("paper", "e_invoice", "email")),
        _s("e_invoice_address"),
        _s("e_invoice_operator"),
        Column("payment_terms_days", "integer", min=0, max=120),
        Column("relationship_start", "date"),
        Column("relationship_end", "date"),
        Column("updated_at", "timestamp", required=True),
    ),
)

CONTRACTS = Source(
    name="contracts",
    format="finnish_csv",
    suffix=".csv",
    key=("contract_id",),
    semantics="delta",
    order_by="updated_at",
    columns=(
        _s("contract_id", True, "contract_id"),
        _s("customer_business_id", rule="ytunnus"),
        _s("customer_person_id", rule="person_id"),
        _s("contract_type", True),
        _enum("status", ("ordered", "active", "ended", "terminated"), required=True),
        Column("delivery_date", "date"),
        Column("start_date", "date"),
        Column("end_date", "date"),
        Column("duration_months", "integer"),
        _nonneg("residual_value"),
        _nonneg("lease_rent"),
        _nonneg("service_budget"),
        _nonneg("account_fee"),
        _nonneg("total_monthly"),
        _nonneg("included_km", "integer"),
        _nonneg("start_km", "integer"),
        _nonneg("latest_odometer_km", "integer"),
        _s("registration_number", rule="plate"),
        _s("vin", rule="vin"),
        _s("make"),
        _s("model"),
        Column("first_registration_date", "date"),
        _enum("vehicle_class", ("passenger_car", "van", "truck", "trailer")),
        _enum("power_source", ("petrol", "diesel", "hybrid", "plug_in_hybrid", "electric", "gas")),
        Column("co2_g_km", "integer"),
        _s("cost_center"),
        _s("driver_person_id", rule="person_id"),
        _s("finance_company"),
        _s("insurance_company"),
        Column("insurance_deductible", "decimal"),
        Column("replacement_car_right", "bool"),
        _s("replacement_car_class"),
        _s("notes"),
        Column("updated_at", "timestamp", required=True),
    ),
    cross_rules=(
        CrossRule(
            "one_customer",
            "((t.customer_business_id is null) <> (t.customer_person_id is null))",
        ),
    ),
)

FUEL = Source(
    name="fuel",
    format="jsonl",
    suffix=".jsonl",
    key=("transaction_id",),
    semantics="event",
    columns=(
        _s("transaction_id", True),
        Column("refueled_at", "timestamp", required=True),
        _s("phone", True, "phone"),
        _s("registration_number", True, "plate"),
        _enum("product", ("95E10", "98E5", "Diesel", "HVO100", "E85", "EV"), required=True),
        _s("fuel_company", True),
        _s("station_name"),
        _s("city"),
        Column("liters", "number", min=0, max=200, min_exclusive=True),
        Column("kwh", "number", min=0, max=400, min_exclusive=True),
        Column("amount_eur", "number", min=0),
    ),
    cross_rules=(
        CrossRule("liters_required", "(t.product is null or t.product = 'EV' or t.liters is not null)"),
        CrossRule("kwh_required", "(t.product is null or t.product <> 'EV' or t.kwh is not null)"),
    ),
)

WASH = Source(
    name="wash",
    format="csv",
    suffix=".csv",
    key=("wash_id",),
    semantics="event",
    columns=(
        _s("wash_id", True),
        _s("registration_number", True, "plate"),
        _s("phone", rule="phone"),
        Column("washed_at", "timestamp", required=True),
        _s("wash_program", True),
        _s("wash_location", True),
    ),
)

WEB = Source(
    name="web",
    format="jsonl",
    suffix=".jsonl.gz",
    key=("event_id",),
    semantics="event",
    columns=(
        _s("event_id", True),
        Column("event_time", "timestamp", required=True, rule="utc"),
        _enum("event_type", ("page_view", "search", "form_submit", "registration", "login", "logout"), True),
        _s("cookie_id"),
        _s("user_id", rule="person_id"),
        _s("ip_address", rule="ip"),
        _s("user_agent"),
        _s("page_url"),
        _s("referrer"),
        _s("search_query"),
        Column("consent_analytics", "bool", required=True),
        Column("consent_marketing", "bool", required=True),
    ),
)

CONSENTS = Source(
    name="consents",
    format="csv",
    suffix=".csv",
    key=("consent_event_id",),
    semantics="event",
    columns=(
        _s("consent_event_id", True),
        _s("person_id", True, "person_id"),
        _enum("purpose", ("direct_marketing", "profiling", "location_tracking"), required=True),
        _enum("channel", ("email", "sms", "phone", "post", "any"), required=True),
        _enum("action", ("grant", "withdraw", "object"), required=True),
        Column("recorded_at", "timestamp", required=True),
        _s("source"),
    ),
    cross_rules=(
        CrossRule("channel_any_for_purpose", "(t.purpose = 'direct_marketing' or t.channel = 'any')"),
    ),
)

ROBINSON = Source(
    name="robinson",
    format="csv",
    suffix=".csv",
    key=(),
    semantics="full_list",
    columns=(
        _s("first_name"),
        _s("last_name"),
        _s("street_address"),
        _s("postal_code", rule="postal_code"),
        _s("phone", rule="phone"),
    ),
)

DRIVE_LOG = Source(
    name="drive_log",
    format="csv",
    suffix=".csv",
    key=("trip_id",),
    semantics="event",
    columns=(
        _s("trip_id", True),
        _s("driver_person_id", True, "person_id"),
        _s("registration_number", True, "plate"),
        Column("trip_date", "date", required=True),
        Column("start_km", "integer", required=True, min=0),
        Column("end_km", "integer", required=True, min=0),
        # should equal end_km - start_km; a mismatch is a business rule (it loads, data quality reports it)
        Column("distance_km", "integer", required=True, min=0),
        _enum("trip_type", ("work", "leisure"), required=True),
        _s("start_point"),
        _s("end_point"),
        _enum("added_by", ("driver", "fleet_manager", "customer_service"), required=True),
        Column("added_at", "timestamp", required=True),
    ),
)

LOCATION = Source(
    name="location",
    format="jsonl",
    suffix=".jsonl.gz",
    key=("ping_id",),
    semantics="event",
    columns=(
        _s("ping_id", True),
        _s("person_id", True, "person_id"),
        _s("registration_number", rule="plate"),
        Column("recorded_at", "timestamp", required=True, rule="utc"),
        Column("lat", "number", required=True, min=-90, max=90),
        Column("lon", "number", required=True, min=-180, max=180),
        Column("accuracy_m", "number", min=0),
        Column("speed_kmh", "number", min=0, max=300),
    ),
    consent=ConsentGate(purpose="location_tracking", person="person_id", at="recorded_at"),
)

KYC = Source(
    name="kyc",
    format="csv",
    suffix=".csv",
    key=("kyc_id",),
    semantics="delta",
    order_by="updated_at",
    columns=(
        _s("kyc_id", True),
        _enum("record_type", ("identity_verification", "beneficial_owner", "pep_check"), required=True),
        _s("person_id", rule="person_id"),
        _s("business_id", rule="ytunnus"),
        _s("full_name"),
        _s("ssn", rule="hetu"),
        _enum("document_type", ("passport", "id_card", "driving_licence", "residence_permit")),
        _s("document_number"),
        Column("document_expiry", "date"),
        Column("ownership_pct", "decimal", min=0, max=100),
        Column("is_pep", "bool"),
        Column("verified_at", "timestamp", required=True),
        _s("verified_by"),
        Column("updated_at", "timestamp", required=True),
    ),
    cross_rules=(
        CrossRule("person_or_business",
                  "(nullif(trim(t.person_id), '') is not null or nullif(trim(t.business_id), '') is not null)"),
        CrossRule("full_name_required", "(t._v_record_type is distinct from 'beneficial_owner' "
                                        "or nullif(trim(t.full_name), '') is not null)"),
        CrossRule("document_type_required",
                  "(t._v_record_type is distinct from 'identity_verification' or t._v_document_type is not null)"),
        CrossRule("document_number_required", "(t._v_record_type is distinct from 'identity_verification' "
                                              "or nullif(trim(t.document_number), '') is not null)"),
        CrossRule("is_pep_required", "(t._v_record_type is distinct from 'pep_check' or t.is_pep is not null)"),
    ),
)

SOURCES: dict[str, Source] = {
    s.name: s for s in (CRM_PERSONS, CRM_COMPANIES, CONTRACTS, FUEL, WASH, WEB, CONSENTS, ROBINSON,
                        DRIVE_LOG, LOCATION, KYC)
}
# A source with a consent gate loads after ``consents``, so consent events delivered in the same run count.
assert all(list(SOURCES).index("consents") < list(SOURCES).index(s.name) for s in SOURCES.values() if s.consent)
SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)
