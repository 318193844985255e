"""``fleetdw audit [--since DATE] [--json]``: the audit log (RULES.md §9, ``dagster_project.privacy.audit_log``)."""

from __future__ import annotations

import json
from typing import Any

import click

from dagster_project.cli.options import common_options, settings_from
from dagster_project.settings import parse_as_of


@click.command("audit")
@click.option("--since", default=None, help="Only lines on or after this date (YYYY-MM-DD, UTC).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@common_options
def audit_command(since: str | None, as_json: bool, **opts: Any) -> None:
    """Who took personal data out of the warehouse or recorded a request: when, which command, its parameters
    (a person only by pseudonym) and how many rows left."""
    from dagster_project.privacy.audit_log import entries

    lines = entries(settings_from(opts), parse_as_of(since) if since else None)
    if as_json:
        for line in lines:
            click.echo(json.dumps(line, ensure_ascii=False))
        return
    if not lines:
        click.echo("the audit log is empty" + (f" since {since}" if since else ""))
        return
    for line in lines:
        params = " ".join(f"{k}={v}" for k, v in line["parameters"].items())
        who = f" person {line['person_pseudonym'][:16]}…" if line.get("person_pseudonym") else ""
        rows = f" rows_out={line['rows_out']}" if line.get("rows_out") is not None else ""
        click.echo(f"{line['at']}  {line['actor']:<12} {line['command']:<30}{who} {params}{rows}".rstrip())
