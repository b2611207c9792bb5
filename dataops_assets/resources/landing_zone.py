"""The landing zone: where upstream systems drop files for ingestion to pick up."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class LandingZone(dg.ConfigurableResource):
    def files(self, pattern: str) -> list[Path]:
        """The files matching a source's landing glob, in a stable order."""
        raise NotImplementedError

    def files_with_mtime(self, pattern: str) -> list[tuple[Path, float]]:
        return [(p, p.stat().st_mtime) for p in self.files(pattern)]

    def name_of(self, path: Path) -> str:
        """A file's name relative to the zone, as manifests and quarantines record it."""
        raise NotImplementedError


class LocalLandingZone(LandingZone):
    root: str

    def files(self, pattern: str) -> list[Path]:
        return sorted(p for p in Path(self.root).glob(pattern) if p.is_file() and not p.name.startswith("."))

    def name_of(self, path: Path) -> str:
        return str(path.relative_to(self.root))
