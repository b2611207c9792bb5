"""Environment files: every one validates, and a mistake is a clear error naming the key."""

from __future__ import annotations

import pytest
import yaml

from dataops_assets.environments.loader import load_environment, selected_environment_name
from dataops_assets.environments.model import ENVIRONMENT_NAMES, Environment, MissingSecretError, SecretRef
from dataops_assets.paths import ENVIRONMENTS_DIR
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model


@pytest.mark.parametrize("path", sorted(ENVIRONMENTS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_environment_file_validates(path):
    env = load_yaml_model(path, Environment)
    assert env.name == path.stem in ENVIRONMENT_NAMES


def test_sandbox_and_testing_are_declared():
    assert {p.stem for p in ENVIRONMENTS_DIR.glob("*.yaml")} >= {"sandbox", "testing"}


def _write(tmp_path, file_stem, **changes):
    data = yaml.safe_load((ENVIRONMENTS_DIR / "testing.yaml").read_text())
    data.update(changes)
    path = tmp_path / f"{file_stem}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_an_unknown_key_is_an_error_naming_it(tmp_path):
    path = _write(tmp_path, "testing", scale={"max_concurrent_runz": 2})
    with pytest.raises(InvalidConfig, match=r"testing\.yaml: scale\.max_concurrent_runz: Extra inputs"):
        load_yaml_model(path, Environment)


def test_a_bad_value_is_an_error_naming_the_key(tmp_path):
    path = _write(tmp_path, "testing", warehouse={"kind": "oracle"})
    with pytest.raises(InvalidConfig, match=r"warehouse: .*'duckdb'"):
        load_yaml_model(path, Environment)


@pytest.mark.parametrize("seconds", [1, 7200])
def test_a_landing_interval_out_of_range_is_refused_naming_the_key(tmp_path, seconds):
    path = _write(tmp_path, "testing", automation={"landing_interval_seconds": seconds})
    with pytest.raises(InvalidConfig, match=r"automation\.landing_interval_seconds: Input should be"):
        load_yaml_model(path, Environment)


def test_name_must_match_file(tmp_path):
    path = _write(tmp_path, "testing", name="sandbox")
    with pytest.raises(InvalidConfig, match="must match the file name"):
        load_yaml_model(path, Environment)


def test_data_scope_end_before_start_is_refused(tmp_path):
    path = _write(tmp_path, "testing", data_scope={"start": "2013-02-01", "end": "2013-01-01"})
    with pytest.raises(InvalidConfig, match="before data_scope.start"):
        load_yaml_model(path, Environment)


def test_dataops_env_selects_and_defaults(monkeypatch):
    monkeypatch.delenv("DATAOPS_ENV", raising=False)
    assert selected_environment_name() == "sandbox"
    monkeypatch.setenv("DATAOPS_ENV", "testing")
    assert load_environment().name == "testing"
    monkeypatch.setenv("DATAOPS_ENV", "../etc/passwd")
    with pytest.raises(InvalidConfig, match="DATAOPS_ENV='../etc/passwd' is not an environment"):
        selected_environment_name()


def test_data_dir_override_moves_every_local_path(monkeypatch, tmp_path):
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    env = load_environment("testing")
    assert env.local_path(env.cold_storage.path) == tmp_path / "cold"


def test_a_missing_secret_names_its_variable(monkeypatch):
    monkeypatch.delenv("DATAOPS_PG_DSN", raising=False)
    with pytest.raises(MissingSecretError, match="DATAOPS_PG_DSN is not set"):
        SecretRef(env="DATAOPS_PG_DSN").resolve()
    monkeypatch.setenv("DATAOPS_PG_DSN", "postgresql://x")
    assert SecretRef(env="DATAOPS_PG_DSN").resolve() == "postgresql://x"


def test_checked_in_dagster_yaml_is_the_sandbox_rendering():
    from dataops_assets.environments.render import render_instance_yaml
    from dataops_assets.paths import PROJECT_DIR

    assert (PROJECT_DIR / "dagster.yaml").read_text() == render_instance_yaml(load_environment("sandbox"))


@pytest.mark.parametrize("name", ["sandbox", "testing"])
def test_rendered_instance_config_is_valid_dagster_config(name, tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    from dataops_assets.environments.render import render_instance_yaml

    (tmp_path / "dagster.yaml").write_text(render_instance_yaml(load_environment(name)))
    config, _ = dagster_instance_config(str(tmp_path))
    assert (
        config["concurrency"]["runs"]["max_concurrent_runs"]
        == load_environment(name).scale.max_concurrent_runs
    )
