"""The local part of an environment's desired state: its landing and cold storage directories."""

from __future__ import annotations

from dataops_assets.environments.model import Environment, LocalStorage
from dataops_assets.provisioning.changes import Part, settle


def inspect(env: Environment) -> Part | None:
    changes = []
    for section in ("landing", "cold_storage"):
        spec = getattr(env, section)
        if isinstance(spec, LocalStorage):
            path = env.local_path(spec.path)
            changes.append(
                settle(
                    f"directory {path} ({section})",
                    path.is_dir(),
                    set(),
                    lambda path=path: path.mkdir(parents=True, exist_ok=True),
                )
            )
    return Part(f"local {env.data_path}", changes) if changes else None
