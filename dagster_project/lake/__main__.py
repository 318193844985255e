"""``python -m dagster_project.lake export|register-args [--home DIR]``: write the Parquet lake of a home from its
warehouse, or print the ``--args`` of ``dbt run-operation register_lake`` for it (names, paths and types only).
A missing warehouse or lake is a one-line error (exit 2)."""

from __future__ import annotations

import argparse
import json
import sys

from dagster_project.lake import LakeError, export_lake
from dagster_project.settings import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_project.lake")
    parser.add_argument("command", choices=["export", "register-args"])
    parser.add_argument("--home", default=None, help="fleetdw home (default FLEETDW_HOME or ./.fleetdw)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.resolve(args.home)
        if args.command == "export":
            out = export_lake(settings)
            print(json.dumps(out.metadata()))
        else:
            from dagster_project.lake.spark import registration_args

            print(json.dumps(registration_args(settings.lake)))
    except (LakeError, SettingsError, FileNotFoundError) as exc:
        print(f"fleetdw lake: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
