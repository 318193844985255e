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
    f = click.option("--actor", envvar="FLEETDW_ACTOR", default=None,
                     help="Who is recorded in the audit log (default: the OS user).")(f)
    f = click.option("--as-of", "as_of", envvar="FLEETDW_AS_OF", default=None,
                     help="The run's clock, YYYY-MM-DD (default: today in Helsinki).")(f)
    f = click.option("--landing", envvar="FLEETDW_LANDING", default=None, help="Landing directory.")(f)
    f = click.option("--warehouse", envvar="FLEETDW_WAREHOUSE", default=None, help="DuckDB warehouse file.")(f)
    f = click.option("--home", envvar="FLEETDW_HOME", default=None,
                     help="fleetdw home: warehouse, archive, Dagster storage, reports (default ./.fleetdw).")(f)
    return f


def settings_from(opts: dict[str, Any]) -> Settings:
    return Settings.resolve(opts.get("home"), opts.get("warehouse"), opts.get("landing"), opts.get("as_of"))


def audit(opts: dict[str, Any], settings: Settings, command: str, **fields: Any) -> None:
    """One line of the audit log for this command (``dagster_project.privacy.audit_log``), with ``--actor``."""
    from dagster_project.privacy.audit_log import record

    record(settings, command, actor=opts.get("actor"), **fields)


def pseudonym_of(settings: Settings, person_id: str) -> str:
    """The person's pseudonym (domain person): how the audit log and the register name a person."""
    from dagster_project.retention.plan import pseudonymiser

    return pseudonymiser(settings.home)(person_id.strip())
