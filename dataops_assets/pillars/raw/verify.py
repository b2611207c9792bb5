"""Re-hashes cold storage against its manifests: every missing, changed or unexpected file is reported.

One kind of file outside every manifest is not a problem: a data file whose content matches its
content-addressed name, left by a publish killed before its manifest was written. No reader sees it
(readers go through manifests); it is listed as unpublished, and the next publish of the same data
adopts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dataops_assets import layout
from dataops_assets.names import UnsafeName, checked_key
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
    keys = []
    for key in [k for zone in layout.PUBLISHED_ZONES for k in cold_storage.list_keys(zone)]:
        try:
            keys.append(checked_key("key", key))
        except UnsafeName as unsafe:  # an S3 object named raw/../x: reported, never read
            report.problems.append(f"bad key: {unsafe}")
    referenced: set[str] = set()
    for key in keys:
        if not key.endswith("/" + layout.MANIFEST):
            continue
        report.manifests_checked += 1
        try:
            _, entries, problems = layout.manifest_entries(cold_storage.get_bytes(key), key)
        except layout.BadManifest as bad:
            report.problems.append(f"unreadable manifest: {bad}")
            continue
        # A tampered entry (../, another partition's file, a glob, no sha256) is a finding, never read.
        report.problems += [f"bad entry in {key}: {problem}" for problem in problems]
        for entry in entries:
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
