"""``fleetdw review request PERSON_ID`` and ``fleetdw review list``: a person demands a manual review of an
automated decision (GDPR Art. 22); stewards see the queue with the inputs that were used.

The person id is turned into its pseudonym in this process and only the pseudonym is stored
(``ops.review_requests``); the id is never written to a log, a Dagster run or an error message.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

import click

from dagster_project.cli import common_options, settings_from


def register(cli: click.Group) -> None:
    cli.add_command(review_group)


@click.group("review")
def review_group() -> None:
    """Manual review of automated decisions (GDPR Art. 22)."""


def _decision(con, pseudonym: str) -> tuple[str | None, str | None, str | None]:
    try:
        rows = con.execute("select decision, model_version, inputs_used from profiling.renewal_offer_decisions "
                           "where person_pseudonym = ?", [pseudonym]).fetchall()
    except Exception:
        rows = []
    return rows[0] if rows else (None, None, None)


def request_review(settings, person_id: str) -> dict[str, Any]:
    """Record a review request for a person; returns the request (pseudonym, decision, inputs)."""
    from dagster_project.resources import open_warehouse
    from ingest.ops_tables import ensure_ops_tables
    from ingest.pseudonym import load_key, pseudonym

    with open_warehouse(settings) as con:
        try:
            known = con.execute("select count(*) from staging.stg_crm__persons where person_id = ?",
                                [person_id.strip()]).fetchall()[0][0]
        except Exception:
            known = 0
        if not known:
            raise LookupError("no such person in the warehouse (check the id, or run `fleetdw run` first)")
        ensure_ops_tables(con)
        pseudo = pseudonym(load_key(settings.home), "person", person_id.strip())
        decision, version, inputs = _decision(con, pseudo)
        request = {"request_id": uuid.uuid4().hex[:12], "person_pseudonym": pseudo,
                   "requested_at": datetime.now(timezone.utc), "as_of": settings.as_of, "decision": decision,
                   "model_version": version, "inputs_used": inputs}
        con.execute("insert into ops.review_requests (request_id, person_pseudonym, requested_at, as_of, decision, "
                    "model_version, inputs_used) values ($request_id, $person_pseudonym, $requested_at, $as_of, "
                    "$decision, $model_version, $inputs_used)", request)
    return request


@review_group.command("request")
@click.argument("person_id")
@common_options
def request(person_id: str, **opts: Any) -> None:
    """Record that PERSON_ID demands a manual review of their automated decisions."""
    req = request_review(settings_from(opts), person_id)
    what = (f"decision {req['decision']} (model {req['model_version']})" if req["decision"]
            else "no automated decision on record")
    click.echo(f"review request {req['request_id']} recorded for pseudonym {req['person_pseudonym'][:16]}…: {what}")


@review_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request.")
@click.option("--all", "show_all", is_flag=True, help="Also closed requests.")
@common_options
def list_requests(as_json: bool, show_all: bool, **opts: Any) -> None:
    """The review queue: pseudonym, decision, model version and the inputs used."""
    from dagster_project.resources import open_warehouse
    from ingest.ops_tables import ops_table_exists

    settings = settings_from(opts)
    with open_warehouse(settings, read_only=True) as con:
        if not ops_table_exists(con, "review_requests"):
            rows = []
        else:
            rows = con.execute(
                "select request_id, requested_at, person_pseudonym, decision, model_version, inputs_used, status "
                "from ops.review_requests " + ("" if show_all else "where status = 'open' ")
                + "order by requested_at").fetchall()
    keys = ("request_id", "requested_at", "person_pseudonym", "decision", "model_version", "inputs_used", "status")
    if as_json:
        for row in rows:
            item = dict(zip(keys, row))
            item["requested_at"] = item["requested_at"].isoformat()
            item["inputs_used"] = json.loads(item["inputs_used"]) if item["inputs_used"] else None
            click.echo(json.dumps(item, ensure_ascii=False))
        return
    if not rows:
        click.echo("no open review requests")
        return
    for rid, at, pseudo, decision, version, inputs, status in rows:
        click.echo(f"{rid}  {at:%Y-%m-%d %H:%M}  {pseudo[:16]}…  {status:<6} {decision or 'no automated decision'}"
                   f"  {version or ''}  inputs: {inputs or '-'}")
