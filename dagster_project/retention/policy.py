"""The retention policy of RULES.md §5 and the gate limits of §6, declared once.

Every other module reads these declarations; change a period or a limit here and the plan, the gates, the
stewards' report and the README table follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Policy:
    name: str
    what: str
    trigger: str
    period: str             # human-readable, e.g. "10 years"
    years: int = 0
    months: int = 0
    days: int = 0
    action: str = ""
    legal_basis: str = ""

    def cutoff(self, as_of: date) -> date:
        """Data whose trigger date is *before* this day is due (a trigger on the cutoff day itself is kept)."""
        y, m = as_of.year - self.years, as_of.month - self.months
        while m < 1:
            y, m = y - 1, m + 12
        day = min(as_of.day, _days_in_month(y, m))
        return date(y, m, day) - timedelta(days=self.days)


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


PERSON = Policy(
    "person_relationship_ended", "a person (all their personal data)",
    "relationship_end, provided no contract of theirs (as customer or driver) is ordered or active and no legal hold",
    "10 years", years=10,
    action="erase identity; company-owned facts (fuel, wash, contract money) stay, anonymised",
    legal_basis="privacy statement: deleted or anonymised 10 years after the relationship ends; contract money "
                "kept as bookkeeping material (Accounting Act 1336/1997 ch. 2 §10)")
CONTRACT_PERSONAL = Policy(
    "contract_personal_fields", "a contract's personal fields (driver, notes, plate, VIN)", "contract end_date",
    "10 years", years=10, action="anonymise",
    legal_basis="privacy statement: 10 years after the relationship ends; money fields kept (Accounting Act)")
RAW_IP = Policy(
    "raw_ip_address", "raw IP addresses of web events", "event_time", "30 days", days=30, action="null",
    legal_basis="data minimisation (GDPR Art. 5(1)(c)); truncated networks outside raw serve analytics")
WEB_IDENTIFIED = Policy(
    "web_identified_events", "web events with identifiers (cookie id, user id)", "event_time", "26 months",
    months=26, action="delete (daily aggregates stay)",
    legal_basis="consent for analytics cookies; identifiers kept at most 26 months (common practice)")
QUARANTINE = Policy(
    "quarantine", "quarantined rows", "quarantined (as-of of the load)", "90 days", days=90, action="delete",
    legal_basis="legitimate interest in fixing deliveries; rejected input is not needed longer")
LANDING_FILES = Policy(
    "landing_archive", "landing files after a successful load (archive, rejected, duplicates)",
    "load (as-of of the load)", "30 days", days=30, action="delete",
    legal_basis="the warehouse holds the loaded rows with lineage; the file copy is only for reloads")
ERASURE_REQUEST = Policy(
    "erasure_request", "erasure requested by the subject (Art. 17)", "request", "until the next run",
    action="erase as a person above, except what a legal obligation keeps (contract money, KYC records)",
    legal_basis="GDPR Art. 17; Art. 17(3)(b) for bookkeeping and customer due diligence")
LOCATION_PINGS = Policy(
    "location_pings", "location pings", "recorded_at", "90 days", days=90,
    action="delete (coordinate-free daily distances stay)",
    legal_basis="consent (location_tracking); data minimisation: the daily distance outlives the coordinates")
# "until the next run": every ping recorded before the day after as-of is due once the grant is gone.
LOCATION_WITHDRAWN = Policy(
    "location_withdrawn", "location pings of a person whose location_tracking grant was withdrawn or objected to",
    "a withdraw or object of location_tracking", "until the next run", days=-1,
    action="delete (coordinate-free daily distances stay, shown only while a grant is in force)",
    legal_basis="consent withdrawn (GDPR Art. 7(3)): the data collected on its basis is no longer kept")
TRIP_POINTS = Policy(
    "drive_log_points", "drive-log start and end points", "trip_date", "26 months", months=26,
    action="null (the kilometres stay)",
    legal_basis="data minimisation: the car-benefit and fleet figures need kilometres, not places")
KYC = Policy(
    "kyc_records", "KYC records", "relationship_end of the person (beneficial owners and representatives: of the "
    "company); for an erased person, the day of the erasure", "5 years", years=5, action="delete",
    legal_basis="legal obligation: Anti-Money-Laundering Act 444/2017 ch. 3 §3 (5 years after the relationship)")

POLICIES: tuple[Policy, ...] = (PERSON, CONTRACT_PERSONAL, RAW_IP, WEB_IDENTIFIED, QUARANTINE, LANDING_FILES,
                                ERASURE_REQUEST, LOCATION_PINGS, LOCATION_WITHDRAWN, TRIP_POINTS, KYC)


@dataclass(frozen=True)
class PolicyRule:
    """What a time-based policy removes from one relation: rows (or columns of rows) whose ``time_column`` is before
    the policy's cutoff. The plan counts with :meth:`count_sql`, the erasure runs :meth:`apply_sql`; both take the
    cutoff as their one parameter."""

    policy: Policy
    relation: str
    time_column: str
    action: str                    # delete (rows) | null (the columns) | delete_files (the files the column names)
    columns: tuple[str, ...] = ()  # null: the columns nulled; otherwise only rows holding any of them (none: all)
    planned: bool = True           # counted in the plan (a run is due when a planned count is not zero)
    condition: str = ""            # a further condition on the rows (SQL without parameters)
    # False when no dbt table derives anything from what the rule changes (a view recomputes on read; an incremental
    # model keeps what it took when the row loaded): the change then needs no rebuild and makes nothing stale
    # (``rebuild.py``, ``build_state.input_values``). ``tests/test_build_state.py`` checks the claim on the manifest.
    rederived: bool = True

    def where(self) -> str:
        held = " or ".join(f"{c} is not null" for c in self.columns)
        return (f"{self.time_column} < ?" + (f" and ({held})" if held else "")
                + (f" and ({self.condition})" if self.condition else ""))

    def count_sql(self) -> str:
        return f"select count(*) from {self.relation} where {self.where()}"

    def apply_sql(self) -> str:
        """The statement that carries the rule out; for ``delete_files``, the query of the files to delete."""
        if self.action == "delete":
            return f"delete from {self.relation} where {self.where()}"
        if self.action == "null":
            return f"update {self.relation} set {', '.join(f'{c} = null' for c in self.columns)} where {self.where()}"
        return f"select {self.columns[0]} from {self.relation} where {self.where()}"


# The shorter policies, one rule per relation, in the order the erasure applies them (IPs are nulled before the
# identified events are deleted; each counts its own rows). The relations are named here on purpose: which tables a
# period applies to is the policy itself, not something a column declaration says. The plan counts the layer of
# record: the derived web tables follow the raw events, and a contract's personal fields are anonymised by a run
# that is due for another reason (they are not counted in the plan).
# Persons whose latest location_tracking event (the ingestion's consent gate reads the same events) is a grant.
LOCATION_GRANTED = """select person_id from (
        select trim(person_id) as person_id, arg_max(trim(action), (recorded_at, consent_event_id)) as action
        from raw.consents_current where trim(purpose) = 'location_tracking' and trim(channel) = 'any'
        group by all) where action = 'grant'"""
# When a KYC record's 5 years start (RULES.md §5): a record of a company (beneficial owner, representative) from the
# company's relationship_end, a person's from theirs; an erased person's record from the erasure, which
# ``ops.legal_retention`` recorded when it kept the record (their CRM row is gone).
KYC_RETENTION_FROM = """(select k.kyc_id, case when k.business_id is not null then c.relationship_end
            else coalesce(p.relationship_end, l.retention_from) end as retention_from
        from raw.kyc_current k
        left join raw.crm_companies_current c on c.business_id = k.business_id
        left join raw.crm_persons_current p on p.person_id = k.person_id
        left join (select row_key, min(retention_from) as retention_from from ops.legal_retention
                   where relation = 'raw.kyc' group by all) l on l.row_key = k.kyc_id)"""

SHORTER_RULES: tuple[PolicyRule, ...] = (
    # raw IPs: read only by the view stg_web__events (the /24 or /48 network, computed on read), which
    # int_web_events (incremental) takes once, when the event loads
    PolicyRule(RAW_IP, "raw.web", "event_time", "null", ("ip_address",), rederived=False),
    PolicyRule(WEB_IDENTIFIED, "raw.web", "event_time", "delete", ("cookie_id", "user_id")),
    PolicyRule(WEB_IDENTIFIED, "intermediate.int_web_events", "event_time", "delete", planned=False),
    PolicyRule(WEB_IDENTIFIED, "marts.web_sessions", "session_start", "delete", planned=False),
    PolicyRule(QUARANTINE, "raw.quarantine", "as_of", "delete"),
    PolicyRule(CONTRACT_PERSONAL, "raw.contracts", "end_date", "null",
               ("driver_person_id", "notes", "registration_number", "vin"), planned=False),
    # pings: the view stg_location__pings reads them, int_location_daily (incremental) keeps each day's km
    PolicyRule(LOCATION_PINGS, "raw.location", "recorded_at", "delete", rederived=False),
    PolicyRule(LOCATION_WITHDRAWN, "raw.location", "recorded_at", "delete",
               condition=f"trim(person_id) not in ({LOCATION_GRANTED})", rederived=False),
    # trip points: no model reads them (staging leaves them out)
    PolicyRule(TRIP_POINTS, "raw.drive_log", "trip_date", "null", ("start_point", "end_point"), rederived=False),
    PolicyRule(KYC, "raw.kyc", "(select r.retention_from from " + KYC_RETENTION_FROM + " r where r.kyc_id = raw.kyc.kyc_id)",
               "delete"),
    PolicyRule(LANDING_FILES, "raw.file_manifest", "as_of", "delete_files", ("archive_path",)),
)

# ``policy|relation`` of the shorter rules whose changes no dbt table re-derives (their ``ops.erasure_audit`` rows).
NOT_REDERIVED: tuple[str, ...] = tuple(sorted({f"{r.policy.name}|{r.relation}" for r in SHORTER_RULES
                                               if not r.rederived}))
# SQL: an ``ops.erasure_audit`` row a build must follow (a subject's erasure, or a rule some dbt table re-derives)
REDERIVED_AUDIT = "not list_contains(?::varchar[], coalesce(policy, '') || '|' || table_name)"


@dataclass(frozen=True)
class GateLimits:
    """Limits of the gates (RULES.md §6)."""

    freshness_days: int = 8              # CRM and contracts loaded within this many days before as-of
    freshness_sources: tuple[str, ...] = ("crm_persons", "contracts")
    earliest_relationship_end: date = date(1990, 1, 1)
    max_share: float = 0.02              # persons due in one run, share of all persons ...
    max_subjects: int = 500              # ... and absolute (never below one subject)


LIMITS = GateLimits()

# Contract states that protect a person (as customer or driver) from time-based erasure.
PROTECTING_CONTRACT_STATES = ("ordered", "active")

GATES: tuple[tuple[str, str], ...] = (
    ("sources_fresh", "CRM and contract sources loaded within the freshness window; their latest file not rejected"),
    ("relationship_end_plausible", "no relationship_end after as-of, before relationship_start or before "
                                   f"{LIMITS.earliest_relationship_end.year}"),
    ("contract_persons_exist", "every contract's customer and driver person exists in the CRM"),
    ("no_protected_subject_due", "no subject in the plan has an ordered/active contract (time-based) or a legal hold"),
    ("volume_within_limit", f"subjects due stay within {LIMITS.max_share * 100:g} % of persons and "
                            f"{LIMITS.max_subjects}, unless a steward approved the plan"),
    ("previous_verification_passed", "the previous deletion's post-deletion verification passed"),
)
GATE_NAMES: tuple[str, ...] = tuple(name for name, _ in GATES)
