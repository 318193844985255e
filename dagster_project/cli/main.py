"""The ``fleetdw`` command. Every user mistake ends in a one-line error on stderr and a non-zero exit."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from dagster_project.cli import audit, cluster, consent, dsar, holds, publish, quality, retention, review, segments
from dagster_project.cli.console import print_summary, progress_callback
from dagster_project.cli.options import USER_ERRORS, UserError, common_options, settings_from
from dagster_project.settings import Settings, create_files_owner_only, parse_as_of

class FleetGroup(click.Group):
    """Turns known user errors raised anywhere below into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise UserError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None


@click.group(cls=FleetGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """fleetdw: a consent-aware warehouse and ELT pipeline for fleet leasing data."""


def _generate(out: Path, persons: int, seed: int, as_of: date, **kwargs: Any):
    from dagster_project.synthetic import generate_landing

    with progress_callback("generating landing files") as progress:
        return generate_landing(out, persons=persons, seed=seed, as_of=as_of, progress=progress, **kwargs)


@cli.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the landing zone into.")
@click.option("--persons", default=2000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--as-of", "as_of", envvar="FLEETDW_AS_OF", default=None, help="Last day of data (default today).")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3660), help="Days of event files.")
@click.option("--fuel-rows", default=None, type=click.IntRange(0), help="Fuel transactions (default from persons).")
@click.option("--web-events", default=None, type=click.IntRange(0), help="Web events (default from persons).")
@click.option("--location-pings", default=None, type=click.IntRange(0),
              help="Driver Assistant location pings (default from persons).")
@click.option("--start", default=None,
              help="As-of date of an earlier generated landing zone (same --persons and --seed): write only the "
                   "daily deliveries of each day after it up to --as-of.")
def generate(out: Path, persons: int, seed: int, as_of: str | None, days: int, fuel_rows: int | None,
             web_events: int | None, location_pings: int | None, start: str | None) -> None:
    """Write synthetic landing files that follow the source contract, with realistic defects."""
    if start is not None:
        from dagster_project.synthetic import generate_daily

        first, last = parse_as_of(start), parse_as_of(as_of)
        if last <= first:
            raise click.BadParameter("must be after --start", param_hint="--as-of")
        with progress_callback("generating daily deliveries") as progress:
            reports = generate_daily(out, start=first, as_of=last, persons=persons, seed=seed, progress=progress)
        rows: dict[str, int] = {}
        for report in reports:
            for k, v in report.to_dict().get("rows_written", {}).items():
                rows[k] = rows.get(k, 0) + v
        click.echo(f"wrote {len(reports)} day(s) of deliveries to {out}: "
                   + ", ".join(f"{k} {v}" for k, v in rows.items()))
        return
    report = _generate(out, persons, seed, parse_as_of(as_of), days=days, fuel_rows=fuel_rows,
                       web_events=web_events, location_pings=location_pings)
    rows = report.to_dict().get("rows_written", {})
    click.echo(f"wrote landing zone to {out}: " + ", ".join(f"{k} {v}" for k, v in rows.items()))


def _run(settings: Settings, full_refresh: bool = False) -> dict[str, Any]:
    from dagster_project.defs.runs import run_pipeline

    return run_pipeline(settings, full_refresh)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.option("--full-refresh", is_flag=True,
              help="Rebuild every dbt model (incremental ones from scratch), even when nothing changed.")
def run(as_json: bool, full_refresh: bool, **opts: Any) -> None:
    """Run the whole pipeline: ingest new landing files, build, check, retain. A run with nothing new on the
    same as-of day does no dbt work."""
    settings = settings_from(opts)
    summary = _run(settings, full_refresh)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary, settings)
    if summary["status"] != "success":
        sys.exit(1)


@cli.command()
@common_options
@click.option("--persons", default=2000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
def demo(persons: int, seed: int, **opts: Any) -> None:
    """Generate a synthetic landing zone, run the whole pipeline and show what happened."""
    settings = settings_from(opts)
    _generate(settings.landing, persons, seed, settings.as_of)
    summary = _run(settings)
    print_summary(summary, settings, demo=True)
    if summary["status"] != "success":
        sys.exit(1)


for command in (segments.segments_group, publish.publish_command, review.review_group, holds.erase, holds.hold,
                holds.release, retention.retention_group, dsar.dsar_group, quality.quality_group,
                audit.audit_command, consent.consent_group, cluster.cluster_group):
    cli.add_command(command)


def main() -> None:
    create_files_owner_only()
    cli(prog_name="fleetdw")
