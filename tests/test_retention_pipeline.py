"""The whole pipeline with a CRM export that would make deletion unsafe: the gate blocks, nothing is deleted, the
marts are still built and the run reports success with the blocking gates named."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import AS_OF
from tests.support.retention import Home

pytestmark = pytest.mark.heavy(30)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

REPO = Path(__file__).resolve().parents[1]


def _bad_crm_export(home: Home) -> str:
    """A delta where 40 % of persons ended their relationship on 1900-01-01."""
    con = home.con(read_only=True)
    cur = con.execute("select * exclude (_load_id, _file, _line, _loaded_at) from raw.crm_persons_current "
                      "order by person_id")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    con.close()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(names)
    for i, row in enumerate(rows):
        rec = dict(zip(names, row))
        if i % 5 in (0, 1):
            rec["relationship_end"] = "1900-01-01"
        rec["updated_at"] = "2026-11-22T06:00:00+02:00"
        w.writerow(["" if rec[n] is None else (rec[n].isoformat() if hasattr(rec[n], "isoformat") else rec[n])
                    for n in names])
    return out.getvalue()


def test_blocked_gate_deletes_nothing_builds_marts_and_the_run_succeeds(home: Home):
    folder = home.path / "landing" / "crm_persons"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "persons_2026-11-22.csv").write_text(_bad_crm_export(home), encoding="utf-8")
    persons = home.scalar("select count(distinct person_id) from raw.crm_persons")
    env = {**os.environ, "FLEETDW_HOME": str(home.path)}
    proc = subprocess.run([sys.executable, "-m", "dagster_project.cli", "run", "--json", "--as-of",
                           AS_OF.isoformat()], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-1500:]
    summary = json.loads(proc.stdout)
    assert summary["status"] == "success"
    assert summary["retention"]["status"] == "blocked"
    assert "relationship_end_plausible" in summary["retention"]["blocked_by"]
    assert summary["retention"]["verification"] == "not_run"
    # a blocked gate is a finding for stewards, reported in the summary: no Dagster error or stack trace on stderr
    assert "Traceback" not in proc.stderr and "Stack Trace" not in proc.stderr and "ERROR" not in proc.stderr
    assert summary["ingested"]["crm_persons"] == persons
    assert summary["quality"]["suites"] == 12  # one per source (11) and the retention inputs
    assert home.scalar("select count(distinct person_id) from raw.crm_persons") == persons
    assert home.scalar("select count(*) from ops.erasure_audit") == 0
    assert home.scalar("select count(*) from marts.dim_contract") > 0
    gates = home.rows("select gates from ops.retention_plans order by created_at desc limit 1")[0][0]
    assert json.loads(gates)["relationship_end_plausible"]["end_before_1990"] > 0
