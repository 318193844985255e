"""``fleetdw quality report [--open]``: the stewards' data-quality page (counts and rule names only)."""

from __future__ import annotations

import webbrowser
from typing import Any

import click

from dagster_project.cli.options import common_options, settings_from


@click.group("quality")
def quality_group() -> None:
    """Data quality: expectation suites, retention gates and plans."""


@quality_group.command("report")
@common_options
@click.option("--open", "open_", is_flag=True, help="Open the report in a browser.")
def report(open_: bool, **opts: Any) -> None:
    """Build the HTML report under <home>/reports/ and print its path."""
    from dagster_project.quality.report import build_report

    settings = settings_from(opts)
    path = build_report(settings)
    click.echo(str(path))
    if open_:
        webbrowser.open(path.as_uri())
