"""Great Expectations suites: they find bad rows of the new batch, and no value of a bad row leaves — a marker
planted in bad rows is found in no results file, Data Docs page, report or log."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from pathlib import Path

from tests.support import AS_OF, SAMPLES

MARKER = "ZQXMARKER4711"


def _bad_fuel(marker: str) -> list[dict]:
    row = {"refueled_at": "2026-11-20T07:41:09+02:00", "phone": "+358507654321", "registration_number": "ABC-123",
           "product": "Diesel", "fuel_company": "Neste", "station_name": f"{marker} station", "city": "Vantaa",
           "liters": 48.2, "amount_eur": 89.9}
    # The same transaction id twice in one file (uniqueness), and a diesel purchase with kWh (cross-field rule).
    return [{**row, "transaction_id": f"T-{marker}"}, {**row, "transaction_id": f"T-{marker}"},
            {**row, "transaction_id": f"U-{marker}", "kwh": 12.0}]


def _all_text(root: Path) -> bytes:
    out = b""
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            out += gzip.decompress(data) if p.name.endswith(".gz") else data
    return out


def test_suites_flag_bad_rows_of_the_new_batch_and_no_value_leaves(landing: Landing, caplog):
    from dagster_project.quality.report import build_report
    from dagster_project.quality.runner import run_suites
    from dagster_project.settings import Settings

    shutil.copytree(SAMPLES, landing.root, dirs_exist_ok=True)
    landing.write_jsonl("fuel", "fuel_2026-11-21.jsonl", _bad_fuel(MARKER))
    crm = (SAMPLES / "crm_persons" / "persons_2026-11-20.csv").read_text(encoding="utf-8-sig").splitlines()
    header, first = crm[0], crm[1].split(",")
    first[2] = MARKER          # last name
    first[13], first[14], first[15] = "2020-01-01", "2019-01-01", "2026-11-21T10:00:00+02:00"   # end before start
    landing.write("crm_persons", "persons_2026-11-21.csv", header + "\n" + ",".join(first) + "\n")
    landing.load()
    caplog.set_level(logging.DEBUG)
    results = {r.suite: r for r in run_suites(landing.con, landing.home, "test-run-1", AS_OF)}
    landing.con.execute("checkpoint")
    assert results["source_fuel"].rows == 5
    assert "unique:transaction_id+_load_id" in results["source_fuel"].failed_rules
    assert "rule:litres_or_kwh" in results["source_fuel"].failed_rules
    assert "rule:relationship_end_after_start" in results["source_crm_persons"].failed_rules
    assert "rule:relationship_end_after_start" in results["retention_inputs"].failed_rules
    assert results["source_robinson"].success
    landing.con.close()
    report = build_report(Settings.resolve(str(landing.home), as_of=AS_OF))
    landing.con = __import__("duckdb").connect(str(landing.home / "warehouse.duckdb"))
    page = report.read_text()
    assert "source_fuel" in page and "retention_inputs" in page and "litres_or_kwh" in page
    produced = _all_text(landing.home / "quality") + _all_text(landing.home / "reports")
    assert produced.count(MARKER.encode()) == 0
    assert caplog.text.count(MARKER) == 0
    assert len(list((landing.home / "quality").rglob("*.json"))) > 0


def test_repo_suites_match_the_declarations():
    """Every committed expectation has exactly the type and arguments the declarations give it (in order)."""
    from dagster_project.quality.runner import REPO_CONTEXT, _gxe
    from dagster_project.quality.suites import all_suites

    def canonical(type_: str, kwargs: dict) -> str:
        return json.dumps([type_, kwargs], sort_keys=True, default=str)

    suites = all_suites()
    stored_names = {p.stem for p in (REPO_CONTEXT / "gx" / "expectations").glob("*.json")}
    assert stored_names == set(suites)
    for name, suite in suites.items():
        stored = json.loads((REPO_CONTEXT / "gx" / "expectations" / f"{name}.json").read_text())
        declared = [canonical(c.type, dict(c.kwargs)) for c in (_gxe(e).configuration for e in suite.expectations)]
        committed = [canonical(e["type"], e["kwargs"]) for e in stored["expectations"]]
        assert committed == declared, name
