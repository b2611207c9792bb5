"""Where the project's checked-in configuration lives (environments/, sources/, dbt_project/)."""

import os
from pathlib import Path

# The package is installed editable from the repository, so the repository root is its parent.
# DATAOPS_PROJECT_DIR lets a packaged deployment point elsewhere.
PROJECT_DIR = Path(os.environ.get("DATAOPS_PROJECT_DIR", Path(__file__).resolve().parent.parent))
ENVIRONMENTS_DIR = PROJECT_DIR / "environments"
SOURCES_DIR = PROJECT_DIR / "sources"
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"
# dbt's manifest, kept current by pillars/processing/dbt_project.py; the served tables are read from it.
DBT_MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# Data scientists' files: science/tasks/<task>.yaml + .sql and science/models/<model>.py|.yaml.
SCIENCE_DIR = PROJECT_DIR / "science"
