"""Landing-to-hot latency under the daemon, and runs launched per landed batch.

A staging-shaped deployment (PostgreSQL warehouse, hot store and Dagster storage; the queued run
coordinator; S3 landing on moto in this process) with `dagster-daemon` running over it
(dataops_assets_tests/daemon.py). Batches of days are dropped into the S3 landing zone one after the
other, as the upstream system would; for each, the time from its files landing to its rows being in
the hot store, and the runs the batch made the daemon launch (landing sensor and automation).
Baselines, measured in the same runs: the landing run's own duration (what remains is the sensor's
interval and the queue), and the days in the batch (one run per day was the old behaviour).
Needs PostgreSQL as the tests do (DATAOPS_TEST_PG_ADMIN_DSN, default 127.0.0.1:5432).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

from bench.measure import figure

# Each batch lands once the one before it is hot; the first three days land at once.
FULL = [
    [dt.date(2013, 1, 1), dt.date(2013, 1, 2), dt.date(2013, 1, 3)],
    [dt.date(2013, 1, 4)],
    [dt.date(2013, 1, 5)],
]
QUICK = [[dt.date(2013, 1, 1), dt.date(2013, 1, 2)], [dt.date(2013, 1, 3)]]


def _landing_runs(instance, days: set[str]) -> list:
    import dagster as dg

    from dataops_assets.automation.sensors import LANDING_SENSOR, SENSOR_NAME_TAG
    from dataops_assets_tests.daemon import days_of

    runs = instance.get_runs(filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: LANDING_SENSOR}))
    return [r for r in runs if days_of(r) & days]


def measure(batches: list[list[dt.date]]) -> list[dict]:
    """Per batch: seconds from landing to hot, the landing run's own seconds, runs launched, days."""
    import dagster as dg

    from dataops_assets_tests.daemon import days_of, unattended_staging
    from dataops_assets_tests.services import (
        ADMIN_DSN,
        S3_VARIABLES,
        MotoServer,
        PgDatabase,
        environ,
        fresh_database,
        shared_environment,
    )
    from dataops_assets_tests.source_truth import flights_per_day

    role = f"dataops_bench_api_{uuid.uuid4().hex[:8]}"
    moto = MotoServer()
    moto.start()
    results = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="dataops-bench-unattended-") as scratch,
            fresh_database(ADMIN_DSN, roles=(role,)) as dsn,
            environ(
                DATAOPS_PG_DSN=dsn,
                DATAOPS_DAGSTER_PG_DSN=dsn,
                DATAOPS_S3_ENDPOINT_URL=moto.url,
                **S3_VARIABLES,
            ),
        ):
            env = shared_environment("staging", PgDatabase(dsn, role), Path(scratch))
            with unattended_staging(env, dsn, Path(scratch), deadline_s=1800) as deployment:
                for batch in batches:
                    truth = flights_per_day(batch)
                    landed = time.monotonic()
                    deployment.land(batch)
                    deployment.wait_for(
                        lambda b=batch, t=truth: deployment.hot_flights(b) == t, f"{batch} hot"
                    )
                    latency = time.monotonic() - landed
                    days = {str(d) for d in batch}
                    with dg.DagsterInstance.get() as instance:
                        runs = deployment.wait_for(
                            lambda i=instance, d=days: (
                                [r for r in _landing_runs(i, d) if r.is_finished] or None
                            ),
                            f"{batch}'s run to end",
                        )
                        records = [instance.get_run_record_by_id(r.run_id) for r in runs]
                        launched = [r for r in instance.get_runs() if days_of(r) & days]
                    results.append(
                        {
                            "latency_s": latency,
                            "run_s": sum(r.end_time - r.start_time for r in records),
                            "runs": len(launched),
                            "days": len(batch),
                            "interval_s": env.automation.landing_interval_seconds,
                        }
                    )
    finally:
        moto.stop()
    return results


def run(quick: bool) -> list[dict]:
    results = measure(QUICK if quick else FULL)
    latencies = [r["latency_s"] for r in results]
    return [
        figure(
            "landing_to_hot_s",
            latencies,
            "s",
            "the landing run's own duration",
            [r["run_s"] for r in results],
            "lower",
            note=f"{len(results)} landings under dagster-daemon (staging-shaped: PostgreSQL, queued runs, S3 on "
            f"moto); p50 {sorted(latencies)[len(latencies) // 2]:.0f} s, max {max(latencies):.0f} s; the rest "
            f"is the landing sensor's {results[0]['interval_s']} s interval and the queue",
        ),
        figure(
            "runs_per_landed_batch",
            [float(r["runs"]) for r in results],
            "runs",
            "days in the batch (one run per day before)",
            [float(r["days"]) for r in results],
            "lower",
            note=f"batches of {', '.join(str(r['days']) for r in results)} day(s): runs that covered their days",
        ),
    ]
