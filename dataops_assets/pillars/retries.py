"""Step retries for the assets that reach S3 or PostgreSQL, declared once (the environment's
`reliability.step_retries`) and given to every such asset here, not written on each.

An asset reaches a remote service when a resource it requires is backed by one in this environment:
the landing zone or cold storage on S3, the warehouse or hot store on PostgreSQL (dbt too, which
writes the warehouse). A refused file or a missing day is not transient: those failures say
`allow_retries=False` and fail at once.
"""

from __future__ import annotations

import dagster as dg

from dataops_assets.environments.model import Environment, PostgresHotStore, PostgresWarehouse, S3Storage


def remote_resources(env: Environment) -> set[str]:
    """The resource keys that reach S3 or PostgreSQL in `env`."""
    remote = {
        "landing": isinstance(env.landing, S3Storage),
        "cold_storage": isinstance(env.cold_storage, S3Storage),
    }
    remote |= {
        "warehouse": isinstance(env.warehouse, PostgresWarehouse),
        "hot_store": isinstance(env.hot_store, PostgresHotStore),
    }
    remote["dbt"] = remote["warehouse"]
    return {key for key, is_remote in remote.items() if is_remote}


def step_retry_policy(env: Environment) -> dg.RetryPolicy:
    steps = env.reliability.step_retries
    return dg.RetryPolicy(
        max_retries=steps.max_retries,
        delay=steps.delay_seconds,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,  # retries of parallel steps do not hit the service in step
    )


def _with_retry_policy(asset: dg.AssetsDefinition, policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    """`asset` whose op has `policy` (Dagster has no public way to set it after the decorator)."""
    op = asset.op
    retried = dg.OpDefinition.dagster_internal_init(
        name=op.name,
        ins={d.name: dg.In.from_definition(d) for d in op.input_defs},
        outs={d.name: dg.Out.from_definition(d) for d in op.output_defs},
        compute_fn=op.compute_fn,
        config_schema=op.config_schema,
        description=op.description,
        tags=op.tags,
        required_resource_keys=op.required_resource_keys,
        code_version=op.version,
        retry_policy=policy,
        version=None,
        pool=op.pool,
    )
    return dg.AssetsDefinition.dagster_internal_init(**(asset.get_attributes_dict() | {"node_def": retried}))


def with_step_retries(assets: list[dg.AssetsDefinition], env: Environment) -> list[dg.AssetsDefinition]:
    """`assets`, each that requires a remote resource given the environment's step retry policy."""
    remote = remote_resources(env)
    if not remote or env.reliability.step_retries.max_retries == 0:
        return assets
    policy = step_retry_policy(env)
    return [
        _with_retry_policy(a, policy)
        if a.required_resource_keys & remote and a.op.retry_policy is None
        else a
        for a in assets
    ]
