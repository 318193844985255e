"""``fleetdw consent record``: customer service records a grant, withdrawal or objection as a one-row ``consents``
delivery in the landing zone — a new file with a unique name and event id, never an edit of an existing file — so it
goes through the same loading, history, audit and eligibility as every consent, at the next run.

``recorded_at`` follows the as-of clock (CLI.md): now when the as-of date is today in Helsinki, otherwise the start
of that date (00:00 Europe/Helsinki), so a run on that as-of date sees it.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dagster_project.retention.control import person_exists
from dagster_project.settings import Settings, as_of_clock
from dagster_project.warehouse import open_warehouse
from ingest.contracts import SOURCES

CONSENTS = SOURCES["consents"]
ANY_ONLY = ("profiling", "location_tracking")   # purposes whose events always use channel any


@dataclass(frozen=True)
class RecordedConsent:
    event_id: str
    path: Path
    recorded_at: datetime


def _allowed(column: str) -> tuple[str, ...]:
    return tuple(CONSENTS.column(column).values)


def validate(purpose: str, channel: str, action: str) -> None:
    """One-line user errors for values the contract does not allow."""
    for column, value in (("purpose", purpose), ("channel", channel), ("action", action)):
        if value not in _allowed(column):
            raise LookupError(f"unknown {column} {value!r}: use one of {', '.join(_allowed(column))}")
    if purpose in ANY_ONLY and channel != "any":
        raise LookupError(f"{purpose} consent is recorded for channel any, not {channel!r}")


def record_consent(settings: Settings, person_id: str, purpose: str, channel: str, action: str,
                   source: str = "customer_service") -> RecordedConsent:
    validate(purpose, channel, action)
    person_id = person_id.strip()
    if settings.warehouse.exists():
        with open_warehouse(settings, read_only=True) as con:
            known = person_exists(con, person_id)
    else:
        known = False
    if not known:
        raise LookupError("unknown person (no CRM record and no contract refers to that id)")
    at = as_of_clock(settings.as_of)
    token = uuid.uuid4().hex[:12]
    event_id = f"CS{token}"
    folder = settings.landing / CONSENTS.name
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CONSENTS.column_names)
    values = {"consent_event_id": event_id, "person_id": person_id, "purpose": purpose, "channel": channel,
              "action": action, "recorded_at": at.isoformat(), "source": source}
    writer.writerow([values.get(c, "") for c in CONSENTS.column_names])
    path = folder / f"consent_record_{at:%Y%m%dT%H%M%S}_{token}.csv"
    # written under a temporary name and renamed, so a run never reads half a file; owner-only (personal data)
    tmp = path.with_name("." + path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)
    return RecordedConsent(event_id, path, at)
