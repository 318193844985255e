"""Sub-commands of ``fleetdw`` beyond the core ones in ``dagster_project.cli``. Each module of this package
defines ``register(cli: click.Group) -> None``; the CLI registers every module found here."""

from __future__ import annotations

import importlib
import pkgutil

import click


def register_all(cli: click.Group) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}").register(cli)
