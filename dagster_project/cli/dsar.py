"""``fleetdw dsar export PERSON_ID --out FILE.json``: everything held on a person (GDPR Art. 15, RULES.md §7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dagster_project.cli.options import common_options, settings_from


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
    click.echo(f"wrote {out}: {stats['rows']} rows in {stats['sections']} sections")
