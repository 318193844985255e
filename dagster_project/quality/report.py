"""The stewards' report: one standalone HTML page (inline CSS and SVG charts, no script, nothing fetched) with

* at a glance: the last load day, the suites, the last retention run, open and overdue requests, data taken out;
* loads: rows loaded and quarantined per source and day (``raw.file_manifest`` by as-of), the latest day of each
  source with rejected files by reason, and the quarantine rules of the last day;
* expectation suites: failed expectations per run and suite (``ops.quality_results``) and each suite's latest result;
* retention: the outcome of every run (applied, blocked, nothing due; subjects erased; verification), the gates of
  the last plan (failing first), one row per plan with the gates that blocked it and their counts, runs,
  post-deletion verifications, approvals;
* the register of access and erasure requests (open and overdue first);
* the audit log: data-out commands and rows out per actor, counts per command and actor;
* the retention policy.

Counts, rule and gate names, ids of plans and runs, employees' user names (the actors) and pseudonym prefixes: the
page is built from ``ops`` tables, the manifest and the audit log, which hold no personal value, and never shows a
parameter or free text (an erasure's reason, a hold's case) of a request. GE's own Data Docs are rebuilt next to
it (their results were produced with a result format that carries no unexpected value).
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from dagster_project.quality.charts import BAD, GOOD, NEUTRAL, WARN, Series, Strip, bar_chart, colors, column_chart
from dagster_project.retention.policy import GATES, POLICIES
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse

LAST = 60          # days and runs drawn in a trend
ROWS = 10          # rows of the plan, run and verification tables
PREFIX = 12        # characters of a pseudonym shown

CSS = """
:root{--ok:#2e8b57;--bad:#c0392b;--warn:#b36b00;--mute:#666;--line:#d9dde3;--bg:#f6f7f9}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:var(--bg)}
header{background:#1f3a5f;color:#fff;padding:1.2em 2em}
header h1{margin:0 0 .2em;font-size:1.6em}header p{margin:0;opacity:.85}
nav{background:#fff;border-bottom:1px solid var(--line);padding:.5em 2em;position:sticky;top:0}
nav a{margin-right:1.2em;color:#1f3a5f;text-decoration:none;font-weight:600}
main{padding:0 2em 2em;max-width:88em}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.4em 1.4em 1em;margin:1.4em 0}
h2{font-size:1.3em;margin:.8em 0 .4em}h3{font-size:1.05em;margin:1.2em 0 .3em}
.lead{color:var(--mute);margin:.2em 0 .8em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(13em,1fr));gap:.8em;margin:.6em 0}
.card{border:1px solid var(--line);border-left:6px solid var(--mute);border-radius:6px;padding:.6em .9em}
.card.ok{border-left-color:var(--ok)}.card.bad{border-left-color:var(--bad)}.card.warn{border-left-color:var(--warn)}
.card .k{color:var(--mute);font-size:.85em;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:1.5em;font-weight:700}.card .d{font-size:.9em;color:var(--mute)}
.charts{display:flex;flex-wrap:wrap;gap:1em 2em}
figure.chart{margin:.6em 0;max-width:100%}figure.chart figcaption{margin-bottom:.3em}
figure.chart figcaption span{color:var(--mute)}
svg.chart-svg{max-width:100%;height:auto;display:block}
svg text{font:11px system-ui,sans-serif;fill:#333}svg .value{font-weight:600}svg .unit{fill:var(--mute)}
svg .grid{stroke:#e7e9ee}svg .axis{stroke:#555}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.2em 1em;padding:0;margin:.3em 0;font-size:.9em}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.35em;vertical-align:-.1em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.95em}
th{background:#eef1f5;font-weight:600}
td,th{border:1px solid var(--line);padding:.3em .6em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.s{white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
ul.kv{list-style:none;margin:0;padding:0}ul.kv b{font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85em;font-weight:700;color:#fff;
background:var(--mute)}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
.scroll{overflow-x:auto;max-width:100%}.muted,.empty{color:var(--mute)}code{background:#eef1f5;padding:0 .3em;border-radius:3px}
footer{color:var(--mute);padding:0 2em 2em}
"""

# The tone of a state wherever it is shown (badges, cards, strips).
TONE = {"pass": "ok", "passed": "ok", "applied": "ok", "ready": "ok", "answered": "ok", "loaded": "ok",
        "fail": "bad", "failed": "bad", "FAIL": "bad", "blocked": "bad", "overdue": "bad", "rejected": "bad",
        "open": "warn", "nothing_due": "", "not_run": ""}
STRIP_COLORS = {"ok": GOOD, "bad": BAD, "warn": WARN, "": NEUTRAL}


class _Raw(str):
    """Markup built here (badges, lists of escaped names and counts), not data: put into a cell as it is."""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: int | float) -> str:
    """A count with a thin space between thousands (the Finnish way, unambiguous in English too)."""
    return f"{value:,}".replace(",", "\u202f")


def _cell(value: Any) -> str:
    if isinstance(value, _Raw):
        return f"<td>{value}</td>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<td class="n">{_n(value)}</td>'
    text = "–" if value is None else str(value)
    return f'<td{" class=s" if len(text) <= 30 else ""}>{_e(text)}</td>'  # short cells (dates, names) do not wrap


def _table(headers: list[str], rows: list[list[Any]], empty: str = "none yet") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}" class="empty">{_e(empty)}</td></tr>'
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _badge(state: str, text: str | None = None) -> _Raw:
    tone = TONE.get(state, "")
    return _Raw(f'<span class="badge {tone}">{_e(text or state.replace("_", " "))}</span>')


def _state(ok: bool) -> _Raw:
    return _badge("pass" if ok else "FAIL")


def _label(key: str) -> str:
    return key.replace("_", " ")


def _kv(items: Iterable[tuple[str, Any]], empty: str = "none", names: bool = True) -> _Raw:
    """A readable list ``name: count`` (one per line) instead of a dict; ``names``: the keys are identifiers
    (``legal_hold``) to be read as words."""
    shown = [(k, v) for k, v in items]
    if not shown:
        return _Raw(f'<span class="muted">{_e(empty)}</span>')
    def value(v: Any) -> str:
        return "yes" if v is True else "no" if v is False else "–" if v is None else str(v)
    return _Raw('<ul class="kv">' + "".join(f"<li>{_e(_label(k) if names else k)}: <b>{_e(value(v))}</b></li>"
                                         for k, v in shown)
                + "</ul>")


def _names(names: Iterable[str] | None) -> _Raw:
    """Rule or gate names, one per line."""
    shown = list(names or [])
    return _Raw("<br>".join(_e(n) for n in shown) if shown else '<span class="muted">none</span>')


def _nonzero(counts: dict[str, Any] | None, names: dict[str, str] | None = None) -> list[tuple[str, Any]]:
    return [((names or {}).get(k, k), v) for k, v in (counts or {}).items() if v]


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value if isinstance(value, dict) else json.loads(value)


def _gate_counts(gate: dict[str, Any]) -> _Raw:
    """A gate's counts (its state and the plan id it repeats left out)."""
    return _kv((k, v) for k, v in gate.items() if k not in ("passed", "plan_id"))


def _short(run_id: str | None) -> _Raw:
    """A run id shortened to its first 8 characters (the full id in the tooltip)."""
    if not run_id:
        return _Raw("–")
    return _Raw(f'<span title="{_e(run_id)}">{_e(run_id[:8])}</span>')


def _query(con, sql: str, params: list | None = None) -> list[tuple]:
    try:
        return con.execute(sql, params or []).fetchall()
    except Exception:  # noqa: BLE001 - table not created yet
        return []


def _run_labels(as_ofs: list[Any]) -> list[str]:
    """One label per run: its as-of date, numbered when one day had several runs."""
    seen: Counter[str] = Counter(str(a) for a in as_ofs)
    nth: Counter[str] = Counter()
    out = []
    for a in map(str, as_ofs):
        nth[a] += 1
        out.append(a if seen[a] == 1 else f"{a} #{nth[a]}")
    return out


# ---------------------------------------------------------------------------------------------------------------
# sections (each reads what it needs and returns its HTML and, for the cards, a few figures)

def _source_order(names: Iterable[str]) -> list[str]:
    from ingest.contracts import SOURCES

    known = list(SOURCES)
    return sorted(set(names), key=lambda s: (known.index(s) if s in known else len(known), s))


def _loads(con) -> tuple[str, dict[str, Any]]:
    rows = _query(con, """select as_of, source, sum(rows_loaded), sum(rows_quarantined), sum(rows_withheld),
                                 count(*) filter (where status = 'loaded'), count(*) filter (where status = 'rejected')
                          from raw.file_manifest where as_of is not null group by all""")
    if not rows:
        return ("<p class=empty>No file loaded yet: run <code>fleetdw run</code>.</p>", {})
    fields = ("loaded", "quarantined", "withheld", "files", "rejected")
    by = {(d, s): dict(zip(fields, (int(v or 0) for v in values))) for d, s, *values in rows}
    empty = dict.fromkeys(fields, 0)
    days = sorted({d for d, _ in by})[-LAST:]
    sources = _source_order(s for _, s in by)
    palette = colors(sources)

    def series(field: str) -> list[Series]:
        out = [Series(s, [by.get((d, s), empty)[field] for d in days], palette[s]) for s in sources]
        return [s for s in out if any(s.values)] or out[:1]

    labels = [str(d) for d in days]
    charts = ('<div class="charts">'
              + column_chart("Rows loaded per day", labels, series("loaded"), unit="rows",
                             note=f"by source, as-of date of the load (last {len(days)} days)")
              + column_chart("Rows quarantined per day", labels, series("quarantined"), unit="rows",
                             note="rows that broke a rule of the contract, by source")
              + "</div>")
    latest = {s: max(d for d, src in by if src == s) for s in sources}
    rejected: dict[str, Counter[str]] = defaultdict(Counter)
    for source, as_of, reason, n in _query(con, """select source, as_of, coalesce(reason, 'unknown'), count(*)
                                                   from raw.file_manifest where status = 'rejected' group by all"""):
        if as_of == latest.get(source):
            rejected[source][reason] += n
    duplicates = {(s, d): n for s, d, n in _query(
        con, "select source, as_of, count(*) from raw.duplicate_deliveries group by all")}
    table = _table(
        ["source", "last load day", "files loaded", "files rejected", "duplicates skipped", "rows loaded",
         "rows quarantined", "rows withheld", "rejected files by reason"],
        [[s, str(latest[s]), day["files"], day["rejected"], duplicates.get((s, latest[s]), 0), day["loaded"],
          day["quarantined"], day["withheld"], _kv(sorted(rejected[s].items()), "none", names=False)]
         for s in sources for day in [by[(latest[s], s)]]])
    last = days[-1]
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    quarantined: Counter[str] = Counter()
    for source, reason, n in _query(con, "select source, reason, count(*) from raw.quarantine where as_of = ? "
                                         "group by all", [last]):
        quarantined[source] += n
        for rule in str(reason).split(";"):
            rules[source][rule] += n
    reasons = _table(["source", "rows quarantined", "rules broken (rows; a row may break several)"],
                     [[s, quarantined[s], _Raw(", ".join(f"{_e(r)} <b>{n}</b>" for r, n in rules[s].most_common()))]
                      for s in _source_order(quarantined)], "no row was quarantined that day")
    body = (charts + "<h3>The latest load day of each source</h3>" + table
            + f"<h3>Quarantine rules broken on {_e(last)}</h3>" + reasons)
    total = {f: sum(by.get((last, s), empty)[f] for s in sources) for f in fields}
    return body, {"day": last, "loaded": total["loaded"], "quarantined": total["quarantined"],
                  "rejected": total["rejected"]}


def _suites(con) -> tuple[str, dict[str, Any]]:
    per_run = _query(con, """select coalesce(run_id, '?') as run, min(checked_at) over (partition by run_id) as at,
                                    as_of, suite, failed, success from ops.quality_results""")
    latest = _query(con, """select suite, run_id, as_of, rows, expectations, failed, failed_rules, success
                            from ops.quality_results qualify row_number() over (partition by suite
                            order by checked_at desc) = 1 order by suite""")
    if not per_run:
        return ("<p class=empty>No suite has run yet.</p>", {})
    runs = sorted({(at, run) for run, at, *_ in per_run})[-LAST:]
    order = [run for _, run in runs]
    as_of = {run: a for run, _, a, *_ in per_run}
    failed: dict[tuple[str, str], int] = Counter()
    broken: dict[str, bool] = defaultdict(bool)
    for run, _, _, suite, n, ok in per_run:
        failed[(run, suite)] += int(n or 0)
        broken[run] |= not ok
    failing = sorted({suite for (run, suite), n in failed.items() if n and run in order})
    palette = colors(failing)
    series = [Series(s, [failed[(r, s)] for r in order], palette[s]) for s in failing] or [
        Series("failed expectations", [0] * len(order), BAD)]
    strip = Strip("suites", ["a suite failed" if broken[r] else "all passed" for r in order],
                  {"all passed": GOOD, "a suite failed": BAD})
    chart = column_chart("Failed expectations per run", _run_labels([as_of[r] for r in order]), series,
                         unit="expectations", strips=[strip],
                         note=f"by suite (last {len(order)} runs; only suites that failed are drawn)")
    table = _table(["suite", "state", "rows validated", "expectations", "failed", "failed rules", "run", "as of"],
                   [[s, _state(ok), rows, n, f, _names(rules), _short(run), str(a)]
                    for s, run, a, rows, n, f, rules, ok in latest])
    last = order[-1]
    figures = {"suites": len({s for r, _, _, s, *_ in per_run if r == last}),
               "failed": len({s for r, _, _, s, _, ok in per_run if r == last and not ok})}
    return chart + "<h3>The latest result of each suite</h3>" + table, figures


def _retention(con) -> tuple[str, dict[str, Any]]:
    plans = _query(con, """select plan_id, as_of, created_at, subjects, persons, by_reason, protected, gates,
                                  shorter_policies, blocked_by, status from ops.retention_plans
                           qualify row_number() over (partition by plan_id order by created_at desc) = 1
                           order by created_at desc limit 10""")
    runs = _query(con, f"""select * from (select run_id, as_of, status, blocked_by, erased_subjects, rows_changed,
                                  files_changed, verification, finished_at from ops.retention_runs
                                  order by finished_at desc nulls last limit {LAST}) order by finished_at nulls first""")
    checks = _query(con, f"""select run_id, checked_at, subjects, identifiers, tables_scanned, table_hits,
                                    file_hits, archive_hits, passed from ops.verification_results
                             order by checked_at desc limit {ROWS}""")
    approvals = _query(con, f"""select plan_id, approved_at from ops.retention_approvals
                                order by approved_at desc limit {ROWS}""")
    parts: list[str] = []
    figures: dict[str, Any] = {}
    if runs:
        outcome = {"applied": GOOD, "blocked": BAD, "nothing_due": NEUTRAL}
        verification = {"passed": GOOD, "failed": BAD, "not_run": NEUTRAL}
        parts.append(column_chart(
            "Retention runs: subjects erased and outcome", _run_labels([r[1] for r in runs]),
            [Series("subjects erased", [int(r[4] or 0) for r in runs], "#1f3a5f")], unit="subjects",
            strips=[Strip("outcome", [r[2] for r in runs], outcome),
                    Strip("verification", [r[7] for r in runs], verification)],
            note=f"last {len(runs)} runs"))
        last = runs[-1]
        figures = {"status": last[2], "verification": last[7], "erased": int(last[4] or 0), "as_of": last[1],
                   "blocked_by": list(last[3] or [])}
    descriptions = dict(GATES)
    policy_names = {p.name: p.what for p in POLICIES}
    if plans:
        last_plan = plans[0]
        gates = _json(last_plan[7])
        rank = {name: i for i, name in enumerate(descriptions)}
        ordered = sorted(gates.items(), key=lambda g: (g[1].get("passed", False), rank.get(g[0], len(rank))))
        parts.append(f"<h3>Gates of the last plan ({_e(last_plan[0])}, as of {_e(last_plan[1])}): failing first</h3>"
                     + _table(["gate", "state", "what it checks", "counts"],
                              [[g, _state(v.get("passed", False)), descriptions.get(g, ""),
                                _gate_counts(v)]
                               for g, v in ordered]))

        def blocked(plan: tuple) -> _Raw:
            """The gates that blocked the plan, each with its counts."""
            gates = _json(plan[7])
            if not plan[9]:
                return _Raw('<span class="muted">none</span>')
            return _Raw("".join(f"<div><b>{_e(g)}</b>{_gate_counts(gates.get(g, {}))}</div>" for g in plan[9]))

        parts.append("<h3>Last plans (one row per plan, newest first)</h3>" + _table(
            ["plan", "as of", "status", "blocked by (counts)", "subjects due", "persons", "due by reason",
             "kept (protected)", "shorter policies due"],
            [[p[0], str(p[1]), _badge(p[10]), blocked(p), p[3], p[4], _kv(_nonzero(_json(p[5]))),
              _kv(_nonzero(_json(p[6]))), _kv(_nonzero(_json(p[8]), policy_names), "nothing due")] for p in plans]))
    else:
        parts.append("<p class=empty>No plan yet: run <code>fleetdw run</code> or "
                     "<code>fleetdw retention plan</code>.</p>")
    newest = list(reversed(runs))[:ROWS]
    parts.append("<h3>Retention runs</h3>" + _table(
        ["run", "as of", "outcome", "blocked by", "subjects erased", "rows changed", "files changed", "verification",
         "finished"],
        [[_short(r[0]), str(r[1]), _badge(r[2]), ", ".join(r[3] or []) or "–", r[4], r[5], r[6], _badge(r[7]),
          _time(r[8])] for r in newest]))
    parts.append("<h3>Post-deletion verifications</h3>" + _table(
        ["run", "checked", "subjects", "identifiers", "tables scanned", "table hits", "file-byte hits",
         "archive hits", "state"],
        [[_short(c[0]), _time(c[1]), *c[2:8], _state(bool(c[8]))] for c in checks]))
    parts.append("<h3>Approvals of plans past the volume gate</h3>"
                 + _table(["plan", "approved at"], [[a[0], _time(a[1])] for a in approvals]))
    return "".join(parts), figures


def _time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "–" if value is None else str(value)


def _requests(settings: Settings) -> tuple[str, dict[str, Any]]:
    from dagster_project.retention.register import list_requests

    def pseudonymise(person_id: str) -> str:      # the key is read only when an erasure request is open
        from dagster_project.retention.plan import pseudonymiser

        return pseudonymiser(settings.home)(person_id)

    requests = list_requests(settings, pseudonymise)
    states = ("overdue", "open", "answered")
    tally = Counter((r.kind, r.state) for r in requests)
    figures = {s: sum(n for (_, st), n in tally.items() if st == s) for s in states}
    if not requests:
        return ("<p class=empty>No access or erasure request registered (<code>fleetdw dsar request</code>, "
                "<code>fleetdw erase</code>).</p>", figures)
    kinds = ("access", "erasure")
    chart = bar_chart("Requests by kind and state", [f"{k} requests" for k in kinds],
                      [Series(s, [tally[(k, s)] for k in kinds], c)
                       for s, c in zip(states, (BAD, WARN, GOOD))], unit="requests",
                      note="an answer is due one month after the request (GDPR Art. 12(3))")
    table = _table(["state", "kind", "request", "person (pseudonym)", "received", "due", "answered", "outcome"],
                   [[_badge(r.state), r.kind, r.request_id, r.person_pseudonym[:PREFIX] + "…", str(r.received_on),
                     str(r.due_on), str(r.answered_on) if r.answered_on else None, r.outcome] for r in requests])
    return chart + "<h3>The register (overdue and open first)</h3>" + table, figures


def _audit(settings: Settings) -> tuple[str, dict[str, Any]]:
    from dagster_project.privacy.audit_log import DATA_OUT, counts, entries

    lines = entries(settings)
    if not lines:
        return ("<p class=empty>The audit log is empty: no data has been taken out and no request recorded.</p>",
                {"lines": 0, "rows": 0})
    tally = counts(lines)
    last_at: dict[tuple[str, str], str] = {}
    for line in lines:
        last_at[(line["command"], line["actor"])] = line.get("at", "")
    out = {k: v for k, v in tally.items() if k[0] in DATA_OUT}
    parts = []
    if out:
        actors = sorted({a for _, a in out}, key=lambda a: (-sum(v["rows_out"] for (c, x), v in out.items()
                                                                if x == a), a))
        commands = [c for c in DATA_OUT if any(k[0] == c for k in out)]
        palette = colors(commands)
        parts.append('<div class="charts">' + bar_chart(
            "Data-out commands per actor", actors,
            [Series(c, [out.get((c, a), {}).get("lines", 0) for a in actors], palette[c]) for c in commands],
            unit="commands", note="segment exports, access exports, the analyst copy, extracts, subject lists")
            + bar_chart("Rows taken out per actor", actors,
                        [Series(c, [out.get((c, a), {}).get("rows_out", 0) for a in actors], palette[c])
                         for c in commands], unit="rows") + "</div>")
    else:
        parts.append("<p class=empty>No data-out command in the audit log.</p>")
    rows = sorted(tally.items(), key=lambda kv: (kv[0][0] not in DATA_OUT, kv[0][0], kv[0][1]))
    parts.append("<h3>Commands per actor</h3>" + _table(
        ["kind", "command", "actor", "times", "rows out", "last at"],
        [["data out" if c in DATA_OUT else "request", c, a, v["lines"], v["rows_out"] if c in DATA_OUT else None,
          last_at.get((c, a), "")] for (c, a), v in rows]))
    return "".join(parts), {"lines": sum(v["lines"] for v in out.values()),
                            "rows": sum(v["rows_out"] for v in out.values()), "actors": len({a for _, a in out})}


def _policy() -> str:
    return _table(["what", "trigger", "kept for", "then", "legal basis"],
                  [[p.what, p.trigger, p.period, p.action, p.legal_basis] for p in POLICIES])


def _card(key: str, value: Any, detail: str, tone: str = "") -> str:
    return (f'<div class="card {tone}"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div>'
            f'<div class="d">{_e(detail)}</div></div>')


def _overview(loads: dict, suites: dict, retention: dict, requests: dict, audit: dict) -> str:
    cards = []
    if loads:
        cards.append(_card("last load day", loads["day"], f"{_n(loads['loaded'])} rows loaded, "
                           f"{_n(loads['quarantined'])} quarantined, {loads['rejected']} files rejected",
                           "bad" if loads["rejected"] else "warn" if loads["quarantined"] else "ok"))
    if suites:
        cards.append(_card("expectation suites", f"{suites['failed']} of {suites['suites']} failing",
                           "in the latest run", "bad" if suites["failed"] else "ok"))
    if retention:
        tone = TONE.get(retention["status"], "")
        detail = (f"blocked by {', '.join(retention['blocked_by'])}" if retention["blocked_by"] else
                  f"subjects erased: {retention['erased']}, verification {retention['verification'].replace('_', ' ')}")
        cards.append(_card("last retention run", retention["status"].replace("_", " "),
                           f"as of {retention['as_of']}: {detail}",
                           "bad" if retention["verification"] == "failed" else tone))
    cards.append(_card("requests", f"{requests.get('overdue', 0)} overdue, {requests.get('open', 0)} open",
                       f"{requests.get('answered', 0)} answered",
                       "bad" if requests.get("overdue") else "warn" if requests.get("open") else "ok"))
    cards.append(_card("data taken out", f"{_n(audit.get('rows', 0))} rows",
                       f"{audit.get('lines', 0)} data-out commands by {audit.get('actors', 0)} actors"))
    return '<div class="cards">' + "".join(cards) + "</div>"


SECTIONS = (("loads", "Loads"), ("suites", "Expectation suites"), ("retention", "Retention"),
            ("requests", "Requests of data subjects"), ("audit", "Audit log"), ("policy", "Retention policy"))


def build_report(settings: Settings) -> Path:
    with open_warehouse(settings, read_only=True) as con:
        loads, load_figures = _loads(con)
        suites, suite_figures = _suites(con)
        retention, retention_figures = _retention(con)
    requests, request_figures = _requests(settings)
    audit, audit_figures = _audit(settings)
    leads = {
        "loads": "Rows per source and as-of day from the manifest; rejected files by their fixed reason.",
        "suites": "Great Expectations suites over the rows each run loaded; rule names only.",
        "retention": "Deletion runs only when every gate passes (RULES.md §6); counts only, never a value.",
        "requests": "Access (Art. 15) and erasure (Art. 17) requests; persons only by a pseudonym prefix.",
        "audit": "Who took personal data out or recorded a request (RULES.md §9): counts per command and actor.",
        "policy": "Declared once in dagster_project/retention/policy.py.",
    }
    bodies = {"loads": loads, "suites": suites, "retention": retention, "requests": requests, "audit": audit,
              "policy": _policy()}
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title in SECTIONS)
    sections = [f'<section id="overview"><h2>At a glance</h2>'
                f"{_overview(load_figures, suite_figures, retention_figures, request_figures, audit_figures)}"
                "</section>"]
    sections += [f'<section id="{key}"><h2>{_e(title)}</h2><p class="lead">{_e(leads[key])}</p>{bodies[key]}'
                 "</section>" for key, title in SECTIONS]
    docs = _data_docs(settings)
    footer = (f'<p>Great Expectations Data Docs: <a href="{_e(docs.as_uri())}">{_e(docs)}</a></p>' if docs else "")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>fleetdw data quality and retention</title><style>{CSS}</style></head><body>"
            f"<header><h1>fleetdw data quality and retention</h1><p>Warehouse as of {_e(settings.as_of)} · "
            f"generated {generated} · counts, rule names and pseudonym prefixes only: this page never shows a "
            f"personal value.</p></header><nav>{nav}</nav><main>{''.join(sections)}</main>"
            f"<footer>{footer}</footer></body></html>")
    out = settings.home / "reports" / "quality.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
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
