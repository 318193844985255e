"""The ``fleetdw`` command (``dagster_project.cli.main:main``)."""
