"""``fleetdw publish --out FILE.duckdb``: the analyst copy (see ``dagster_project.privacy.publish``);
``fleetdw publish --company BUSINESS_ID [--group] --out FILE.duckdb``: a Fleet Manager company extract (see
``dagster_project.privacy.company_extract``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dagster_project.cli.options import UserError, audit, common_options, settings_from
from dagster_project.privacy.publish import publish


@click.command("publish")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (a DuckDB file).")
@click.option("--company", default=None, metavar="BUSINESS_ID",
              help="Write a company extract of this customer company (Y-tunnus) instead of the analyst copy.")
@click.option("--group", is_flag=True, help="With --company: the company's whole group (its top parent and every "
                                            "company below it).")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@common_options
def publish_command(out: Path, company: str | None, group: bool, force: bool, **opts: Any) -> None:
    """Write an analyst copy (marts and profiling only, pseudonymised, no direct identifier), or with --company a
    company extract (only that company's or its group's rows, RULES.md §8)."""
    settings = settings_from(opts)
    if company is None:
        if group:
            raise UserError("--group needs --company BUSINESS_ID")
        plan = publish(settings, out, force)
        audit(opts, settings, "publish", tables=len(plan.tables), out_name=out.name, rows_out=plan.rows)
        click.echo(f"published {len(plan.tables)} tables to {out.expanduser().absolute()}: "
                   f"{plan.pseudonymised} key columns pseudonymised, {plan.dropped} identifying columns left out")
        return
    from dagster_project.privacy.company_extract import publish_company

    extract = publish_company(settings, company, out, group=group, force=force)
    audit(opts, settings, "publish --company", company=extract.company, group=group, tables=len(extract.tables),
          rows_out=extract.rows)
    scope = f"group of {len(extract.companies)} companies" if group else "the company only"
    click.echo(f"published the company extract of {extract.company} ({scope}) to {out.expanduser().absolute()}: "
               f"{len(extract.tables)} tables, {extract.rows} rows")
