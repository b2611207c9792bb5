"""The main job: every pillar, for a window of days, as one run."""

from __future__ import annotations

import dagster as dg

PIPELINE_GROUPS = ("ingestion", "raw", "processing", "serving")
DAILY_PIPELINE = "daily_pipeline"

daily_pipeline = dg.define_asset_job(
    DAILY_PIPELINE,
    selection=dg.AssetSelection.groups(*PIPELINE_GROUPS),
    description="Ingestion -> cold raw storage -> dbt processing -> hot serving for a window of days. "
    "Select a partition range: the whole window runs as one run (single-run backfill).",
)
