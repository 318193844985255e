"""The run summary of ``fleetdw run``: counts, file names and reasons only, never a row's values."""

from __future__ import annotations

from typing import Any

from dagster_project.resources import open_warehouse
from dagster_project.settings import Settings
from ingest.contracts import SOURCE_NAMES


def ingest_summary(settings: Settings, run_id: str) -> dict[str, Any]:
    with open_warehouse(settings, read_only=True) as con:
        loaded = dict(con.execute(
            "select source, sum(rows_loaded) from raw.file_manifest where run_id = ? and status = 'loaded' "
            "group by source", [run_id]).fetchall())
        quarantined = dict(con.execute(
            "select source, sum(rows_quarantined) from raw.file_manifest where run_id = ? group by source",
            [run_id]).fetchall())
        reasons = con.execute(
            "select q.source, r, count(*) from raw.quarantine q join raw.file_manifest m using (load_id), "
            "unnest(string_split(q.reason, ';')) as t(r) where m.run_id = ? group by all order by 1, 3 desc",
            [run_id]).fetchall()
        rejected = con.execute(
            "select source, file_name, reason from raw.file_manifest where run_id = ? and status = 'rejected' "
            "order by load_id", [run_id]).fetchall()
        duplicates = con.execute(
            "select count(*) from raw.duplicate_deliveries where run_id = ?", [run_id]).fetchall()[0][0]
        drift = con.execute(
            "select source, file_name, drift_columns from raw.file_manifest where run_id = ? "
            "and len(drift_columns) > 0 order by load_id", [run_id]).fetchall()
        files_loaded = dict(con.execute(
            "select source, count(*) from raw.file_manifest where run_id = ? and status = 'loaded' group by source",
            [run_id]).fetchall())
    by_reason: dict[str, dict[str, int]] = {}
    for source, reason, n in reasons:
        by_reason.setdefault(source, {})[reason] = n
    return {
        "ingested": {s: int(loaded.get(s) or 0) for s in SOURCE_NAMES},
        "files_loaded": {s: int(files_loaded.get(s) or 0) for s in SOURCE_NAMES},
        "rejected_rows": {s: int(quarantined.get(s) or 0) for s in SOURCE_NAMES},
        "rejected_row_reasons": by_reason,
        "rejected_files": [{"source": s, "file": f, "reason": r} for s, f, r in rejected],
        "duplicate_files": int(duplicates),
        "schema_drift": [{"source": s, "file": f, "columns": list(c)} for s, f, c in drift],
    }

