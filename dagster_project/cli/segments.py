"""``fleetdw segments list`` and ``fleetdw segments export SEGMENT --channel C --out FILE.csv`` (RULES.md §1).

An export is a Dagster run of the job ``segment_export`` whose run configuration holds the segment, the channel,
the as-of date and the output path only — never a person — and it is logged in ``ops.segment_exports``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dagster_project.cli.options import audit, common_options, settings_from
from dagster_project.settings import SettingsError

CHANNELS = ("email", "sms", "phone", "post")


@click.group("segments")
def segments_group() -> None:
    """Marketing segments: who may be contacted, per channel."""


@segments_group.command("list")
def list_segments() -> None:
    """The segments marketing can export, with their extra columns."""
    from dagster_project.privacy.segments import segments

    for seg in segments().values():
        click.echo(f"{seg.name:<18} {seg.description}")
        click.echo(f"{'':<18} columns: person_id, channel, contact" + "".join(f", {c}" for c in seg.columns))


@segments_group.command("export")
@click.argument("segment")
@click.option("--channel", required=True, type=click.Choice(CHANNELS), help="The channel to contact on.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV file to write.")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@common_options
def export(segment: str, channel: str, out: Path, force: bool, **opts: Any) -> None:
    """Export the persons of SEGMENT eligible on CHANNEL as CSV (person_id, channel, contact, segment columns)."""
    from dagster_project.privacy.segments import built_as_of, segments
    from dagster_project.warehouse import open_warehouse
    from dagster_project.defs.runs import execute

    settings = settings_from(opts)
    known = segments()
    if segment not in known:
        raise LookupError(f"unknown segment {segment!r}; known: {', '.join(known)}")
    out = out.expanduser().absolute()
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (use --force to replace it)")
    if not out.parent.is_dir():
        raise SettingsError(f"directory {out.parent} does not exist")
    with open_warehouse(settings, read_only=True) as con:
        try:
            built = built_as_of(con)
        except Exception:
            built = None
    if built is None:
        raise SettingsError("the privacy models are not built: run `fleetdw run` first")
    if built != settings.as_of:
        raise SettingsError(f"the warehouse was built as of {built}, not {settings.as_of}: "
                            f"run `fleetdw run --as-of {settings.as_of}` or export with --as-of {built}")
    run = execute(settings, "segment_export", extra_run_config={"ops": {"export_segment": {"config": {
        "segment": segment, "channel": channel, "as_of": settings.as_of.isoformat(), "out": str(out)}}}},
        tags={"fleetdw/trigger": "cli", "fleetdw/segment": segment, "fleetdw/channel": channel})
    if not run.success:
        reason = next(iter(run.errors.values()), "failed")
        raise RuntimeError(f"segment export failed (Dagster run {run.run_id}): {reason}")
    with open_warehouse(settings, read_only=True) as con:
        rows = con.execute("select row_count from ops.segment_exports where export_id = ?", [run.run_id]).fetchall()
    audit(opts, settings, "segments export", segment=segment, channel=channel, export_id=run.run_id,
          rows_out=int(rows[0][0]) if rows else 0)
    click.echo(f"exported {rows[0][0] if rows else 0} persons of segment {segment} on {channel} to {out} "
               f"(export {run.run_id})")
