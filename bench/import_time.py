"""Definitions load: importing the code location vs a bare `import dagster, dagster_dbt`.

This is what `dagster dev`, every `dagster` command and every run's process pay before any work.
Both contenders run as whole fresh processes (interpreter start-up included on both sides), timed
from outside; the dbt manifest is current beforehand, as after any first run.
"""

from __future__ import annotations

import os
import tempfile

from bench.measure import compare, figure, python_child, run_child

BARE = "import dagster, dagster_dbt"
OURS = "import dataops_assets.definitions"


def run(quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="dataops-bench-import-") as data_dir:
        env = os.environ | {"DATAOPS_ENV": "testing", "DATAOPS_DATA_DIR": data_dir}
        env.pop("DAGSTER_IS_DEV_CLI", None)
        series = compare(
            {
                "ours": lambda: run_child(python_child(OURS), env=env),
                "bare": lambda: run_child(python_child(BARE), env=env),
            },
            reps=1 if quick else 5,
        )
    ours, bare = series["ours"], series["bare"]
    return [
        figure(
            "import_s",
            ours.seconds,
            "s",
            "import dagster, dagster_dbt",
            bare.seconds,
            "lower",
            target="≤ 1.3",
        ),
        figure(
            "import_peak_mem_mb",
            [s.peak_mb for s in ours.samples],
            "MB",
            "import dagster, dagster_dbt",
            [s.peak_mb for s in bare.samples],
            "lower",
        ),
    ]
