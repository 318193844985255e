"""``fleetdw quality report [--open]``: the stewards' data-quality page (counts and rule names only)."""

from __future__ import annotations

import webbrowser
from typing import Any

import click



def register(cli: click.Group) -> None:
    # Imported here: `python -m dagster_project.cli` runs the CLI module as __main__, and a top-level import
    # of it from a command module would be circular.
    from dagster_project.cli import common_options, settings_from


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
    cli.add_command(quality_group)
