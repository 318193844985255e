"""The stewards' report: one HTML page with every suite's latest result, the retention gates of the last plan,
the last plans and retention runs, and post-deletion verifications. Counts and rule names only: the page is
built from ``ops`` tables that hold no personal value, and GE's own Data Docs are rebuilt next to it (their
results were produced with a result format that carries no unexpected value)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from dagster_project.warehouse import open_warehouse
from dagster_project.retention.policy import GATES, POLICIES
from dagster_project.settings import Settings

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}.ok{color:#060}.bad{color:#b00;
font-weight:bold}h2{margin-top:1.5em}"""


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else html.escape(str(c))}</td>" for c in r)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body or '<tr><td colspan=99>none yet</td></tr>'}</table>"


class _Raw(str):
    """Markup built here from fixed words (pass/FAIL), not from data."""


def _state(ok: bool) -> _Raw:
    return _Raw('<span class="ok">pass</span>' if ok else '<span class="bad">FAIL</span>')


def _query(con, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    except Exception:  # noqa: BLE001 - table not created yet
        return []


def build_report(settings: Settings) -> Path:
    with open_warehouse(settings, read_only=True) as con:
        suites = _query(con, """select suite, run_id, as_of, rows, expectations, failed, failed_rules, success
                                from ops.quality_results qualify row_number() over (partition by suite
                                order by checked_at desc) = 1 order by suite""")
        plans = _query(con, """select plan_id, as_of, created_at, subjects, persons, by_reason, protected, gates,
                               shorter_policies, blocked_by, status from ops.retention_plans
                               order by created_at desc limit 10""")
        runs = _query(con, """select run_id, as_of, status, blocked_by, erased_subjects, rows_changed, files_changed,
                              verification, finished_at from ops.retention_runs order by finished_at desc limit 10""")
        checks = _query(con, """select run_id, checked_at, subjects, identifiers, tables_scanned, table_hits,
                                file_hits, archive_hits, passed from ops.verification_results
                                order by checked_at desc limit 10""")
        approvals = _query(con, "select plan_id, approved_at from ops.retention_approvals order by approved_at desc")
    parts = [f"<h1>fleetdw data quality and retention</h1><p>Warehouse as of {html.escape(str(settings.as_of))}. "
             "Counts and rule names only; this page never shows a personal value.</p>"]
    parts.append("<h2>Expectation suites (latest run of each)</h2>" + _table(
        ["suite", "state", "rows validated", "expectations", "failed", "failed rules", "run", "as of"],
        [[s, _state(ok), rows, n, failed, ", ".join(rules or []), run, as_of]
         for s, run, as_of, rows, n, failed, rules, ok in suites]))
    if plans:
        last = plans[0]
        gates = json.loads(last[7]) if last[7] else {}
        descriptions = dict(GATES)
        parts.append(f"<h2>Retention gates of the last plan ({html.escape(last[0])}, as of {last[1]})</h2>" + _table(
            ["gate", "state", "what it checks", "counts"],
            [[g, _state(v.get("passed", False)), descriptions.get(g, ""),
              ", ".join(f"{k}={x}" for k, x in v.items() if k != "passed")] for g, v in gates.items()]))
        parts.append("<h2>Last plans</h2>" + _table(
            ["plan", "as of", "status", "subjects due", "persons", "by reason", "kept (protected)",
             "shorter policies", "blocked by"],
            [[p[0], p[1], p[10], p[3], p[4], p[5], p[6], p[8], ", ".join(p[9] or [])] for p in plans]))
    else:
        parts.append("<h2>Retention gates</h2><p>No plan yet: run <code>fleetdw run</code> or "
                     "<code>fleetdw retention plan</code>.</p>")
    parts.append("<h2>Retention runs</h2>" + _table(
        ["run", "as of", "status", "blocked by", "subjects erased", "rows changed", "files changed", "verification",
         "finished"], [[r[0], r[1], r[2], ", ".join(r[3] or []), r[4], r[5], r[6], r[7], r[8]] for r in runs]))
    parts.append("<h2>Post-deletion verifications</h2>" + _table(
        ["run", "checked", "subjects", "identifiers", "tables scanned", "table hits", "file-byte hits",
         "archive hits", "state"], [[*c[:8], _state(bool(c[8]))] for c in checks]))
    parts.append("<h2>Approvals</h2>" + _table(["plan", "approved at"], [list(a) for a in approvals]))
    parts.append("<h2>Retention policy</h2>" + _table(
        ["what", "trigger", "kept for", "then", "legal basis"],
        [[p.what, p.trigger, p.period, p.action, p.legal_basis] for p in POLICIES]))
    docs = _data_docs(settings)
    if docs:
        parts.append(f'<p>Great Expectations Data Docs: <a href="{docs.as_uri()}">{html.escape(str(docs))}</a></p>')
    out = settings.home / "reports" / "quality.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"<!doctype html><html><head><meta charset=utf-8><title>fleetdw quality</title><style>{CSS}"
                   f"</style></head><body>{''.join(parts)}</body></html>", encoding="utf-8")
    return out


def _data_docs(settings: Settings) -> Path | None:
    """Rebuild GE's Data Docs from the stored (value-free) validation results, if any."""
    if not (settings.home / "quality" / "gx" / "great_expectations.yml").exists():
        return None
    try:
        from dagster_project.quality.runner import home_context

        ctx = home_context(settings.home)
        ctx.build_data_docs(site_names=["fleetdw"])
    except Exception:  # noqa: BLE001 - Data Docs are a convenience; the page above is the report
        return None
    index = settings.home / "reports" / "gx_docs" / "index.html"
    return index if index.exists() else None
