"""One `dataops pipeline run` at a time per data directory, and no leftovers from one that was killed.

- The lock: a run holds an exclusive `flock` on `<data dir>/.pipeline.lock`. A second run on the same
  data is rejected at once with a one-line reason instead of interleaving its writes with the first.
  The kernel drops the lock when its process dies, however it dies, so a crash never leaves it stuck.
- Reclaiming: a run killed mid-step stays STARTED in the Dagster instance and keeps the pool slots
  (warehouse, hot_store) it held, so the next run would wait for them forever. Runs started by this
  command carry the pid and host of their process; before a new run starts, those whose process is
  gone are marked failed and their slots freed (what Dagster's run monitoring daemon does in a
  deployment).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

PID_TAG = "dataops/pid"
HOST_TAG = "dataops/host"
LOCK_FILE = ".pipeline.lock"


class PipelineBusy(RuntimeError):
    """Another pipeline run is working on the same data."""


@contextlib.contextmanager
def pipeline_lock(data_dir: Path, what: str) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise PipelineBusy(
                f"another pipeline run is working on {data_dir} ({holder}): wait for it to finish, then re-run"
            ) from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}, {what}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


def run_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reclaim_dead_runs(instance) -> list[str]:
    """Mark runs of this host whose process is gone as failed and free their pool slots; their ids."""
    import dagster as dg

    unfinished = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    reclaimed = []
    for run in unfinished:
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid and not _alive(pid):
            instance.report_run_failed(run, f"its process (pid {pid}) died; marked failed by dataops")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            reclaimed.append(run.run_id)
    return reclaimed
