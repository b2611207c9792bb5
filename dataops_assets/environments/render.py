"""What an environment implies for Dagster: its instance config (dagster.yaml) and pool limits."""

from __future__ import annotations

import yaml

from dataops_assets.environments.model import Environment

HEADER = "# Rendered from environments/{name}.yaml by dataops: edit that file, not this one.\n"


def instance_config(env: Environment) -> dict:
    return {
        "telemetry": {"enabled": False},
        "concurrency": {
            "runs": {"max_concurrent_runs": env.scale.max_concurrent_runs},
            # Pools not named in the environment (none today) get the strictest limit.
            "pools": {"default_limit": min(env.scale.pool_limits.values(), default=1)},
        },
    }


def render_instance_yaml(env: Environment) -> str:
    return HEADER.format(name=env.name) + yaml.safe_dump(instance_config(env), sort_keys=False)


def apply_pool_limits(instance, env: Environment) -> None:
    """Per-pool limits live in the instance's storage, not in dagster.yaml: set them there."""
    for pool, limit in env.scale.pool_limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)
