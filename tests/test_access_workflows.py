"""Accountability and the stewards' workflows (RULES.md §7, §9; CLI.md): the audit log of every command that takes
personal data out or records a request, the request register with due and overdue dates, consent captured by
customer service as a landing delivery, and the resolution of manual reviews. Assertions name ids and counts; the
audit log is checked against every personal value of the input without printing any."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest

from dagster_project.retention.register import due_date
from tests.support import AS_OF
from tests.support.cli import fleetdw
from tests.support.dbt import read_rows

pytestmark = pytest.mark.heavy(15)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


@pytest.fixture(scope="module")
def home(day_one: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("access") / "home"
    shutil.copytree(day_one / "home", dst)
    return dst


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    return read_rows(home / "warehouse.duckdb", sql, params)


def audit_lines(home: Path, *args: str) -> list[dict]:
    return [json.loads(line) for line in fleetdw(home, "audit", "--json", *args).stdout.splitlines()]


@pytest.fixture(scope="module")
def operated(home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every audited command once, by two actors."""
    out = tmp_path_factory.mktemp("exports")
    persons = [p for (p,) in query(home, "select person_id from raw.crm_persons_current order by person_id limit 3")]
    reviewed = query(home, "select person_id from privacy.profiling_subjects where is_profiled order by 1 limit 1")[0][0]
    steward = ("--actor", "steward.anna")
    fleetdw(home, "segments", "export", "all_contacts", "--channel", "email", "--out", str(out / "seg.csv"))
    fleetdw(home, "dsar", "request", persons[0], *steward)
    fleetdw(home, "dsar", "export", persons[0], "--out", str(out / "dsar.json"), *steward)
    fleetdw(home, "dsar", "request", persons[1], *steward)
    fleetdw(home, "erase", persons[2], "--reason", "ticket 7", *steward)
    fleetdw(home, "hold", persons[1], "--reason", "case 9", *steward)
    fleetdw(home, "release", persons[1], *steward)
    review = fleetdw(home, "review", "request", reviewed).stdout.split()[2]
    fleetdw(home, "review", "list")
    fleetdw(home, "review", "resolve", review, "--outcome", "upheld", *steward)
    plan = json.loads(fleetdw(home, "retention", "plan", "--json", "--show-subjects", *steward).stdout)
    fleetdw(home, "retention", "approve", plan["plan_id"], *steward)
    fleetdw(home, "publish", "--out", str(out / "analyst.duckdb"))
    consent = sorted(r["person_id"] for r in csv.DictReader(open(out / "seg.csv")))[0]   # on the email export
    fleetdw(home, "consent", "record", consent, "--purpose", "direct_marketing", "--channel", "email",
            "--action", "withdraw")
    return {"persons": persons, "review": review, "plan": plan["plan_id"], "consent": consent, "out": out}


def test_every_audited_command_leaves_one_line_with_actor_parameters_and_rows(home: Path, operated: dict):
    lines = audit_lines(home)
    commands = [line["command"] for line in lines]
    assert commands == ["segments export", "dsar request", "dsar export", "dsar request", "erase", "hold", "release",
                        "review request", "review list", "review resolve", "retention plan --show-subjects",
                        "retention approve", "publish", "consent record"]
    by = {line["command"]: line for line in lines}
    assert by["segments export"]["actor"] == "marketing.tester"          # the OS user
    assert by["dsar export"]["actor"] == "steward.anna"                   # --actor
    assert by["segments export"]["parameters"]["segment"] == "all_contacts"
    assert by["segments export"]["rows_out"] == len(list(csv.DictReader(open(operated["out"] / "seg.csv"))))
    assert by["dsar export"]["rows_out"] > 0 and by["dsar export"]["person_pseudonym"]
    assert by["retention approve"]["parameters"]["plan_id"] == operated["plan"]
    assert by["review resolve"]["parameters"] == {"outcome": "upheld", "review_id": operated["review"]}
    assert by["publish"]["rows_out"] > 0
    assert all(line["at"] and line["kind"] in ("data_out", "request") for line in lines)


def test_the_audit_log_holds_no_personal_value_and_is_owner_only(home: Path, operated: dict):
    path = home / "audit" / "audit.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    values = {v for row in query(home, "select person_id, ssn, email, phone, first_name || ' ' || last_name, "
                                       "street_address from raw.crm_persons") for v in row if v and len(v) >= 5}
    assert len(values) > 100
    assert sum(1 for v in values if v in text) == 0
    # a person appears by pseudonym: the requester of the erasure is in the log, their id is not
    assert operated["persons"][2] not in text and text.count('"person_pseudonym": "') >= 8


def test_audit_since_filters_by_date(home: Path, operated: dict):
    assert audit_lines(home, "--since", (date.today() + timedelta(days=1)).isoformat()) == []
    assert len(audit_lines(home, "--since", date.today().isoformat())) == 14
    assert "dsar export" in fleetdw(home, "audit").stdout


def test_an_audit_parameter_outside_the_allow_list_is_refused(home: Path):
    from dagster_project.privacy.audit_log import record
    from dagster_project.settings import Settings

    with pytest.raises(ValueError):
        record(Settings.resolve(str(home), as_of=AS_OF), "erase", email="x@example.fi")


@pytest.mark.parametrize("received, due", [(date(2026, 1, 31), date(2026, 2, 28)), (date(2028, 1, 31), date(2028, 2, 29)),
                                           (date(2026, 12, 15), date(2027, 1, 15)), (date(2026, 3, 31), date(2026, 4, 30))])
def test_an_answer_is_due_the_same_day_of_the_next_month(received: date, due: date):
    assert due_date(received) == due


def test_the_register_lists_open_answered_and_overdue_requests(home: Path, operated: dict):
    listed = [json.loads(line) for line in fleetdw(home, "dsar", "list", "--json").stdout.splitlines()]
    access = [r for r in listed if r["kind"] == "access"]
    assert sorted(r["state"] for r in access) == ["answered", "open"]
    assert all(r["received_on"] == AS_OF.isoformat() and r["due_on"] == due_date(AS_OF).isoformat() for r in access)
    erasure = [r for r in listed if r["kind"] == "erasure"]
    assert len(erasure) == 1 and erasure[0]["state"] == "open" and "next run" in erasure[0]["outcome"]
    # recorded with --as-of AS_OF, the request counts from 00:00 in Helsinki that day (21:00 or 22:00 UTC the day
    # before): it was received on AS_OF, the day in Finland
    assert erasure[0]["received_on"] == AS_OF.isoformat() and erasure[0]["due_on"] == due_date(AS_OF).isoformat()
    assert erasure[0]["request_id"].startswith(f"E{AS_OF:%Y%m%d}-")
    assert listed[-1]["state"] == "answered"                      # open ones first
    later = (due_date(AS_OF) + timedelta(days=1)).isoformat()
    overdue = [json.loads(line) for line in fleetdw(home, "dsar", "list", "--json", "--as-of", later).stdout.splitlines()]
    assert [r["state"] for r in overdue][:2] == ["overdue", "overdue"] and overdue[-1]["state"] == "answered"
    text = fleetdw(home, "dsar", "list").stdout
    assert not any(p in text for p in operated["persons"])


def test_a_resolved_review_keeps_its_outcome_and_cannot_be_resolved_again(home: Path, operated: dict):
    closed = [json.loads(line) for line in fleetdw(home, "review", "list", "--all", "--json").stdout.splitlines()]
    mine = [r for r in closed if r["request_id"] == operated["review"]]
    assert mine and mine[0]["outcome"] == "upheld" and mine[0]["resolved_at"] and mine[0]["status"] == "closed"
    again = fleetdw(home, "review", "resolve", operated["review"], "--outcome", "changed", check=False)
    assert again.returncode == 2 and "already" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    unknown = fleetdw(home, "review", "resolve", "nosuchreview", "--outcome", "changed", check=False)
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [("--purpose", "newsletter", "--channel", "email", "--action", "grant"),
                                  ("--purpose", "direct_marketing", "--channel", "fax", "--action", "grant"),
                                  ("--purpose", "direct_marketing", "--channel", "email", "--action", "maybe"),
                                  ("--purpose", "profiling", "--channel", "email", "--action", "object")])
def test_an_invalid_consent_is_a_one_line_error_and_writes_nothing(home: Path, operated: dict, args):
    before = sorted((home / "landing" / "consents").glob("*"))
    res = fleetdw(home, "consent", "record", operated["consent"], *args, check=False)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert sorted((home / "landing" / "consents").glob("*")) == before


def test_a_consent_for_an_unknown_person_is_a_one_line_error(home: Path, operated: dict):
    res = fleetdw(home, "consent", "record", "P999999999", "--purpose", "direct_marketing", "--channel", "email",
                  "--action", "grant", check=False)
    assert res.returncode == 2 and "P999999999" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_a_recorded_withdrawal_removes_the_person_from_the_next_export(home: Path, operated: dict):
    person = operated["consent"]
    files = sorted((home / "landing" / "consents").glob("consent_record_*.csv"))
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    row, = csv.DictReader(open(files[0]))
    assert (row["person_id"], row["purpose"], row["channel"], row["action"]) == (person, "direct_marketing", "email",
                                                                                   "withdraw")
    before = {r["person_id"] for r in csv.DictReader(open(operated["out"] / "seg.csv"))}
    assert person in before
    run = json.loads(fleetdw(home, "run", "--json").stdout.splitlines()[0])
    assert run["status"] == "success" and run["ingested"]["consents"] == 1
    out = operated["out"] / "seg_after.csv"
    fleetdw(home, "segments", "export", "all_contacts", "--channel", "email", "--out", str(out))
    after = {r["person_id"] for r in csv.DictReader(open(out))}
    assert person not in after and len(before - after) >= 1
