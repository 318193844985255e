"""The expectation suites, declared from the source contract (``ingest/contracts.py``) plus cross-field rules.

Each suite validates a pandas frame that holds only the columns its expectations need. Personal columns get
row-wise expectations only (not null, unique); never an aggregate one (min, max, most common value), whose
``observed_value`` would carry a value into results and Data Docs. Cross-field rules are computed in DuckDB as
boolean columns (``_rule_<name>``) and expected to be true, so no value is needed to state them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dagster_project.retention.policy import LIMITS
from ingest.contracts import SOURCES, Source
from ingest.validation import q

END_AFTER_START = "relationship_end is null or relationship_start is null or relationship_end >= relationship_start"
END_NOT_AFTER_AS_OF = "relationship_end is null or relationship_end <= {as_of}"

# Cross-field rules per source: name -> SQL that is true (or null) when the row satisfies the rule.
CROSS_RULES: dict[str, dict[str, str]] = {
    "contracts": {
        "total_monthly_is_sum_of_parts": "total_monthly is null or abs(total_monthly - (coalesce(lease_rent, 0) + "
                                         "coalesce(service_budget, 0) + coalesce(account_fee, 0))) < 0.005",
        "end_after_start": "end_date is null or start_date is null or end_date >= start_date",
        "odometer_not_below_start": "latest_odometer_km is null or start_km is null or latest_odometer_km >= start_km",
        "one_customer": "(customer_business_id is null) <> (customer_person_id is null)",
    },
    "crm_persons": {
        "relationship_end_after_start": END_AFTER_START,
        "relationship_end_not_after_as_of": END_NOT_AFTER_AS_OF,
    },
    "crm_companies": {
        "relationship_end_after_start": END_AFTER_START,
    },
    "fuel": {
        "litres_or_kwh": "(product = 'EV') = (kwh is not null)",
        "amount_positive": "amount_eur is null or amount_eur > 0",
    },
    # a business rule of the drive log (SOURCES.md): a mismatch loads and is reported here
    "drive_log": {
        "distance_is_end_minus_start": "distance_km = end_km - start_km",
        # no other current trip of the car covers part of the same odometer range
        "odometer_ranges_do_not_overlap": "not exists (select 1 from raw.drive_log_current o where "
                                          "upper(trim(o.registration_number)) = upper(trim(drive_log.registration_number)) "
                                          "and o.trip_id <> drive_log.trip_id and o.start_km < drive_log.end_km "
                                          "and o.end_km > drive_log.start_km)",
    },
    "kyc": {
        "beneficial_owner_over_25_pct": "record_type <> 'beneficial_owner' or ownership_pct is null "
                                        "or ownership_pct > 25",
    },
}


def _in_contract(source: str, column: str) -> str:
    """SQL: the column holds one of the values the source contract allows."""
    return f"{column} in ({', '.join(q(v) for v in SOURCES[source].column(column).values)})"


# The inputs of the retention gates (RULES.md §6), with the limits of retention/policy.py.
_EARLIEST_END = LIMITS.earliest_relationship_end
RETENTION_RULES: dict[str, str] = {
    "relationship_end_not_after_as_of": END_NOT_AFTER_AS_OF,
    "relationship_end_after_start": END_AFTER_START,
    f"relationship_end_not_before_{_EARLIEST_END.year}":
        f"relationship_end is null or relationship_end >= date {q(_EARLIEST_END.isoformat())}",
    "customer_type_known": _in_contract("crm_persons", "customer_type"),
}
CONTRACT_PARTY_RULES: dict[str, str] = {
    "customer_person_exists": "customer_person_id is null or customer_person_id in "
                              "(select person_id from raw.crm_persons_current)",
    "driver_person_exists": "driver_person_id is null or driver_person_id in "
                            "(select person_id from raw.crm_persons_current)",
    "status_known": _in_contract("contracts", "status"),
}


@dataclass
class Expect:
    kind: str            # not_null | in_set | between | unique | rule
    column: str | list[str]
    args: dict = field(default_factory=dict)


@dataclass
class Suite:
    name: str
    expectations: list[Expect]

    @property
    def columns(self) -> list[str]:
        out: list[str] = []
        for e in self.expectations:
            for c in ([e.column] if isinstance(e.column, str) else e.column):
                if c not in out:
                    out.append(c)
        return out


def source_suite(source: Source) -> Suite:
    exps: list[Expect] = []
    for c in source.columns:
        if c.required:
            exps.append(Expect("not_null", c.name))
        if c.values:
            exps.append(Expect("in_set", c.name, {"value_set": list(c.values)}))
        if c.min is not None or c.max is not None:
            exps.append(Expect("between", c.name, {"min_value": c.min, "max_value": c.max,
                                                   "strict_min": c.min_exclusive}))
    if source.key:
        exps.append(Expect("unique", [*source.key, "_load_id"]))
    for rule in CROSS_RULES.get(source.name, {}):
        exps.append(Expect("rule", f"_rule_{rule}"))
    return Suite(f"source_{source.name}", exps)


def retention_suite() -> Suite:
    return Suite("retention_inputs", [Expect("rule", f"_rule_{r}") for r in [*RETENTION_RULES, *CONTRACT_PARTY_RULES]]
                 + [Expect("unique", "row_key")])


def all_suites() -> dict[str, Suite]:
    out = {f"source_{s.name}": source_suite(s) for s in SOURCES.values()}
    out["retention_inputs"] = retention_suite()
    return out


def _rules_sql(rules: dict[str, str], as_of: date) -> str:
    return "".join(f", coalesce(({sql.format(as_of=f'date {as_of.isoformat()!r}')}), true) as \"_rule_{name}\""
                   for name, sql in rules.items())


def batch_sql(source: Source, suite: Suite, as_of: date) -> str:
    """The new batch of a source: rows loaded by the run's loads (parameter: list of load ids)."""
    plain = [c for c in suite.columns if not c.startswith("_rule_")] or ["_load_id"]
    cols = ", ".join(f'"{c}"' for c in plain)
    return (f"select {cols}{_rules_sql(CROSS_RULES.get(source.name, {}), as_of)} from raw.{source.name} "
            f"where _load_id in (select unnest(?::bigint[]))")


def retention_sql(as_of: date) -> tuple[str, str]:
    """Persons (current) and contract parties: the inputs that decide deletion. The person key is the row
    number of a hash, so the frame holds no identifier at all."""
    persons = (f"select 'person:' || hash(person_id) as row_key{_rules_sql(RETENTION_RULES, as_of)} "
               f"from raw.crm_persons_current")
    contracts = (f"select 'contract:' || hash(contract_id) as row_key{_rules_sql(CONTRACT_PARTY_RULES, as_of)} "
                 f"from raw.contracts_current")
    return persons, contracts
