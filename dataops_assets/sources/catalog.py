"""Loads every source declared in `sources/*.yaml`."""

from __future__ import annotations

import functools
from pathlib import Path

from dataops_assets.paths import SOURCES_DIR
from dataops_assets.sources.model import Source
from dataops_assets.yaml_config import InvalidConfig, load_yaml_model


@functools.cache
def load_sources(directory: Path = SOURCES_DIR) -> tuple[Source, ...]:
    return tuple(load_yaml_model(p, Source) for p in sorted(directory.glob("*.yaml")))


def get_source(name: str) -> Source:
    for source in load_sources():
        if source.name == name:
            return source
    known = ", ".join(s.name for s in load_sources())
    raise InvalidConfig(f"unknown dataset {name!r}; declared sources: {known}")
