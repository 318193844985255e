"""``fleetdw review request PERSON_ID`` and ``fleetdw review list``: a person demands a manual review of an
automated decision (GDPR Art. 22); stewards see the queue with the inputs that were used.

The person id is turned into its pseudonym in this process and only the pseudonym is stored
(``ops.review_requests``); the id is never written to a log, a Dagster run or an error message.
"""

from __future__ import annotations

import json
from typing import Any

import click

from dagster_project.cli.options import common_options, settings_from
from dagster_project.privacy.review import QUEUE_COLUMNS, request_review, review_queue


@click.group("review")
def review_group() -> None:
    """Manual review of automated decisions (GDPR Art. 22)."""


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
    rows = review_queue(settings_from(opts), include_closed=show_all)
    if as_json:
        for row in rows:
            item = dict(zip(QUEUE_COLUMNS, row))
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
