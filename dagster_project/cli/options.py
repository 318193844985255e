"""What every ``fleetdw`` command shares: the common options, settings from them, and one-line user errors."""

from __future__ import annotations

from typing import Any

import click

from dagster_project.settings import Settings, SettingsError
from dagster_project.warehouse import WarehouseLocked

USER_ERRORS = (SettingsError, WarehouseLocked, FileNotFoundError, FileExistsError, PermissionError, LookupError)


class UserError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"fleetdw: error: {self.message}", err=True)


def common_options(f):
    f = click.option("--as-of", "as_of", envvar="FLEETDW_AS_OF", default=None,
                     help="The run's clock, YYYY-MM-DD (default: today in Helsinki).")(f)
    f = click.option("--landing", envvar="FLEETDW_LANDING", default=None, help="Landing directory.")(f)
    f = click.option("--warehouse", envvar="FLEETDW_WAREHOUSE", default=None, help="DuckDB warehouse file.")(f)
    f = click.option("--home", envvar="FLEETDW_HOME", default=None,
                     help="fleetdw home: warehouse, archive, Dagster storage, reports (default ./.fleetdw).")(f)
    return f


def settings_from(opts: dict[str, Any]) -> Settings:
    return Settings.resolve(opts.get("home"), opts.get("warehouse"), opts.get("landing"), opts.get("as_of"))
