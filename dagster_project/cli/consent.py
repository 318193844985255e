"""``fleetdw consent record PERSON_ID --purpose P --channel C --action A [--source S]``: customer service records a
grant, withdrawal or objection as a one-row ``consents`` delivery (``dagster_project.privacy.consent_capture``); it
takes effect at the next run. The person is named in the output and the audit log by pseudonym only."""

from __future__ import annotations

from typing import Any

import click

from dagster_project.cli.options import audit, common_options, pseudonym_of, settings_from


@click.group("consent")
def consent_group() -> None:
    """Consent events recorded by customer service."""


@consent_group.command("record")
@click.argument("person_id")
@click.option("--purpose", required=True, help="direct_marketing, profiling or location_tracking.")
@click.option("--channel", required=True, help="email, sms, phone, post or any (profiling, location: any).")
@click.option("--action", required=True, help="grant, withdraw or object.")
@click.option("--source", default="customer_service", show_default=True, help="Where the consent was given.")
@common_options
def record(person_id: str, purpose: str, channel: str, action: str, source: str, **opts: Any) -> None:
    """Record a consent event for PERSON_ID as a new consents delivery in the landing zone."""
    from dagster_project.privacy.consent_capture import record_consent

    settings = settings_from(opts)
    done = record_consent(settings, person_id, purpose, channel, action, source)
    audit(opts, settings, "consent record", person_pseudonym=pseudonym_of(settings, person_id), purpose=purpose,
          channel=channel, action=action, source=source)
    click.echo(f"consent event {done.event_id} ({purpose}/{channel}: {action}) written to {done.path.name}; "
               "it takes effect at the next `fleetdw run`")
