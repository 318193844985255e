"""``fleetdw cluster up|down|status``: a local Spark master, two workers, the Thrift server, Redis and Celery
workers on 127.0.0.1, to try the distributed path on one machine (``dagster_project/scaleout/cluster.py``)."""

from __future__ import annotations

import json
from typing import Any

import click

from dagster_project.cli.options import UserError, common_options, settings_from


def _config(opts: dict[str, Any]):
    from dagster_project.scaleout.cluster import ClusterConfig

    return ClusterConfig.for_home(settings_from(opts).home)


@click.group("cluster")
def cluster_group() -> None:
    """Start, stop and show the local Spark + Celery cluster (PID files under <home>/cluster)."""


@cluster_group.command("up")
@common_options
def cluster_up(**opts: Any) -> None:
    """Start what is not running; wait until each part accepts connections."""
    from dagster_project.scaleout.cluster import ClusterError, up

    cfg = _config(opts)
    try:
        state = up(cfg, progress=lambda msg: click.echo(msg, err=True))
    except ClusterError as exc:
        raise UserError(str(exc)) from None
    _print(state)
    click.echo(f"Thrift (dbt --target spark): {cfg.host}:{cfg.thrift_port}   broker: {cfg.broker_url}")


@cluster_group.command("down")
@common_options
def cluster_down(**opts: Any) -> None:
    """Stop every process `cluster up` started."""
    from dagster_project.scaleout.cluster import down

    stopped = down(_config(opts))
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@cluster_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@common_options
def cluster_status(as_json: bool, **opts: Any) -> None:
    """Each part: running or not, its PID and port. Exit 1 when a part is down."""
    from dagster_project.scaleout.cluster import status

    state = status(_config(opts))
    if as_json:
        click.echo(json.dumps(state))
    else:
        _print(state)
    if not state or not all(s["up"] for s in state.values()):
        raise SystemExit(1)


def _print(state: dict[str, dict]) -> None:
    for name, s in state.items():
        port = f" port {s['port']}" if s["port"] else ""
        click.echo(f"{name:<16} {'up' if s['up'] else 'down':<5} {('pid ' + str(s['pid'])) if s['pid'] else ''}{port}")
