"""``fleetdw review request PERSON_ID`` and ``fleetdw review list``: a person demands a manual review of an
automated decision (GDPR Art. 22); stewards see the queue with the inputs that were used.

The person id is turned into its pseudonym in this process and only the pseudonym is stored
(``ops.review_requests``); the id is never written to a log, a Dagster run or an error message.
"""

from __future__ import annotations

import json
from typing import Any

import click

from dagster_project.cli.options import audit, common_options, settings_from
from dagster_project.privacy.review import OUTCOMES, QUEUE_COLUMNS, request_review, resolve_review, review_queue


@click.group("review")
def review_group() -> None:
    """Manual review of automated decisions (GDPR Art. 22)."""


@review_group.command("request")
@click.argument("person_id")
@common_options
def request(person_id: str, **opts: Any) -> None:
    """Record that PERSON_ID demands a manual review of their automated decisions."""
    settings = settings_from(opts)
    req = request_review(settings, person_id)
    audit(opts, settings, "review request", person_pseudonym=req["person_pseudonym"], review_id=req["request_id"])
    what = (f"decision {req['decision']} (model {req['model_version']})" if req["decision"]
            else "no automated decision on record")
    click.echo(f"review request {req['request_id']} recorded for pseudonym {req['person_pseudonym'][:16]}…: {what}")


@review_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request.")
@click.option("--all", "show_all", is_flag=True, help="Also closed requests, with their outcome.")
@common_options
def list_requests(as_json: bool, show_all: bool, **opts: Any) -> None:
    """The review queue, open requests first with their age: pseudonym, decision, model version and the inputs
    used (the queue takes personal data out, so it is recorded in the audit log)."""
    settings = settings_from(opts)
    rows = review_queue(settings, include_closed=show_all)
    audit(opts, settings, "review list", include_closed=show_all, rows_out=len(rows))
    items = []
    for row in rows:
        item = dict(zip(QUEUE_COLUMNS, row))
        item["age_days"] = (settings.as_of - item["requested_at"].date()).days
        items.append(item)
    if as_json:
        for item in items:
            item["requested_at"] = item["requested_at"].isoformat()
            item["resolved_at"] = item["resolved_at"].isoformat() if item["resolved_at"] else None
            item["inputs_used"] = json.loads(item["inputs_used"]) if item["inputs_used"] else None
            click.echo(json.dumps(item, ensure_ascii=False))
        return
    if not items:
        click.echo("no open review requests")
        return
    for i in items:
        state = (f"open, {i['age_days']} days" if i["status"] == "open"
                 else f"{i['outcome'] or i['status']} {i['resolved_at']:%Y-%m-%d}" if i["resolved_at"] else i["status"])
        click.echo(f"{i['request_id']}  {i['requested_at']:%Y-%m-%d %H:%M}  {i['person_pseudonym'][:16]}…  {state:<18} "
                   f"{i['decision'] or 'no automated decision'}  {i['model_version'] or ''}  inputs: {i['inputs_used'] or '-'}")


@review_group.command("resolve")
@click.argument("review_id")
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES),
              help="upheld: the automated decision stands; changed: the reviewer changed it.")
@common_options
def resolve(review_id: str, outcome: str, **opts: Any) -> None:
    """Close a manual review with its outcome; the queue keeps the outcome and when."""
    from dagster_project.privacy.audit_log import default_actor

    settings = settings_from(opts)
    done = resolve_review(settings, review_id, outcome, opts.get("actor") or default_actor())
    audit(opts, settings, "review resolve", person_pseudonym=done["person_pseudonym"], review_id=done["request_id"],
          outcome=outcome)
    click.echo(f"review {done['request_id']} resolved: {outcome}")
