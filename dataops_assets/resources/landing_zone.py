"""The landing zone: where upstream systems drop files for ingestion to pick up.

Locally a directory; on S3 a bucket and prefix, whose matching objects are fetched into a local cache
so validation reads them as files, exactly as it does locally.

The zone stays a zone: a file is read only if it lies inside it. A symbolic link (to a file or to a
folder on the way) that leads outside, a name with `..` or an absolute name is refused with
`LeavesTheZone`, naming the file and never reading it. Listing (what the sensors do) never refuses:
the run that would read such a file fails with the reason, so the rest of the zone keeps flowing.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import dagster as dg

from dataops_assets.names import UnsafeName, checked_key
from dataops_assets.refused import LeavesTheZone
from dataops_assets.resources.s3 import s3_client


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A landing glob as a regex over names, with Path.glob's meaning: `*` stays within a folder."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    wildcard = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("^" + "".join(wildcard.get(p, re.escape(p)) for p in parts) + "$")


def _inside(root: Path, name: str) -> Path:
    """`root / name` if it lies inside `root` once every symbolic link on the way is followed;
    LeavesTheZone naming the file if it does not (an absolute name, `..`, a link out)."""
    path = root / name
    if not path.resolve().is_relative_to(root.resolve()):
        lexically_inside = Path(os.path.normpath(path.absolute())).is_relative_to(root.absolute())
        how = "a symbolic link on its way" if lexically_inside else "its name (absolute, or ..)"
        raise LeavesTheZone(name, f"refused: {how} leads outside the landing zone")
    return path


class LandingZone(dg.ConfigurableResource):
    def files(self, pattern: str) -> list[Path]:
        """The files matching a source's landing glob, in a stable order, as local paths."""
        raise NotImplementedError

    def files_with_mtime(self, pattern: str) -> list[tuple[Path, float]]:
        return [(p, p.stat().st_mtime) for p in self.files(pattern)]

    def name_of(self, path: Path) -> str:
        """A file's name relative to the zone, as manifests and quarantines record it."""
        raise NotImplementedError

    def names(self, pattern: str) -> list[str]:
        """The names matching a glob, without fetching the files."""
        return [self.name_of(p) for p in self.files(pattern)]

    def listing(self, pattern: str) -> list[tuple[str, str]]:
        """(name, version marker) of each file matching a glob, without fetching it: the marker
        changes whenever the file may have (its size and time locally, its ETag on S3)."""
        raise NotImplementedError

    def fetch(self, name: str) -> Path:
        """One file of the zone, by name, as a local path."""
        raise NotImplementedError

    def put_file(self, local: Path, name: str) -> None:
        """Drop a file into the zone under `name`, atomically (what an upstream system does)."""
        raise NotImplementedError


class LocalLandingZone(LandingZone):
    root: str

    def _matching(self, pattern: str) -> list[Path]:
        """The files matching a glob, whether or not they lie inside the zone (glob follows links)."""
        return sorted(p for p in Path(self.root).glob(pattern) if p.is_file() and not p.name.startswith("."))

    def files(self, pattern: str) -> list[Path]:
        # Every file checked before any is read: one leading outside refuses the lot, naming itself.
        return [_inside(Path(self.root), self.name_of(p)) for p in self._matching(pattern)]

    def files_with_mtime(self, pattern: str) -> list[tuple[Path, float]]:
        return [(p, p.stat().st_mtime) for p in self._matching(pattern)]

    def name_of(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def names(self, pattern: str) -> list[str]:
        return [self.name_of(p) for p in self._matching(pattern)]

    def listing(self, pattern: str) -> list[tuple[str, str]]:
        return [
            (self.name_of(p), f"{p.stat().st_size}:{p.stat().st_mtime_ns}") for p in self._matching(pattern)
        ]

    def fetch(self, name: str) -> Path:
        return _inside(Path(self.root), name)

    def put_file(self, local: Path, name: str) -> None:
        target = Path(self.root) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(local, tmp)
        os.replace(tmp, target)


class S3LandingZone(LandingZone):
    bucket: str
    prefix: str = ""
    cache_dir: str  # where fetched objects are kept for validation to read
    region: str = "us-east-1"

    @property
    def client(self):
        return s3_client(self.region)

    def objects(self, pattern: str = "**") -> list[dict]:
        """The zone's objects whose names match `pattern` (each with Key, LastModified, ETag, Size)."""
        regex = glob_regex(pattern)
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for obj in page.get("Contents", []):
                name = obj["Key"].removeprefix(self.prefix)
                if regex.match(name) and not name.rsplit("/", 1)[-1].startswith("."):
                    found.append(obj)
        return sorted(found, key=lambda o: o["Key"])

    def name_of_key(self, key: str) -> str:
        return key.removeprefix(self.prefix)

    def names(self, pattern: str) -> list[str]:
        return [self.name_of_key(o["Key"]) for o in self.objects(pattern)]

    def files(self, pattern: str) -> list[Path]:
        keys = [obj["Key"] for obj in self.objects(pattern)]
        targets = [self._cached(key) for key in keys]  # every key checked before any is fetched
        return [self._download(key, target) for key, target in zip(keys, targets, strict=True)]

    def listing(self, pattern: str) -> list[tuple[str, str]]:
        return [(self.name_of_key(o["Key"]), o["ETag"].strip('"')) for o in self.objects(pattern)]

    def fetch(self, name: str) -> Path:
        key = self.prefix + name
        return self._download(key, self._cached(key))

    def _download(self, key: str, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            self.client.download_file(self.bucket, key, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def _cached(self, key: str) -> Path:
        """Where object `key` is cached: inside the cache, or LeavesTheZone naming the key (an object
        named `landing/flights/../../x.csv` must not be written outside it)."""
        try:
            name = self.name_of_key(checked_key("landing key", key))
        except UnsafeName:
            raise LeavesTheZone(
                f"landing key {key!r}", "refused: an empty, . or .. part leads outside the landing zone"
            ) from None
        cache = Path(self.cache_dir).resolve()
        target = (cache / name).resolve()
        if cache not in target.parents:
            raise LeavesTheZone(f"landing key {key!r}", "refused: it leads outside the landing zone")
        return target

    def name_of(self, path: Path) -> str:
        return str(path.relative_to(Path(self.cache_dir).resolve()))

    def put_file(self, local: Path, name: str) -> None:
        self.client.upload_file(str(local), self.bucket, self.prefix + name)
