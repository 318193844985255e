"""Each gate of RULES.md §6 blocks on a crafted bad input, and then nothing is deleted; the boundary of the
10-year period; legal holds and active driver contracts protect. Counts only in assertions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support import AS_OF
from tests.support.retention import Home, active_drivers, cutoff, due_now, persons_without_contracts, run_retention, set_relationship_end

pytestmark = pytest.mark.heavy(10)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


def _persons(home: Home) -> int:
    return home.scalar("select count(distinct person_id) from raw.crm_persons")


def test_crm_export_with_40_percent_ended_in_1900_blocks_and_deletes_nothing(home: Home):
    victims = [r[0] for r in home.rows("select person_id from raw.crm_persons_current order by person_id")][::5]
    victims += [r[0] for r in home.rows("select person_id from raw.crm_persons_current order by person_id")][1::5]
    set_relationship_end(home, victims, date(1900, 1, 1))
    before_persons = _persons(home)
    outcome = run_retention(home)
    assert outcome.status == "blocked"
    assert "relationship_end_plausible" in outcome.blocked_by and "volume_within_limit" in outcome.blocked_by
    assert _persons(home) == before_persons
    assert home.scalar("select count(*) from ops.erasure_audit") == 0
    assert home.scalar("select count(*) from ops.retention_runs where status = 'blocked'") == 1


def test_stale_crm_load_blocks(home: Home):
    from dagster_project.retention.erasure import run_retention as run
    from dagster_project.settings import Settings

    outcome = run(Settings.resolve(str(home.path), as_of=AS_OF + timedelta(days=30)), "test-run-stale")
    assert outcome.status == "blocked" and "sources_fresh" in outcome.blocked_by


def test_rejected_latest_contracts_file_blocks(home: Home):
    con = home.con()
    con.execute("""insert into raw.file_manifest (load_id, source, file_name, content_hash, status, reason, as_of)
                   select max(load_id) + 1, 'contracts', 'broken.csv', 'x', 'rejected', 'not UTF-8 decodable', ?
                   from raw.file_manifest""", [AS_OF])
    con.close()
    outcome = run_retention(home)
    assert outcome.status == "blocked" and outcome.blocked_by == ["sources_fresh"]


def test_relationship_end_after_as_of_or_before_start_blocks(home: Home):
    a, b = persons_without_contracts(home, 2)
    set_relationship_end(home, [a], AS_OF + timedelta(days=3))
    set_relationship_end(home, [b], cutoff() - timedelta(days=30), start=cutoff())
    outcome = run_retention(home)
    assert outcome.blocked_by == ["relationship_end_plausible"]


def test_contract_with_unknown_driver_blocks(home: Home):
    con = home.con()
    con.execute("""insert into raw.contracts select * replace ('P999999' as driver_person_id,
                   updated_at + interval 1 day as updated_at) from raw.contracts_current order by contract_id limit 1""")
    con.close()
    outcome = run_retention(home)
    assert outcome.blocked_by == ["contract_persons_exist"]


def test_protected_subject_in_a_plan_fails_the_gate(home: Home):
    from dagster_project.retention.plan import compute_plan, gate_no_protected_subject

    driver, = active_drivers(home, 1)
    con = home.con()
    plan = compute_plan(con, AS_OF, home.path)
    plan.subjects[driver] = "retention_period"   # a plan that (wrongly) included a protected person
    gate = gate_no_protected_subject(con, plan)
    con.close()
    assert not gate.passed and gate.metadata["due_with_active_contract"] == 1


def test_volume_over_limit_blocks_until_the_exact_plan_is_approved(home: Home):
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import record_approval

    due = persons_without_contracts(home, 6)          # 6 of 150 = 4 % > 2 %
    set_relationship_end(home, due, cutoff() - timedelta(days=400))
    outcome = run_retention(home)
    assert outcome.blocked_by == ["volume_within_limit"]
    assert home.scalar("select count(*) from raw.crm_persons where person_id in (select unnest(?::varchar[]))",
                       [due]) > 0
    with open_warehouse(home.settings) as con:
        assert record_approval(con, outcome.plan_id, "steward")
    outcome = run_retention(home)
    assert outcome.status == "applied" and outcome.verification == "passed"
    assert home.scalar("select count(*) from raw.crm_persons where person_id in (select unnest(?::varchar[]))",
                       [due]) == 0


def test_failed_previous_verification_blocks(home: Home):
    con = home.con()
    from dagster_project.retention.control import ensure_control_tables
    ensure_control_tables(con)
    con.execute("insert into ops.verification_results values ('old', ?, now(), 1, 5, 40, 1, 0, 0, false)", [AS_OF])
    con.close()
    outcome = run_retention(home)
    assert outcome.blocked_by == ["previous_verification_passed"]


def test_boundary_ten_years_and_a_day_is_erased_ten_years_less_a_day_is_kept(home: Home):
    erased, kept = persons_without_contracts(home, 2)
    set_relationship_end(home, [erased], cutoff() - timedelta(days=1))
    set_relationship_end(home, [kept], cutoff() + timedelta(days=1))
    outcome = run_retention(home)
    assert outcome.status == "applied"
    remaining = home.rows("select person_id from raw.crm_persons where person_id in (?, ?) group by 1",
                          [erased, kept])
    assert [r[0] == kept for r in remaining] == [True]


def test_legal_hold_and_active_driver_contract_protect(home: Home):
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import record_hold

    held, = persons_without_contracts(home, 1)
    driver, = active_drivers(home, 1)
    set_relationship_end(home, [held, driver], cutoff() - timedelta(days=100))
    with open_warehouse(home.settings) as con:
        record_hold(con, held, "case 1")
    outcome = run_retention(home)
    assert outcome.status in ("applied", "nothing_due") and not outcome.blocked_by
    assert home.scalar("select count(distinct person_id) from raw.crm_persons where person_id in (?, ?)",
                       [held, driver]) == 2
    plan = home.rows("select protected from ops.retention_plans order by created_at desc limit 1")[0][0]
    assert '"legal_hold": 1' in plan and '"active_or_ordered_contract": 1' in plan


def test_the_plan_names_when_each_shorter_policy_is_due(home: Home):
    """``fleetdw retention plan`` lists each shorter policy with its period; a policy kept "until the next run" (a
    withdrawn location grant) reads "at the next run", not "after until the next run"."""
    from dagster_project.retention.policy import LOCATION_WITHDRAWN, RAW_IP
    from tests.support.cli import fleetdw

    out = fleetdw(home.path, "retention", "plan").stdout
    assert f"  {RAW_IP.what} after 30 days: " in out
    assert f"  {LOCATION_WITHDRAWN.what} at the next run: " in out
    assert "after until" not in out
