"""``fleetdw-dbt``: dbt's own command line, run as a child that dies with the process that started it.

``dbt build`` runs in a subprocess of the pipeline. If that process is killed (kill -9, an OOM kill), an orphaned
dbt would go on writing to the warehouse file and hold its lock while the next run starts. On Linux the child asks
the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``) before dbt starts; elsewhere it is plain dbt.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:       # the parent died before the request took effect
        os._exit(1)


def main() -> None:
    _die_with_parent()
    # The pipeline runs dbt in the home, where the profile's relative warehouse path points (manifest.dbt_child_env).
    if os.environ.get("FLEETDW_DBT_CWD"):
        os.chdir(os.environ["FLEETDW_DBT_CWD"])
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    sys.exit(cli())


if __name__ == "__main__":
    main()
