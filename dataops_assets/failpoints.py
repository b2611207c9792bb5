"""Named points where a test can kill or pause the process, to prove a crash or a fault there loses and
half-publishes nothing.

`failpoint("raw.before_manifest")` does nothing unless the environment variable DATAOPS_FAILPOINT
names that point. Then, by default, the process SIGKILLs itself on the spot, as a power cut or the OOM
killer would (no cleanup handlers, no `finally`). `DATAOPS_FAILPOINT=NAME@pause:DIR` pauses there
instead: the process writes `DIR/NAME.reached` and waits until `DIR/NAME.resume` exists, so a test can
break a service (end the process's PostgreSQL sessions, stop S3) at exactly that point, not at a
moment guessed by timing. Only tests set the variable. The points (test_crash_safety.py kills a run at
each of POINTS; test_faults.py pauses at SERVICE_POINTS, which only a server backend reaches):

- `ingestion.before_report`  the staged data file is written, the report vouching for it is not
- `raw.before_manifest`      the immutable data file is in place, the manifest naming it is not
- `warehouse.mid_load`       a day's rows are deleted from the PostgreSQL warehouse, not yet re-copied
- `hot.before_commit`        a hot table's days are replaced, not yet committed
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

POINTS = ("ingestion.before_report", "raw.before_manifest", "hot.before_commit")
SERVICE_POINTS = ("warehouse.mid_load",)
VARIABLE = "DATAOPS_FAILPOINT"
PAUSE = "@pause:"


def failpoint(name: str) -> None:
    assert name in POINTS + SERVICE_POINTS, name
    value = os.environ.get(VARIABLE, "")
    if value == name:
        os.kill(os.getpid(), signal.SIGKILL)
    elif value.startswith(name + PAUSE):
        folder = Path(value[len(name + PAUSE) :])
        (folder / f"{name}.reached").touch()
        while not (folder / f"{name}.resume").exists():
            time.sleep(0.05)
