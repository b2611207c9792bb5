"""Reads a YAML file into a typed model, with errors that name the file and the bad key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
# libyaml's loader when PyYAML has it: the code location reads every source and environment at load.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InvalidConfig(ValueError):
    """A configuration file is missing or invalid; the message names the file and the bad key."""


def load_yaml_model(path: Path, model: type[M]) -> M:
    try:
        raw = yaml.load(path.read_text(), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise InvalidConfig(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise InvalidConfig(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise InvalidConfig(f"{path}: expected a mapping at the top level")
    if raw.get("name") != path.stem:
        raise InvalidConfig(f"{path}: name {raw.get('name')!r} must match the file name {path.stem!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise InvalidConfig(f"{path}: {validation_problems(error)}") from None


def validation_problems(error: ValidationError) -> str:
    """A model's validation errors in one line: 'key.path: what is wrong', the file-wide ones bare."""
    problems = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)
