"""The benchmark runner: discovers its modules, reads targets, and speaks the JSON other tools read.

Timing is never asserted here (speed is measured by `python -m bench`, not in tests); the shape is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import discover, target_met
from bench.measure import figure, python_child, run_child

REPO_DIR = Path(__file__).resolve().parent.parent
FIELDS = {"name", "value", "unit", "baseline", "baseline_value", "ratio", "min", "max", "better"}


def test_discovers_every_module_with_a_run_function_and_no_helpers():
    modules = discover()
    assert {"ingestion", "import_time", "backfill"} <= set(modules)
    assert not {"measure", "__main__", "_scaled_flights"} & set(modules)


@pytest.mark.parametrize(
    ("target", "value", "baseline", "met"),
    [
        ("≥ 0.8", 0.9, 1.0, True),
        ("≥ 0.8", 0.7, 1.0, False),
        ("≤ 1.3", 1.31, 1.0, False),
        ("< 20", 12.0, 1.0, True),
        ("ratio < 3", 12.0, 2.0, False),  # ratio 6
        ("< 20 ms", 12.0, 0.5, True),  # a unit: the value (12 ms), not the ratio (24)
        ("< 20 ms", 21.0, 10.0, False),  # the value, not the ratio (2.1)
        (None, 5, 1.0, None),
    ],
)
def test_a_target_bounds_the_ratio_or_with_a_unit_the_value(target, value, baseline, met):
    fig = figure("x", [value], "ms", "base", [baseline], "lower", target=target)
    assert target_met(fig) is met


def test_a_figure_quotes_medians_and_the_spread_of_its_own_runs():
    fig = figure("x", [3.0, 1.0, 2.0], "s", "base", [4.0, 4.0, 10.0], "lower")
    assert (fig["value"], fig["baseline_value"], fig["ratio"], fig["min"], fig["max"]) == (2, 4, 0.5, 1, 3)


def test_a_child_s_peak_memory_is_its_own():
    small = run_child(python_child("pass"))
    big = run_child(python_child("x = bytearray(300 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"))
    assert big.peak_mb - small.peak_mb > 250  # the big child's 300 MB, not the parent's or a sibling's


def test_a_child_reports_its_own_time_and_results():
    sample = run_child(python_child("from bench.measure import report\nreport(1.5, rows=7)"))
    assert (sample.seconds, sample.result) == (1.5, {"rows": 7})


def test_quick_json_run_prints_every_figure_in_the_contract_shape(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--json",
            "--only",
            "import_time",
            "--output",
            str(output),
        ],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"import_s", "import_peak_mem_mb"}
    for name, fig in figures.items():
        assert set(fig) >= FIELDS, (name, fig)
        assert fig["name"] == name and fig["better"] in ("higher", "lower")
        assert fig["value"] > 0 and fig["baseline_value"] > 0
        assert fig["ratio"] == pytest.approx(fig["value"] / fig["baseline_value"])
        assert fig["min"] <= fig["value"] <= fig["max"]
    assert isinstance(figures["import_s"]["met"], bool)
    table = output.read_text()
    assert "| `import_s` |" in table and "python -m bench --quick --json --only import_time" in table


def test_an_unknown_benchmark_is_a_one_line_error():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "nosuch"], cwd=REPO_DIR, capture_output=True, text=True
    )
    assert result.returncode == 2 and "unknown benchmark(s) nosuch" in result.stderr
