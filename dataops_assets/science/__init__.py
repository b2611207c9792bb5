"""The science track: frozen snapshots of cold storage, reproducible experiments on them, and a
champion/challenger gate per task that decides which model's predictions the hot store serves.

Tasks and models are the data scientists' files under `science/` (see docs/science.md)."""

from dataops_assets.science.features import load_task_frame

__all__ = ["load_task_frame"]
