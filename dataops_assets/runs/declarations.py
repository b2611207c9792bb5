"""Every declaration, checked before anything runs: the sources (`sources/*.yaml`, and dbt's `raw`
sources generated from them) and the dbt models' serve and archive declarations (`meta.dataops.serve`,
`meta.dataops.archive`).

`dataops pipeline run` checks them before it writes anything (before the replay drops a landing
file); `dataops source check` lists every problem.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from dataops_assets.curated import InvalidArchiveDeclaration, curated_models
from dataops_assets.paths import SOURCES_DIR
from dataops_assets.pillars.processing.dbt_project import ensure_manifest
from dataops_assets.served import InvalidServeDeclaration, ServedTable, served_tables
from dataops_assets.sources.catalog import read_declarations
from dataops_assets.sources.model import Source
from dataops_assets.yaml_config import InvalidConfig


class InvalidDeclarations(InvalidConfig):
    """Declarations that cannot run: the message is the first problem, `problems` has them all."""

    def __init__(self, problems: list[str]):
        more = f" (and {len(problems) - 1} more: see `dataops source check`)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)
        self.problems = problems


@dataclass(frozen=True)
class Declarations:
    sources: tuple[Source, ...]
    served: dict[str, ServedTable]


def _dbt_problem(error: RuntimeError) -> str:
    """dbt's own words for why the project does not parse, in one line: the error's kind and its
    first lines, up to the excerpt dbt quotes below them."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.split("Encountered an error:", 1)[-1].splitlines() if line.strip()]
    said = list(itertools.takewhile(lambda line: not line.startswith("---"), lines))[:3]
    return f"dbt cannot parse dbt_project/: {': '.join(said[:2])}{' ' + said[2] if len(said) > 2 else ''}"


def check_declarations() -> Declarations:
    """The project's sources and served tables, or InvalidDeclarations listing what is wrong."""
    sources, problems = read_declarations(SOURCES_DIR)
    if problems:
        raise InvalidDeclarations(problems)
    try:
        ensure_manifest()
    except RuntimeError as error:  # dbt parse failed
        raise InvalidDeclarations([_dbt_problem(error)]) from None
    try:
        served = served_tables()
        curated_models()
    except (InvalidServeDeclaration, InvalidArchiveDeclaration) as error:
        raise InvalidDeclarations([str(error)]) from None
    return Declarations(sources, served)
