"""Loads every source declared in `sources/*.yaml`."""

from __future__ import annotations

import functools
from pathlib import Path

from dataops_assets.paths import SOURCES_DIR
from dataops_assets.sources.model import Source
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model


def read_declarations(directory: Path = SOURCES_DIR) -> tuple[tuple[Source, ...], list[str]]:
    """Every valid declaration, and one problem (naming its file) per invalid one."""
    sources: list[Source] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            sources.append(load_yaml_model(path, Source))
        except InvalidConfig as error:
            problems.append(str(error))
    return tuple(sources), problems


@functools.cache
def load_sources(directory: Path = SOURCES_DIR) -> tuple[Source, ...]:
    sources, problems = read_declarations(directory)
    if problems:
        more = f" (and {len(problems) - 1} more: see `dataops source check`)" if len(problems) > 1 else ""
        raise InvalidConfig(problems[0] + more)
    return sources


def get_source(name: str) -> Source:
    for source in load_sources():
        if source.name == name:
            return source
    known = ", ".join(s.name for s in load_sources())
    raise InvalidConfig(f"unknown dataset {name!r}; declared sources: {known}")
