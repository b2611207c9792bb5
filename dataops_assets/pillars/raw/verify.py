"""Re-hashes cold storage against its manifests: every missing, changed or unexpected file is reported."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from dataops_assets import layout
from dataops_assets.resources.cold_storage import ColdStorage


@dataclass
class VerifyReport:
    manifests_checked: int = 0
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)


def verify_cold_storage(cold_storage: ColdStorage) -> VerifyReport:
    report = VerifyReport()
    keys = cold_storage.list_keys(layout.RAW) + cold_storage.list_keys(layout.ARCHIVE)
    referenced: set[str] = set()
    for key in keys:
        if not key.endswith("/" + layout.MANIFEST):
            continue
        report.manifests_checked += 1
        try:
            manifest = json.loads(cold_storage.get_bytes(key))
        except ValueError:
            report.problems.append(f"unreadable manifest: {key}")
            continue
        for entry in manifest.get("files", []) + manifest.get("history", []):
            referenced.add(entry["path"])
            report.files_checked += 1
            if not cold_storage.exists(entry["path"]):
                report.problems.append(f"missing: {entry['path']} (listed in {key})")
                continue
            data = cold_storage.get_bytes(entry["path"])
            if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["bytes"]:
                report.problems.append(f"changed: {entry['path']} (sha256 differs from {key})")
    for key in keys:
        if not key.endswith("/" + layout.MANIFEST) and key not in referenced:
            report.problems.append(f"extra: {key} (in no manifest)")
    return report
