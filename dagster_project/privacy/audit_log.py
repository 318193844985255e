"""The audit log (RULES.md §9): one line for every command that takes personal data out of the warehouse (segment
exports, access exports, the analyst copy, company extracts, ``retention plan --show-subjects``, the review queue)
and every command that records a request (erasure, hold, release, review request and resolution, consent, access
request, plan approval).

A line says who (``--actor`` / ``FLEETDW_ACTOR``, default the OS user), when, which command, its parameters and how
many rows left. It never holds a direct identifier: a person appears only as their pseudonym, and callers pass
parameters from an allow-list (:data:`PARAMETERS`) — anything else is refused here, so a new command cannot log a
value by accident. The log is a JSON Lines file under the home, created readable by its owner only and appended to
under a file lock; it is outside the warehouse file, so it is written even while a run holds the warehouse and
survives the rewrite of that file after an erasure, which keeps its lines whole (a pseudonym is what the audit
trail of an erasure is keyed by, too).
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from dagster_project.settings import Settings

AUDIT_FILE = Path("audit") / "audit.jsonl"
# The parameters a line may carry (values are names, ids of plans, exports, reviews and companies, dates, counts).
PARAMETERS = frozenset({"segment", "channel", "company", "group", "plan_id", "review_id", "request_id", "outcome",
                        "purpose", "action", "source", "export_id", "tables", "sections", "status", "since",
                        "show_subjects", "include_closed", "out_name", "reason_given"})
# Commands that take personal data out, and commands that record a request.
DATA_OUT = ("segments export", "dsar export", "publish", "publish --company", "retention plan --show-subjects",
            "review list")
REQUESTS = ("erase", "hold", "release", "review request", "review resolve", "consent record", "dsar request",
            "retention approve")


def default_actor() -> str:
    """The OS user (``--actor`` and ``FLEETDW_ACTOR`` override it)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        return f"uid:{os.getuid()}"


def log_path(settings: Settings) -> Path:
    return settings.home / AUDIT_FILE


def record(settings: Settings, command: str, *, actor: str | None = None, person_pseudonym: str | None = None,
           rows_out: int | None = None, **parameters: Any) -> dict[str, Any]:
    """Append one line to the audit log and return it."""
    if command not in DATA_OUT + REQUESTS:
        raise ValueError(f"not an audited command: {command}")
    unknown = set(parameters) - PARAMETERS
    if unknown:
        raise ValueError(f"parameters not allowed in the audit log: {', '.join(sorted(unknown))}")
    line = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "as_of": settings.as_of.isoformat(),
        "actor": actor or os.environ.get("FLEETDW_ACTOR") or default_actor(),
        "command": command,
        "kind": "data_out" if command in DATA_OUT else "request",
        "person_pseudonym": person_pseudonym,
        "parameters": {k: v for k, v in sorted(parameters.items()) if v is not None},
        "rows_out": rows_out,
    }
    path = log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (json.dumps(line, ensure_ascii=False, default=str) + "\n").encode())
    finally:
        os.close(fd)
    return line


def entries(settings: Settings, since: date | None = None) -> list[dict[str, Any]]:
    """The lines of the audit log (oldest first), those at or after ``since`` (a UTC date) when given. A line that
    cannot be read (a torn write after a crash) is skipped."""
    path = log_path(settings)
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for text in f:
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue
            if since is None or line.get("at", "")[:10] >= since.isoformat():
                out.append(line)
    return out


def counts(lines: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, int]]:
    """(command, actor) -> {"lines": n, "rows_out": sum} (the stewards' page)."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for line in lines:
        c = out.setdefault((line["command"], line["actor"]), {"lines": 0, "rows_out": 0})
        c["lines"] += 1
        c["rows_out"] += int(line.get("rows_out") or 0)
    return out
