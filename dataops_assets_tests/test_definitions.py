"""The code location loads and declares what the design says it does.

Two angles: `dg check defs` loads `dataops_assets.definitions` exactly as a deployment
would (a subprocess, with the testing environment), and in-process tests inspect the `Definitions`
built for the testing environment: groups, lineage, checks, automation and partitions.

Nothing here imports the package at module level, so collection stays fast, and nothing depends on
conftest.py: the environment variables the package reads are set by this module's own fixtures.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
CODE_LOCATION = "dataops_assets.definitions"
GROUPS = ("ingestion", "raw", "processing", "serving")
ACCOUNTED_CHECK = "rows_accounted_for"


# --- the CLI, as a deployment loads it -------------------------------------------------------------


def _dg_executable() -> str:
    exe = Path(sys.executable).parent / "dg"
    if not exe.exists():
        pytest.fail(f"no dg executable beside {sys.executable} (package dagster-dg-cli)")
    return str(exe)


def _validate(tmp_path: Path, dataops_env: str) -> subprocess.CompletedProcess[str]:
    """`dg check defs` on the project (its `[tool.dg]` names the code location), isolated in tmp_path."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO_DIR / "dagster.yaml", dagster_home / "dagster.yaml")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = os.environ | {
        "DATAOPS_ENV": dataops_env,
        "DATAOPS_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(dagster_home),
    }
    return subprocess.run(
        [_dg_executable(), "check", "defs", "--target-path", str(REPO_DIR)],
        cwd=tmp_path,  # any scratch the CLI writes lands here, not in the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_dg_check_defs_succeeds(tmp_path):
    result = _validate(tmp_path, "testing")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"dg check defs failed:\n{output}"
    assert "All definitions loaded successfully" in output, output


def test_dg_check_defs_rejects_an_unknown_environment(tmp_path):
    # The control for the test above: the same command must fail when the location cannot load,
    # so an exit code of 0 there means something.
    result = _validate(tmp_path, "no_such_environment")
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"dg check defs accepted DATAOPS_ENV=no_such_environment:\n{output}"
    assert "no_such_environment" in output, output


# Heavy libraries the code location must not import at load: each costs the webserver, the daemon
# and every run process time before anything happens (they are imported where they are used).
NOT_AT_LOAD = ("pandas", "numpy", "pyarrow", "duckdb", "psycopg", "boto3", "sklearn", "fastapi", "uvicorn")


@pytest.mark.parametrize("dataops_env", ["testing", "staging"])
def test_the_code_location_loads_without_heavy_libraries(tmp_path, dataops_env):
    probe = (
        f"import sys, {CODE_LOCATION}; "
        f"print(' '.join(m for m in {NOT_AT_LOAD!r} if m in sys.modules) or 'none')"
    )
    env = os.environ | {"DATAOPS_ENV": dataops_env, "DATAOPS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"


# --- in-process: the Definitions for the testing environment ------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(environment, Definitions, asset graph) for the testing environment, data under a temp dir."""
    with pytest.MonkeyPatch.context() as mp:
        # Set before the import: dataops_assets.definitions builds `defs` for DATAOPS_ENV when imported.
        mp.setenv("DATAOPS_ENV", "testing")
        mp.setenv("DATAOPS_DATA_DIR", str(tmp_path_factory.mktemp("dataops_data")))
        from dataops_assets.definitions import build_definitions, load_environment

        env = load_environment("testing")
        defs = build_definitions(env)
        yield env, defs, defs.resolve_asset_graph()


@pytest.fixture(scope="module")
def env(built):
    return built[0]


@pytest.fixture(scope="module")
def defs(built):
    return built[1]


@pytest.fixture(scope="module")
def graph(built):
    return built[2]


@pytest.fixture(scope="module")
def sources():
    from dataops_assets.sources.catalog import load_sources

    declared = load_sources()
    assert declared, "no source is declared under sources/"
    return declared


@pytest.fixture(scope="module")
def served_tables():
    from dataops_assets.served import published_by_dbt, served_tables

    tables = published_by_dbt(served_tables())  # the manifest is current: `built` loaded the definitions
    assert tables, "no table is served"
    return tables


def _key(*path: str):
    import dagster as dg

    return dg.AssetKey(list(path))


def _model_key(table):
    """dagster-dbt's key for the model a table is served from: its schema and name."""
    return _key(*table.relation.split("."))


def _keys_in_group(graph, group: str) -> set:
    return {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == group}


def _names(keys) -> list[str]:
    return sorted(k.to_user_string() for k in keys)


def test_built_for_the_testing_environment(env, defs):
    import dagster as dg

    assert env.name == "testing"
    assert defs.metadata["environment"].value == "testing"
    # testing declares the in-process executor: one process, deterministic logs.
    assert env.scale.executor == "in_process"
    assert defs.executor is dg.in_process_executor


def test_exactly_the_four_pillar_groups(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == set(GROUPS) | {"science"}  # the science track runs beside the pillars


def test_every_source_has_ingestion_raw_and_warehouse_assets(graph, sources):
    names = [s.name for s in sources]
    assert _keys_in_group(graph, "ingestion") == {_key("ingestion", n) for n in names}, _names(
        _keys_in_group(graph, "ingestion")
    )
    # The cold storage pillar also receives the curated marts back from processing (curated/<model>).
    cold = {k for k in _keys_in_group(graph, "raw") if k.path[0] == "raw"}
    assert cold == {_key("raw", n) for n in names}, _names(cold)
    processing = _keys_in_group(graph, "processing")
    warehouse = {k for k in processing if k.path[0] == "warehouse"}
    assert warehouse == {_key("warehouse", n) for n in names}, _names(warehouse)


def test_each_pillar_reads_the_one_before(graph, sources):
    for source in sources:
        assert graph.get(_key("raw", source.name)).parent_keys == {_key("ingestion", source.name)}
        assert graph.get(_key("warehouse", source.name)).parent_keys == {_key("raw", source.name)}


def test_every_served_mart_flows_back_to_cold_storage(graph, served_tables):
    curated = {k for k in _keys_in_group(graph, "raw") if k.path[0] == "curated"}
    marts = {t.model for t in served_tables}
    assert {k.path[-1] for k in curated} == marts
    for key in curated:
        (parent,) = graph.get(key).parent_keys
        assert parent.path[-1] == key.path[-1]  # exported from its own dbt model


def test_dbt_models_are_processing_assets_that_read_the_warehouse(graph, served_tables):
    processing = _keys_in_group(graph, "processing")
    models = {k for k in processing if k.path[0] != "warehouse"}
    assert {k.path[0] for k in models} >= {"staging", "marts"}, _names(models)
    for table in served_tables:
        assert _model_key(table) in models, f"{table.model} is not a processing asset"
    # dbt's `raw` source must map to the warehouse load (meta.dagster.asset_key in the generated
    # models/_sources.yml), never to
    # the cold `raw/*` assets: otherwise dbt could run before the warehouse holds the day.
    for model in models:
        parents = graph.get(model).parent_keys
        assert not {p for p in parents if graph.get(p).group_name in ("ingestion", "raw")}, (
            f"{model.to_user_string()} reads {_names(parents)}"
        )
    readers_of_warehouse = {
        m for m in models if any(p.path[0] == "warehouse" for p in graph.get(m).parent_keys)
    }
    assert readers_of_warehouse, "no dbt model reads a warehouse/* asset"


def test_serving_assets_publish_their_marts(graph, served_tables):
    from dataops_assets.pillars.serving.retention import RETENTION_KEY

    champion = _key("serving", "flight_delay_predictions")  # the science track's champion, scoring new days
    published = {_key("serving", t.name) for t in served_tables} | {champion}
    assert _keys_in_group(graph, "serving") == published | {RETENTION_KEY}
    assert graph.get(RETENTION_KEY).parent_keys == published
    for table in served_tables:
        assert graph.get(_key("serving", table.name)).parent_keys == {_model_key(table)}


def test_daily_pipeline_covers_every_pillar(defs, graph):
    job = defs.resolve_job_def("daily_pipeline")
    selected = set(job.asset_layer.executable_asset_keys)
    every_pillar = set().union(*(_keys_in_group(graph, g) for g in GROUPS))
    assert selected == every_pillar, _names(every_pillar ^ selected)


# --- checks ------------------------------------------------------------------------------------------


def test_rows_accounted_for_is_a_blocking_check_on_every_ingestion_asset(graph, sources):
    import dagster as dg

    accounted = {ck for ck in graph.asset_check_keys if ck.name == ACCOUNTED_CHECK}
    assert {ck.asset_key for ck in accounted} == {_key("ingestion", s.name) for s in sources}
    for source in sources:
        check_key = dg.AssetCheckKey(_key("ingestion", source.name), ACCOUNTED_CHECK)
        spec = graph.get_check_spec(check_key)
        assert spec.blocking, f"{ACCOUNTED_CHECK} on ingestion/{source.name} does not block downstream"


def test_dbt_tests_are_checks_on_the_marts(graph, served_tables):
    for table in served_tables:
        mart = _model_key(table)
        names = {ck.name for ck in graph.get_check_keys_for_assets({mart})}
        assert names, f"no dbt test is an asset check on {mart.to_user_string()}"
        # The key the hot store and its API look rows up by must be enforced by dbt before serving.
        unique = f"unique_combination_of_columns_{table.model}_{'__'.join(table.key)}"
        assert unique in names, f"{unique} missing; checks on {table.model}: {sorted(names)}"
        missing_not_null = [c for c in table.key if f"not_null_{table.model}_{c}" not in names]
        assert not missing_not_null, f"key columns of {table.model} without not_null: {missing_not_null}"


# --- automation ----------------------------------------------------------------------------------------


def test_schedule_runs_the_daily_pipeline_and_is_stopped_in_testing(defs, env):
    import dagster as dg

    schedule = defs.resolve_schedule_def("daily_pipeline_schedule")
    assert schedule.job_name == "daily_pipeline"
    assert env.automation.schedules is False
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.execution_timezone == env.data_scope.timezone
    assert schedule.cron_schedule == f"{env.automation.schedule_minute} {env.automation.schedule_hour} * * *"


def test_sensors_exist_and_are_stopped_in_testing(defs, env, graph):
    import dagster as dg

    assert {s.name for s in defs.sensors} == {"landing_zone_sensor", "serving_automation"}
    assert env.automation.sensors is False
    landing = defs.resolve_sensor_def("landing_zone_sensor")
    automation = defs.resolve_sensor_def("serving_automation")
    assert landing.default_status == dg.DefaultSensorStatus.STOPPED
    assert automation.default_status == dg.DefaultSensorStatus.STOPPED
    assert landing.job_name == "daily_pipeline"
    assert isinstance(automation, dg.AutomationConditionSensorDefinition)
    assert automation.asset_selection.resolve(graph) == _keys_in_group(graph, "serving")


def test_automation_status_follows_the_environment_file(env, tmp_path, monkeypatch):
    # The control for the two tests above: STOPPED comes from testing.yaml, not from a hard-coded default.
    import dagster as dg

    from dataops_assets.definitions import build_definitions

    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    switched_on = env.model_copy(
        update={"automation": env.automation.model_copy(update={"schedules": True, "sensors": True})}
    )
    defs_on = build_definitions(switched_on)
    assert (
        defs_on.resolve_schedule_def("daily_pipeline_schedule").default_status
        == dg.DefaultScheduleStatus.RUNNING
    )
    for name in ("landing_zone_sensor", "serving_automation"):
        assert defs_on.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING, name


def test_the_landing_sensor_looks_as_often_as_the_environment_file_says(defs, env):
    from dataops_assets.automation.sensors import landing_sensor
    from dataops_assets.sources.catalog import load_sources

    assert defs.resolve_sensor_def("landing_zone_sensor").minimum_interval_seconds == 60  # the default
    quicker = env.model_copy(
        update={"automation": env.automation.model_copy(update={"landing_interval_seconds": 15})}
    )
    assert landing_sensor(quicker, load_sources()).minimum_interval_seconds == 15


def test_serving_assets_have_freshness_and_automation(graph, served_tables):
    import dagster as dg

    for table in served_tables:
        node = graph.get(_key("serving", table.name))
        policy = node.freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy), f"serving/{table.name} has no freshness policy"
        assert policy.warn_window is not None and policy.warn_window < policy.fail_window
        condition = node.automation_condition
        assert condition is not None, f"serving/{table.name} has no automation condition"
        assert condition.get_label() == "eager"


def test_only_serving_assets_are_automated(graph):
    # serving_automation evaluates the serving group only: a condition anywhere else would never fire.
    automated = {k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None}
    assert automated == _keys_in_group(graph, "serving"), _names(automated)


# --- partitions ------------------------------------------------------------------------------------------


def test_daily_assets_share_one_partitions_definition_bounded_by_the_data_scope(
    graph, env, sources, served_tables
):
    import dagster as dg

    partitioned = {
        k: graph.get(k).partitions_def for k in graph.get_all_asset_keys() if graph.get(k).partitions_def
    }
    definitions = set(partitioned.values())
    assert len(definitions) == 1, f"{len(definitions)} partitions definitions: {definitions}"
    (days,) = definitions
    assert isinstance(days, dg.DailyPartitionsDefinition)

    scope = env.data_scope
    assert scope.end is not None, "the testing environment must have a closed data scope"
    assert days.timezone == scope.timezone
    assert days.get_first_partition_key() == scope.start.isoformat()
    assert days.get_last_partition_key() == scope.end.isoformat()
    keys = days.get_partition_keys()
    assert keys[0] == scope.start.isoformat() and keys[-1] == scope.end.isoformat()
    assert len(keys) == (scope.end - scope.start).days + 1
    assert (scope.end + dt.timedelta(days=1)).isoformat() not in keys

    # Which assets are daily: every pillar of a daily source, the served tables and their marts.
    expected_daily = {_key("serving", t.name) for t in served_tables} | {_model_key(t) for t in served_tables}
    for source in sources:
        for pillar in ("ingestion", "raw", "warehouse"):
            key = _key(pillar, source.name)
            if source.is_daily:
                expected_daily.add(key)
            else:
                assert key not in partitioned, f"{key.to_user_string()} is a dimension but partitioned"
    assert expected_daily <= set(partitioned), _names(expected_daily - set(partitioned))


def test_daily_pipeline_is_partitioned_like_its_assets(defs, graph, served_tables):
    job = defs.resolve_job_def("daily_pipeline")
    days = graph.get(_key("serving", served_tables[0].name)).partitions_def
    assert days is not None
    assert job.partitions_def == days
