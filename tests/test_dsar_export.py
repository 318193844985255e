"""Access requests: one export holds the person's rows from every source they appear in, with purposes and legal
bases; the export is logged by pseudonym without its content; an unknown person is a one-line error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import AS_OF
from tests.support.retention import Home

REPO = Path(__file__).resolve().parents[1]


def _richest_person(home: Home) -> str:
    return home.rows("""
        select p.person_id,
               (select count(*) from raw.contracts c where p.person_id in (c.customer_person_id, c.driver_person_id))
             + (select count(*) from raw.consents c where c.person_id = p.person_id)
             + (select count(*) from raw.web w where w.user_id = p.person_id)
             + (select count(*) from marts.fct_fuel_transactions f where p.person_id in (f.driver_person_id,
                                                                                         f.refueller_person_id))
             + (select count(*) from marts.fct_washes w where p.person_id in (w.driver_person_id, w.washer_person_id))
               as n
        from raw.crm_persons_current p order by n desc limit 1""")[0][0]


def _sources_of(home: Home, person: str) -> set[str]:
    checks = {
        "crm_persons": "select count(*) from raw.crm_persons where person_id = ?",
        "contracts": "select count(*) from raw.contracts where customer_person_id = ? or driver_person_id = ?",
        "consents": "select count(*) from raw.consents where person_id = ?",
        "web": "select count(*) from raw.web where user_id = ?",
        "fuel": "select count(*) from marts.fct_fuel_transactions where driver_person_id = ? or refueller_person_id = ?",
        "wash": "select count(*) from marts.fct_washes where driver_person_id = ? or washer_person_id = ?",
    }
    return {s for s, sql in checks.items() if home.scalar(sql, [person] * sql.count("?"))}


def test_dsar_export_contains_rows_from_every_source_the_person_appears_in(home: Home, tmp_path: Path):
    from dagster_project.retention.dsar import export_person

    person = _richest_person(home)
    expected = _sources_of(home, person)
    assert {"crm_persons", "contracts", "fuel"} <= expected
    out = tmp_path / "dsar.json"
    stats = export_person(home.settings, person, out)
    doc = json.loads(out.read_text())
    assert expected <= set(doc["sources"])
    assert stats["rows"] == sum(len(v) for v in doc["data"].values())
    layers = {rel.split(".")[0] for rel in doc["data"]}
    assert {"raw", "history", "marts"} <= layers
    assert doc["controller_statement"]["purposes"] and all(p["legal_basis"] for p in doc["controller_statement"]["purposes"])
    assert home.scalar("select count(*) from ops.dsar_exports") == 1
    log_row = home.rows("select * from ops.dsar_exports")[0]
    assert person not in {str(v) for v in log_row}


def test_dsar_of_unknown_person_is_a_one_line_error(home: Home, tmp_path: Path):
    env = {**os.environ, "FLEETDW_HOME": str(home.path), "FLEETDW_AS_OF": AS_OF.isoformat()}
    proc = subprocess.run([sys.executable, "-m", "dagster_project.cli", "dsar", "export", "P999999", "--out",
                           str(tmp_path / "x.json")], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "unknown person" in proc.stderr


def test_dsar_cells_a_spreadsheet_would_evaluate_are_text_and_no_file_is_replaced_without_force(home: Home,
                                                                                                tmp_path: Path):
    import pytest

    from dagster_project.retention.dsar import export_person

    person = _richest_person(home)
    con = home.con()   # a newer CRM version whose first name is a formula
    con.execute("""insert into raw.crm_persons select * replace ('=HYPERLINK("http://x")' as first_name,
                   updated_at + interval 1 day as updated_at) from raw.crm_persons_current where person_id = ?""",
                [person])
    con.close()
    out = tmp_path / "dsar.json"
    out.write_text("{}")
    with pytest.raises(FileExistsError):
        export_person(home.settings, person, out)
    assert out.read_text() == "{}"
    export_person(home.settings, person, out, force=True)
    names = [row["first_name"] for row in json.loads(out.read_text())["data"]["raw.crm_persons"]]
    assert "'=HYPERLINK(\"http://x\")" in names and not any(str(n).startswith("=") for n in names)
