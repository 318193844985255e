"""``fleetdw erase``, ``fleetdw hold`` and ``fleetdw release``: instructions about one person, recorded in the
warehouse's control tables (``ops.erasure_requests``, ``ops.legal_holds``). They only record: the erasure itself
happens in the next pipeline run, under the gates, so no person id ever enters a Dagster run's configuration,
tags or logs. Output names the person only as the pseudonym.
"""

from __future__ import annotations

from typing import Any

import click

from dagster_project.cli.options import audit, common_options, pseudonym_of, settings_from
from dagster_project.settings import as_of_clock


def _known_person(con, person_id: str) -> None:
    from dagster_project.retention.control import person_exists

    if not person_exists(con, person_id):
        raise LookupError("unknown person (no CRM record and no contract refers to that id)")


def _pseudonym(settings, person_id: str) -> str:
    from dagster_project.retention.plan import pseudonymiser

    return pseudonymiser(settings.home)(person_id)[:16]


@click.command()
@click.argument("person_id")
@click.option("--reason", required=True, help="Why (e.g. the ticket of the request); no personal data.")
@common_options
def erase(person_id: str, reason: str, **opts: Any) -> None:
    """Record an erasure request (GDPR Art. 17); the next run executes it under the gates."""
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import record_erasure_request

    settings = settings_from(opts)
    with open_warehouse(settings) as con:
        _known_person(con, person_id)
        record_erasure_request(con, person_id, reason, as_of_clock(settings.as_of))
    audit(opts, settings, "erase", person_pseudonym=pseudonym_of(settings, person_id))
    click.echo(f"erasure request recorded for person {_pseudonym(settings, person_id)}…; "
               "it is executed by the next `fleetdw run` if the retention gates pass")


@click.command()
@click.argument("person_id")
@click.option("--reason", required=True, help="The legal reason of the hold (e.g. a case number).")
@common_options
def hold(person_id: str, reason: str, **opts: Any) -> None:
    """Put a legal hold on a person: retention skips them until released."""
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import record_hold

    settings = settings_from(opts)
    with open_warehouse(settings) as con:
        _known_person(con, person_id)
        new = record_hold(con, person_id, reason)
    audit(opts, settings, "hold", person_pseudonym=pseudonym_of(settings, person_id), status="placed" if new else "already")
    click.echo(f"legal hold {'placed' if new else 'already in place'} for person {_pseudonym(settings, person_id)}…")


@click.command()
@click.argument("person_id")
@common_options
def release(person_id: str, **opts: Any) -> None:
    """Release a person's legal hold."""
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import release_hold

    settings = settings_from(opts)
    with open_warehouse(settings) as con:
        n = release_hold(con, person_id)
        if not n:
            _known_person(con, person_id)
            raise LookupError("no open legal hold for that person")
    audit(opts, settings, "release", person_pseudonym=pseudonym_of(settings, person_id))
    click.echo(f"legal hold released for person {_pseudonym(settings, person_id)}…")
