"""``fleetdw dsar export PERSON_ID --out FILE.json``: everything held on a person (GDPR Art. 15, RULES.md §7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dagster_project.cli.options import audit, common_options, pseudonym_of, settings_from


@click.group("dsar")
def dsar_group() -> None:
    """Data-subject access requests."""


@dsar_group.command("export")
@click.argument("person_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON file to write.")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@common_options
def export(person_id: str, out: Path, force: bool, **opts: Any) -> None:
    """Export everything held on PERSON_ID as JSON, with the purposes and legal bases; the export is logged."""
    from dagster_project.retention.dsar import export_person

    settings = settings_from(opts)
    stats = export_person(settings, person_id, out, force)
    audit(opts, settings, "dsar export", person_pseudonym=pseudonym_of(settings, person_id), rows_out=stats["rows"],
          sections=stats["sections"], request_id=stats["answered"])
    click.echo(f"wrote {out}: {stats['rows']} rows in {stats['sections']} sections"
               + (f"; answers access request {stats['answered']}" if stats["answered"] else
                  "; no open access request was registered for the person (`fleetdw dsar request`)"))


@dsar_group.command("request")
@click.argument("person_id")
@common_options
def request(person_id: str, **opts: Any) -> None:
    """Register an access request (GDPR Art. 15) received on --as-of; it is due one month later."""
    from dagster_project.retention.register import record_access_request

    settings = settings_from(opts)
    req = record_access_request(settings, person_id, pseudonym_of(settings, person_id))
    audit(opts, settings, "dsar request", person_pseudonym=req.person_pseudonym, request_id=req.request_id)
    click.echo(f"access request {req.request_id} registered for person {req.person_pseudonym[:16]}…: received "
               f"{req.received_on}, due {req.due_on}; answer it with `fleetdw dsar export`")


@dsar_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request.")
@common_options
def list_cmd(as_json: bool, **opts: Any) -> None:
    """Access and erasure requests with received, due and answered dates: overdue and open first."""
    from dagster_project.retention.plan import pseudonymiser
    from dagster_project.retention.register import list_requests

    settings = settings_from(opts)
    requests = list_requests(settings, pseudonymiser(settings.home))
    if as_json:
        for r in requests:
            click.echo(json.dumps(r.to_dict(), ensure_ascii=False))
        return
    if not requests:
        click.echo("no requests registered")
        return
    for r in requests:
        click.echo(f"{r.state:<9} {r.kind:<8} {r.request_id:<14} {r.person_pseudonym[:16]}…  received {r.received_on}  "
                   f"due {r.due_on}  answered {r.answered_on or '-'}  {r.outcome}")
