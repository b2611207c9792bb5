"""Selects and loads the environment file named by DATAOPS_ENV (default: sandbox)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from dataops_assets.environments.model import ENVIRONMENT_NAMES, Environment
from dataops_assets.paths import ENVIRONMENTS_DIR
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model

DEFAULT_ENVIRONMENT = "sandbox"


def _check_name(name: str, origin: str) -> str:
    if name not in ENVIRONMENT_NAMES:
        raise InvalidConfig(
            f"{origin}{name!r} is not an environment; expected one of {', '.join(ENVIRONMENT_NAMES)}"
        )
    return name


def selected_environment_name() -> str:
    name = os.environ.get("DATAOPS_ENV", "").strip() or DEFAULT_ENVIRONMENT
    return _check_name(name, "DATAOPS_ENV=")


def environment_file(name: str) -> Path:
    return ENVIRONMENTS_DIR / f"{_check_name(name, '')}.yaml"


def load_environment(name: str | None = None) -> Environment:
    return _load_cached(name or selected_environment_name())


@functools.cache
def _load_cached(name: str) -> Environment:
    return load_yaml_model(environment_file(name), Environment)
