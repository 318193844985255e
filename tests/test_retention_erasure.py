"""Erasure reaches every layer and the file bytes; company facts stay anonymised; a crash leaves old or new state.
Identifiers are held in test memory only; assertions compare counts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.support import AS_OF
from tests.support.retention import Home, due_now, run_retention

pytestmark = pytest.mark.heavy(15)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

REPO = Path(__file__).resolve().parents[1]


def _identifiers(home: Home, person_id: str) -> set[str]:
    values = {person_id}
    for row in home.rows("select ssn, email, phone from raw.crm_persons where person_id = ?", [person_id]):
        values |= {v for v in row if v}
    values |= {r[0] for r in home.rows("select phone from staging.stg_crm__persons where person_id = ? "
                                       "and phone is not null", [person_id])}
    return values


def _kyc_values(home: Home, values: set[str]) -> set[str]:
    """The values among ``values`` that the legally kept KYC records hold."""
    return {v for (v,) in home.rows("select distinct unnest([person_id, ssn, full_name, document_number]) as v "
                                    "from raw.kyc") if v in values}


def _table_hits(home: Home, values: set[str], skip: tuple[str, ...] = ()) -> int:
    con = home.con(read_only=True)
    try:
        hits = 0
        for schema, table, column in con.execute(
                """select c.table_schema, c.table_name, c.column_name from information_schema.columns c
                   join information_schema.tables t using (table_catalog, table_schema, table_name)
                   where t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR'""").fetchall():
            if f"{schema}.{table}" in skip:
                continue
            hits += con.execute(f'select count(*) from "{schema}"."{table}" where "{column}" in '
                                f'(select unnest(?::varchar[]))', [sorted(values)]).fetchall()[0][0]
        return hits
    finally:
        con.close()


def _byte_hits(path: Path, values: set[str]) -> int:
    data = path.read_bytes()
    return sum(1 for v in values if v.encode() in data)


def _customer_with_fuel(home: Home) -> str:
    return home.rows("""select c.customer_person_id from raw.contracts_current c
                        join marts.fct_fuel_transactions f on f.driver_person_id = c.customer_person_id
                          or f.refueller_person_id = c.customer_person_id
                        where c.status = 'active' and c.customer_person_id is not null
                        group by 1 order by count(*) desc limit 1""")[0][0]


def _request(home: Home, person_id: str) -> None:
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import record_erasure_request

    with open_warehouse(home.settings) as con:
        record_erasure_request(con, person_id, "ticket 1")


def test_erasure_request_of_active_customer_keeps_fuel_facts_anonymised(home: Home):
    person = _customer_with_fuel(home)
    fuel_rows = home.scalar("select count(*) from marts.fct_fuel_transactions")
    raw_fuel = home.scalar("select count(*) from raw.fuel")
    linked = home.scalar("select count(*) from marts.fct_fuel_transactions where driver_person_id = ? "
                         "or refueller_person_id = ?", [person, person])
    assert linked > 0
    _request(home, person)
    outcome = run_retention(home)
    assert outcome.status == "applied" and outcome.erased_subjects >= 1 and outcome.verification == "passed"
    assert home.scalar("select count(*) from raw.crm_persons where person_id = ?", [person]) == 0
    assert home.scalar("select count(*) from marts.fct_fuel_transactions") == fuel_rows
    assert home.scalar("select count(*) from raw.fuel") == raw_fuel
    assert home.scalar("select count(*) from marts.fct_fuel_transactions where driver_person_id = ? "
                       "or refueller_person_id = ?", [person, person]) == 0
    assert home.scalar("select count(*) from marts.fct_fuel_transactions where driver_person_id is null and "
                       "refueller_person_id is null and registration_number is null") >= linked
    # The contract's money stays; its personal fields are gone.
    assert home.scalar("select count(*) from raw.contracts where customer_person_id = ?", [person]) == 0
    assert home.scalar("select count(*) from raw.contracts where customer_person_id is null and "
                       "customer_business_id is null and total_monthly is not null") > 0
    pending = home.scalar("select count(*) from ops.erasure_requests where executed_at is null")
    assert pending == 0
    # the register answers the request on the as-of day of the run that executed it (the run's clock), not on the
    # wall-clock day the run happened to execute on
    from dagster_project.retention.register import list_requests

    [request] = [r for r in list_requests(home.settings, lambda p: p) if r.kind == "erasure"]
    assert request.state == "answered" and request.answered_on == AS_OF != date.today()
    assert request.outcome == "executed by run test-run-0001"


def test_after_erasure_no_identifier_in_any_table_nor_in_the_file_bytes(home: Home):
    person = _customer_with_fuel(home)
    due = sorted(due_now(home))
    values = _identifiers(home, person).union(*(_identifiers(home, p) for p in due))
    hits_before, bytes_before = _table_hits(home, values), _byte_hits(home.warehouse, values)
    assert hits_before > 0 and bytes_before > 0
    _request(home, person)
    outcome = run_retention(home)
    assert (outcome.blocked_by, outcome.verification) == ([], "passed")
    # KYC records are kept for the AML Act (retain_legal): their values may stay there, and only there
    kept = _kyc_values(home, values)
    hits_after, bytes_after = _table_hits(home, values, skip=("raw.kyc",)), _byte_hits(home.warehouse, values - kept)
    assert hits_after == 0
    assert bytes_after == 0
    assert not home.warehouse.with_name(home.warehouse.name + ".wal").exists()
    assert not list(home.path.glob(".retention-*"))
    audit = home.rows("select count(distinct person_pseudonym), count(distinct table_name) from ops.erasure_audit "
                      "where person_pseudonym is not null")[0]
    assert audit[0] == 1 + len(due) and audit[1] >= 5
    archive = [p for p in (home.path / "archive").rglob("*") if p.is_file()]
    archive_hits = sum(_archive_hits(p, values - kept) for p in archive)
    assert archive_hits == 0


def _archive_hits(path: Path, values: set[str]) -> int:
    import gzip

    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return sum(1 for v in values if v.encode() in data)


CRASH_SCRIPT = """
import sys
from dagster_project.settings import Settings
from dagster_project.retention.erasure import run_retention
run_retention(Settings.resolve(sys.argv[1], as_of=sys.argv[2]), "crash-run-0001")
"""


@pytest.mark.parametrize("point", ["before_commit", "after_commit", "after_copy", "after_swap"])
def test_crash_inside_erasure_leaves_old_or_new_state_never_a_mix(home: Home, point: str):
    person = _customer_with_fuel(home)
    _request(home, person)
    env = {**os.environ, "FLEETDW_RETENTION_CRASH_AT": point}
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(home.path), AS_OF.isoformat()], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 71, proc.stderr[-500:]
    crm = home.scalar("select count(*) from raw.crm_persons where person_id = ?", [person])
    history = home.scalar("select count(*) from history.crm_persons_history where person_id = ?", [person])
    fuel = home.scalar("select count(*) from marts.fct_fuel_transactions where driver_person_id = ? or "
                       "refueller_person_id = ?", [person, person])
    audit = home.scalar("select count(*) from ops.erasure_audit")
    old = crm > 0 and history > 0 and fuel > 0 and audit == 0
    new = crm == 0 and history == 0 and fuel == 0 and audit > 0
    assert old != new and (new if point == "after_swap" else old)
    # The next run finishes the job (or does it again) and the result verifies.
    outcome = run_retention(home)
    assert home.scalar("select count(*) from raw.crm_persons where person_id = ?", [person]) == 0
    assert outcome.verification in ("passed", "not_run")
    assert not list(home.path.glob(".retention-*"))
    assert not list((home.path / "archive").rglob("*.erasing-*"))
