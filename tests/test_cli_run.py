"""The fleetdw command: run summary, one-line errors, and no personal value in output or Dagster storage."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import SAMPLES

pytestmark = pytest.mark.heavy(40)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

REPO = Path(__file__).resolve().parents[1]


def fleetdw(*args: str, home: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("FLEETDW_HOME", None)
    if home is not None:
        full_env["FLEETDW_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "dagster_project.cli", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=300)


def personal_values() -> set[str]:
    """Every direct identifier in the sample files (names, contacts, ids, plates, IPs, addresses)."""
    values: set[str] = set()
    pii = {"first_name", "last_name", "ssn", "email", "phone", "street_address", "registration_number", "vin",
           "ip_address", "cookie_id", "user_agent", "notes", "search_query"}
    for path in SAMPLES.rglob("*"):
        if path.suffix == ".csv":
            delim = ";" if "contracts" in path.parts else ","
            for row in csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=delim):
                values |= {v for k, v in row.items() if k in pii and v and len(v) > 4}
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
            for line in text.splitlines():
                values |= {str(v) for k, v in json.loads(line).items() if k in pii and v and len(str(v)) > 4}
    return values


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli") / "home"
    shutil.copytree(SAMPLES, home / "landing")
    # The same fuel content delivered again under another name: a duplicate, loads nothing.
    shutil.copy(SAMPLES / "fuel" / "fuel_2026-11-20.jsonl", home / "landing" / "fuel" / "fuel_2026-11-20_again.jsonl")
    result = fleetdw("run", "--json", "--as-of", "2026-11-22", home=home)
    return home, result


def test_run_json_reports_what_was_loaded(first_run):
    _, result = first_run
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["as_of"] == "2026-11-22" and summary["status"] == "success"
    assert summary["ingested"] == {"crm_persons": 4, "crm_companies": 2, "contracts": 3, "fuel": 2, "wash": 2,
                                   "web": 4, "consents": 6, "robinson": 2, "drive_log": 3, "location": 2,
                                   "kyc": 3}
    assert summary["rejected_rows"]["fuel"] == 1
    # ping L000000003 of the samples has no location grant in force (RULES.md §2)
    assert summary["withheld_rows"] == {"location": 1}
    assert summary["rejected_files"] == [] and summary["duplicate_files"] == 1


def test_run_builds_the_warehouse_and_reports_dbt_tests(first_run):
    home, result = first_run
    summary = json.loads(result.stdout)
    assert summary["models_built"] >= 25
    assert summary["checks"]["passed"] > 100 and summary["checks"]["failed"] == 0
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.fct_fuel_transactions").fetchall()[0][0] == 2
    con.close()


def test_run_is_recorded_in_the_persistent_dagster_instance(first_run):
    home, result = first_run
    import dagster as dg

    run_id = json.loads(result.stdout)["run_id"]
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        # A retention gate that blocks is a blocking asset check: Dagster marks that run failed, fleetdw reports it
        # as a finding (the summary's status stays "success").
        assert run is not None and run.job_name == "fleetdw_pipeline"
        assert run.tags["fleetdw/as_of"] == "2026-11-22"


def test_dbt_console_text_reaches_no_captured_output_of_a_step(first_run):
    """dagster-dbt echoes each dbt event's text on stdout, which Dagster keeps as the step's captured output under
    the home (a failing model's message can quote a value): fleetdw's dbt steps leave none of it there."""
    home, _ = first_run
    captured = [p for p in (home / "dagster").rglob("*") if p.is_file() and p.parent.name == "compute_logs"]
    assert captured, "Dagster captured no step output at all: nothing was checked"
    text = b"".join(p.read_bytes() for p in captured)
    assert b"Running with dbt" not in text and b"OK created" not in text and b"PASS " not in text


def test_human_summary_shows_counts_reasons_and_next_steps(first_run):
    home, result = first_run
    text = _human_summary(home, json.loads(result.stdout))
    assert "range:liters (1)" in text and "Duplicate files skipped: 1" in text
    assert "Withheld (no consent in force, stored nowhere): location 1" in text
    assert "dagster dev" in text and "models built" in text


def _human_summary(home: Path, summary: dict) -> str:
    from rich.console import Console

    from dagster_project.cli import console
    from dagster_project.settings import Settings

    capture = Console(width=200, record=True, file=open(os.devnull, "w"))
    original, console.out_console = console.out_console, capture
    try:
        console.print_summary(summary, Settings.resolve(home=str(home), as_of="2026-11-22"), demo=True)
    finally:
        console.out_console = original
    return capture.export_text()


def test_no_personal_value_in_cli_output_or_dagster_storage(first_run):
    home, result = first_run
    human = _human_summary(home, json.loads(result.stdout))
    values = personal_values()
    n_values = len(values)  # counts only in assertions: pytest would print the values themselves
    assert n_values > 15
    outputs = result.stdout + result.stderr + human
    leaked_output = sum(v in outputs for v in values)
    stored = b"".join(p.read_bytes() for p in (home / "dagster").rglob("*") if p.is_file())
    n_stored = len(stored)
    assert n_stored > 0 and b"range:liters" in stored  # the event log is searchable: metadata is there
    leaked_storage = sum(v.encode() in stored for v in values)
    assert leaked_output == 0, "personal values in CLI output"
    assert leaked_storage == 0, "personal values in Dagster storage"


def test_unknown_landing_directory_is_a_one_line_error(tmp_path):
    result = fleetdw("run", "--landing", str(tmp_path / "nope"), home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "landing directory" in result.stderr and "Traceback" not in result.stderr


def test_bad_as_of_is_a_one_line_error(tmp_path):
    result = fleetdw("run", "--as-of", "22.11.2026", home=tmp_path)
    assert result.returncode == 2 and "YYYY-MM-DD" in result.stderr and "Traceback" not in result.stderr


def test_locked_warehouse_is_a_one_line_error(tmp_path):
    (tmp_path / "landing").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)"),
        str(tmp_path / "warehouse.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = fleetdw("run", home=tmp_path)
    finally:
        holder.kill()
    assert result.returncode == 2
    assert "locked by another process" in result.stderr and "Traceback" not in result.stderr


def test_help_works_everywhere():
    for args in (["--help"], ["run", "--help"], ["generate", "--help"], ["demo", "--help"]):
        result = fleetdw(*args)
        assert result.returncode == 0 and "Usage" in result.stdout


def test_files_with_personal_data_are_created_owner_only(first_run):
    home, result = first_run
    assert result.returncode == 0
    files = [home / "warehouse.duckdb", *(home / "archive").rglob("*"), *(home / "dagster").rglob("*")]
    key = home / "secrets" / "pseudonym.key"
    files += [key] if key.exists() else []
    readable_by_others = [p for p in files if p.exists() and p.stat().st_mode & 0o077]
    assert len([p for p in files if p.is_file()]) > 10
    assert readable_by_others == []
