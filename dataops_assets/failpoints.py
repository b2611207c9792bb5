"""Named points where a test can kill the process, to prove a crash there loses and half-publishes nothing.

`failpoint("raw.before_manifest")` does nothing unless the environment variable DATAOPS_FAILPOINT
names that point; then the process SIGKILLs itself on the spot, as a power cut or the OOM killer
would (no cleanup handlers, no `finally`). Only tests set the variable. The points:

- `ingestion.before_report`  the staged data file is written, the report vouching for it is not
- `raw.before_manifest`      the immutable data file is in place, the manifest naming it is not
- `hot.before_commit`        a hot table's days are replaced, not yet committed
"""

from __future__ import annotations

import os
import signal

POINTS = ("ingestion.before_report", "raw.before_manifest", "hot.before_commit")
VARIABLE = "DATAOPS_FAILPOINT"


def failpoint(name: str) -> None:
    assert name in POINTS, name
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
