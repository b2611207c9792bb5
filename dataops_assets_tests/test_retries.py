"""Step retries: every asset that reaches S3 or PostgreSQL retries with exponential backoff, as the
environment declares once; a deterministic failure (a refused file) is not retried."""

from __future__ import annotations

import dagster as dg
import pytest

from dataops_assets.environments.loader import load_environment
from dataops_assets.pillars.retries import remote_resources, with_step_retries


@pytest.fixture(scope="module")
def staging_defs():
    from dataops_assets.definitions import build_definitions

    return build_definitions(load_environment("staging"))


def test_staging_gives_every_asset_reaching_s3_or_postgres_the_declared_policy(staging_defs):
    env = load_environment("staging")
    remote = remote_resources(env)
    assert remote == {"landing", "cold_storage", "warehouse", "hot_store", "dbt"}
    steps = env.reliability.step_retries
    assets = [a for a in staging_defs.assets if isinstance(a, dg.AssetsDefinition)]
    reaching = [a for a in assets if a.required_resource_keys & remote]
    assert len(reaching) >= 20  # ingestion, raw, warehouse loads, dbt, serving, retention, science
    for asset in reaching:
        policy = asset.op.retry_policy
        assert policy is not None, asset.key
        assert (policy.max_retries, policy.delay, policy.backoff) == (
            steps.max_retries, steps.delay_seconds, dg.Backoff.EXPONENTIAL
        )  # fmt: skip
    assert all(a.op.retry_policy is None for a in assets if not a.required_resource_keys & remote)


def test_the_sandbox_retries_nothing():
    assert remote_resources(load_environment("sandbox")) == set()


def _flaky_assets(env, failures: int, exception: type[Exception]):
    """An asset needing cold storage that fails `failures` times, then succeeds; its attempt count."""
    attempts = []

    @dg.asset(required_resource_keys={"cold_storage"})
    def flaky(context):
        attempts.append(context.retry_number)
        if len(attempts) <= failures:
            raise exception("connection reset by peer")

    return with_step_retries([flaky], env), attempts


def _fast(name: str):
    env = load_environment(name)
    reliability = env.reliability.model_copy(
        update={"step_retries": env.reliability.step_retries.model_copy(update={"delay_seconds": 0.01})}
    )
    return env.model_copy(update={"reliability": reliability})


def test_a_transient_error_is_retried_and_the_step_succeeds():
    assets, attempts = _flaky_assets(_fast("staging"), failures=2, exception=ConnectionError)
    result = dg.materialize(assets, resources={"cold_storage": dg.ResourceDefinition.none_resource()})
    assert result.success and attempts == [0, 1, 2]


def test_a_failure_that_says_so_is_not_retried():
    def refused(message):
        return dg.Failure(message, allow_retries=False)

    assets, attempts = _flaky_assets(_fast("staging"), failures=5, exception=refused)
    result = dg.materialize(
        assets, resources={"cold_storage": dg.ResourceDefinition.none_resource()}, raise_on_error=False
    )
    assert not result.success and attempts == [0]
