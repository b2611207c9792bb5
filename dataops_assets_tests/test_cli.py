"""The `dataops` command line: exit codes and one-line reasons, as users and scripts see them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATAOPS = str(Path(sys.executable).parent / "dataops")


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DATAOPS, *args], capture_output=True, text=True, env=os.environ | env, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["pipeline"],
        ["pipeline", "run"],
        ["env"],
        ["env", "list"],
        ["env", "show"],
        ["verify"],
        ["source"],
        ["source", "infer"],
        ["source", "check"],
    ],  # fmt: skip
)
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "Usage: dataops" in result.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--start", "2013-01-01"], "Missing option '--end'"),
        (["--start", "2013-13-01", "--end", "2013-01-02"], "error: dates must be YYYY-MM-DD"),
        (
            ["--start", "2013-01-03", "--end", "2013-01-01"],
            "error: --end 2013-01-01 is before --start 2013-01-03",
        ),
        (["--start", "2012-12-31", "--end", "2013-01-01"], "is outside the testing environment's data scope"),
    ],
)
def test_pipeline_run_refuses_bad_options_in_one_line(args, reason, tmp_path):
    result = run("pipeline", "run", *args, DATAOPS_ENV="testing", DATAOPS_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_environment_is_one_line():
    result = run("env", "show", "nowhere")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "'nowhere' is not an environment" in result.stderr


def test_env_list_and_show():
    listed = run("env", "list")
    assert listed.returncode == 0
    assert "sandbox" in listed.stdout and "testing" in listed.stdout
    shown = run("env", "show", "testing")
    assert shown.returncode == 0 and "name: testing" in shown.stdout


@pytest.mark.slow
def test_verify_passes_then_catches_a_flipped_byte_a_deleted_and_a_stray_file(
    pipeline_run, testing_root, tmp_path
):
    copy = tmp_path / "data"
    shutil.copytree(testing_root / "cold", copy / "cold")
    ok = run("verify", DATAOPS_ENV="testing", DATAOPS_DATA_DIR=str(copy))
    assert ok.returncode == 0, ok.stderr
    assert "0 problem(s)" in ok.stdout

    files = sorted((copy / "cold/raw/flights").rglob("part-*.parquet"))
    flipped, deleted = files[0], files[1]
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    deleted.unlink()
    (copy / "cold/raw/flights/date=2013-01-01/stray.parquet").write_bytes(b"x")

    bad = run("verify", DATAOPS_ENV="testing", DATAOPS_DATA_DIR=str(copy))
    assert bad.returncode == 1
    assert f"changed: raw/flights/{flipped.parent.name}/{flipped.name}" in bad.stdout
    assert f"missing: raw/flights/{deleted.parent.name}/{deleted.name}" in bad.stdout
    assert "extra: raw/flights/date=2013-01-01/stray.parquet" in bad.stdout


@pytest.mark.slow
def test_a_refused_landing_file_fails_the_run_naming_file_and_problem(tmp_path):
    from dataops_assets.environments.loader import load_environment
    from dataops_assets.sources.replay import replay_nycflights13

    day = "2013-01-02"
    env = load_environment("testing")
    landing = tmp_path / env.landing.path
    replay_nycflights13(landing, [__import__("datetime").date.fromisoformat(day)], tmp_path / "cache")
    bad = landing / f"flights/date={day}/renamed-column.csv"
    good = (landing / f"flights/date={day}/flights.csv").read_text().splitlines()
    bad.write_text("\n".join([good[0].replace("tailnum", "tail_number"), good[1]]) + "\n")

    result = run(
        "pipeline", "run", "--start", day, "--end", day,
        DATAOPS_ENV="testing", DATAOPS_DATA_DIR=str(tmp_path), DAGSTER_HOME=str(tmp_path / "home"),
    )  # fmt: skip
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: run ") and "ingestion__flights" in line
    assert f"{bad}: missing declared column(s) tailnum; unexpected column(s) tail_number" in line
    assert "checks: " in result.stdout  # the summary still prints, so the user sees what did land
    # ...and it says, before the error line, which days and datasets the run did not complete, and why.
    stopped = result.stdout.split("did not complete:\n", 1)[1].splitlines()
    assert stopped[0].startswith(
        f"  {day} flights: did not complete: ingestion failed: {bad}: missing declared"
    )
    assert f"  {day} weather: " not in result.stdout.split("did not complete:")[1]  # weather landed
    assert any(
        line.startswith(f"  {day} carrier_origin_daily: did not complete: serving not run")
        for line in stopped
    )
