"""Human-readable terminal output: progress bars and the run summary (counts and reasons only)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dagster_project.settings import Settings

err_console = Console(stderr=True)
out_console = Console(width=None if Console().is_terminal else 120)


@contextmanager
def progress_callback(title: str) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(step, done, total)`` callback drawing one bar per step on stderr."""
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=err_console, transient=False, disable=not err_console.is_terminal) as bar:
        tasks: dict[str, Any] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(f"{title}: {step}", total=max(total, 1))
            bar.update(tasks[step], completed=done, total=max(total, 1))

        yield progress


def print_summary(summary: dict[str, Any], settings: Settings, demo: bool = False) -> None:
    c = out_console
    c.print(f"[bold]fleetdw run[/bold] as of {summary['as_of']}: [bold]{summary['status']}[/bold] "
            f"(Dagster run {summary['run_id']})")
    table = Table(title="Ingestion", show_lines=False)
    for col in ("source", "files loaded", "rows loaded", "rows quarantined", "top quarantine reasons"):
        table.add_column(col, justify="left" if col in ("source", "top quarantine reasons") else "right")
    for source, rows in summary["ingested"].items():
        reasons = summary["rejected_row_reasons"].get(source, {})
        top = ", ".join(f"{r} ({n})" for r, n in list(reasons.items())[:3])
        table.add_row(source, str(summary["files_loaded"][source]), str(rows),
                      str(summary["rejected_rows"][source]), top)
    c.print(table)
    withheld = summary.get("withheld_rows", {})
    if withheld:
        c.print("Withheld (no consent in force, stored nowhere): "
                + ", ".join(f"{source} {n}" for source, n in withheld.items()))
    if summary["rejected_files"]:
        c.print(f"[bold]Rejected files[/bold] ({len(summary['rejected_files'])}): loaded nothing, kept in "
                f"{settings.home / 'rejected'}")
        for f in summary["rejected_files"]:
            c.print(f"  {f['source']}/{f['file']}: {f['reason']}")
    c.print(f"Duplicate files skipped: {summary['duplicate_files']}")
    if summary.get("withheld_erased_rows"):
        c.print("Withheld (naming an erased person, stored nowhere): "
                + ", ".join(f"{source} {n}" for source, n in summary["withheld_erased_rows"].items()))
    if summary.get("erased_again"):
        c.print(f"Erased before and re-delivered: {summary['erased_again']} person(s), erased again before the build")
    for d in summary.get("schema_drift", []):
        c.print(f"Schema drift in {d['source']}/{d['file']}: unknown column(s) {', '.join(d['columns'])} not loaded")
    if summary.get("warehouse") == "unchanged":
        c.print("Warehouse: unchanged since its last build (no new file, same as-of day, no new erasure request or "
                "erasure): nothing rebuilt, quality suites and privacy measurements stand as of that build; "
                "`fleetdw run --full-refresh` rebuilds everything")
    elif "checks" in summary:
        checks = summary["checks"]
        build = summary.get("build", {})
        scope = "" if build.get("complete", True) else f" (only what changed: {_inputs(build.get('changed', []))})"
        c.print(f"Warehouse: {summary.get('models_built', 0)} models built{scope}; data tests {checks['passed']} passed, "
                f"{checks['failed']} failed" + (f" ({', '.join(checks['failed_names'][:10])})"
                                                  if checks["failed_names"] else ""))
    if "privacy" in summary:
        p = summary["privacy"]
        eligible = ", ".join(f"{ch} {n}" for ch, n in p.get("eligible", {}).items())
        c.print(f"Privacy: eligible for marketing by channel: {eligible}; {p.get('profiled', 0)} persons profiled, "
                f"{p.get('k_suppressed', 0)} suppressed for k-anonymity, {p.get('decisions', 0)} automated decisions")
    if summary.get("driver_assistant"):
        d = summary["driver_assistant"]
        c.print(f"Driver Assistant: {d.get('trips', 0)} trips, {d.get('driver_months', 0)} driver-months in "
                f"marts.driver_mileage, {d.get('location_days', 0)} person-days in marts.daily_location_distance; "
                f"KYC: {d.get('kyc_records', 0)} records (restricted schema kyc)")
    if "quality" in summary:
        q = summary["quality"]
        c.print(f"Data quality: {q.get('suites', 0)} expectation suites, {q.get('suites_failed', 0)} failed, "
                f"{q.get('rows_validated', 0)} new rows validated" + (
                    f"; failing rules: {'; '.join(k + ' (' + ', '.join(map(str, v)) + ')' for k, v in list(q['failed_rules'].items())[:8])}"
                    if q.get("failed_rules") else ""))
    if "retention" in summary:
        r = summary["retention"]
        line = f"Retention: {r['status']}"
        if r.get("blocked_by"):
            line += f" by gate(s) {', '.join(r['blocked_by'])}"
            if r.get("plan_id"):
                line += f" (plan {r['plan_id']}: `fleetdw retention plan`, `fleetdw retention approve {r['plan_id']}`)"
        line += f"; {r.get('erased_subjects', 0)} subjects erased; post-deletion verification: {r.get('verification')}"
        c.print(line)
    if summary.get("failed_steps"):
        c.print(f"[red]Failed steps:[/red] {', '.join(summary['failed_steps'])}")
        for step, reason in summary.get("errors", {}).items():
            c.print(f"  {step}: {reason}", markup=False)
        c.print("  (the whole log of the run is in the Dagster UI)")
    if demo:
        c.print()
        c.print("[bold]Next steps[/bold]")
        c.print(f"  Dagster UI:      DAGSTER_HOME={settings.dagster_home} FLEETDW_HOME={settings.home} dagster dev")
        c.print(f"  Query the data:  python -c \"import duckdb; con = duckdb.connect('{settings.warehouse}', "
                f"read_only=True); print(con.sql('show all tables'))\"")
        c.print(f"  Quarantine:      select source, reason, count(*) from raw.quarantine group by all")


def _inputs(changed: list[str]) -> str:
    """The changed inputs of a partial build, in words (names of sources and tables only)."""
    sources = [c.removeprefix("source:") for c in changed if c.startswith("source:")]
    tables = [c.removeprefix("relation:") for c in changed if c.startswith("relation:")]
    words = ([f"new data in {', '.join(sources)}"] if sources else []) + \
        (["a new as-of day"] if "as_of" in changed else []) + \
        (["erasure requests"] if "erasure_requests" in changed else []) + \
        ([f"erasure changes in {', '.join(tables)}"] if tables else [])
    return "; ".join(words) or "changed inputs"
