"""Re-hashes cold storage against its manifests: every missing, changed or unexpected file is reported.

One kind of file outside every manifest is not a problem: a data file whose content matches its
content-addressed name, left by a publish killed before its manifest was written. No reader sees it
(readers go through manifests); it is listed as unpublished, and the next publish of the same data
adopts it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dataops_assets import layout
from dataops_assets.resources.cold_storage import ColdStorage


@dataclass
class VerifyReport:
    manifests_checked: int = 0
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)  # whole data files no manifest names yet


CONTENT_ADDRESSED = re.compile(r"/part-([0-9a-f]{16})\.parquet$")


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
            if cold_storage.sha256(entry["path"]) != entry["sha256"]:
                report.problems.append(f"changed: {entry['path']} (sha256 differs from {key})")
    for key in keys:
        if key.endswith("/" + layout.MANIFEST) or key in referenced:
            continue
        named = CONTENT_ADDRESSED.search(key)
        if named and cold_storage.sha256(key).startswith(named[1]):
            report.unpublished.append(key)
        else:
            report.problems.append(f"extra: {key} (in no manifest)")
    return report
