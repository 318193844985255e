"""``fleetdw publish --out FILE.duckdb``: the analyst copy (see ``dagster_project.privacy.publish``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dagster_project.cli.options import audit, common_options, settings_from
from dagster_project.privacy.publish import publish


@click.command("publish")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The analyst copy to write (a DuckDB file).")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@common_options
def publish_command(out: Path, force: bool, **opts: Any) -> None:
    """Write an analyst copy: marts and profiling only, pseudonymised, no direct identifier."""
    settings = settings_from(opts)
    plan = publish(settings, out, force)
    audit(opts, settings, "publish", tables=len(plan.tables), out_name=out.name, rows_out=plan.rows)
    click.echo(f"published {len(plan.tables)} tables to {out.expanduser().absolute()}: "
               f"{plan.pseudonymised} key columns pseudonymised, {plan.dropped} identifying columns left out")
