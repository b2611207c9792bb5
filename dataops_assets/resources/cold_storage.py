"""Cold storage: immutable files addressed by key ('raw/flights/date=2013-01-01/part-….parquet').

One interface, one implementation per backend: a local directory (sandbox, testing) or an S3 bucket
and prefix (the shared environments). Every write is atomic: a reader sees the whole object or none of
it (a rename locally; an S3 PUT is atomic by design).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import dagster as dg

from dataops_assets.integrity import CHUNK, sha256_file
from dataops_assets.resources.s3 import is_not_found, s3_client


class ColdStorage(dg.ConfigurableResource):
    """The operations the pillars need from cold storage, whatever holds it."""

    def put_file(self, local: Path, key: str) -> None:
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def copy(self, source_key: str, target_key: str) -> None:
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def sha256(self, key: str) -> str:
        """The stored object's sha256, read as a stream (a file need not fit in memory)."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def list_keys(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def readable_path(self, key: str) -> str:
        """A path or URL a reader (DuckDB, pyarrow) can open directly."""
        raise NotImplementedError

    def uri(self, key: str) -> str:
        raise NotImplementedError


class LocalColdStorage(ColdStorage):
    root: str

    def _path(self, key: str) -> Path:
        root = Path(self.root).resolve()
        path = (root / key).resolve()
        if root not in path.parents:
            raise ValueError(f"storage key {key!r} escapes the storage root")
        return path

    def _atomic_place(self, key: str, write) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)  # atomic on POSIX: readers see the old file or the new one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, local: Path, key: str) -> None:
        def copy(handle):
            with open(local, "rb") as src:
                shutil.copyfileobj(src, handle, 1 << 20)

        self._atomic_place(key, copy)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic_place(key, lambda handle: handle.write(data))

    def copy(self, source_key: str, target_key: str) -> None:
        # Stored files are never changed in place (every write replaces a file whole), so a hard
        # link is a copy that costs no bytes: publishing a staged partition does not rewrite it.
        source, target = self._path(source_key), self._path(target_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        link = target.with_name(f".{target.name}.{os.getpid()}.link")
        try:
            os.link(source, link)
        except OSError:  # another filesystem, or links not supported: copy the bytes
            self.put_file(source, target_key)
            return
        os.replace(link, target)

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def sha256(self, key: str) -> str:
        return sha256_file(self._path(key))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        root = Path(self.root).resolve()
        base = self._path(prefix) if prefix else root
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def readable_path(self, key: str) -> str:
        return str(self._path(key))

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()


class S3ColdStorage(ColdStorage):
    bucket: str
    prefix: str = ""
    region: str = "us-east-1"

    @property
    def client(self):
        return s3_client(self.region)

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"storage key {key!r} escapes the storage prefix")
        return self.prefix + key

    def put_file(self, local: Path, key: str) -> None:
        self.client.upload_file(str(local), self.bucket, self._key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def copy(self, source_key: str, target_key: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket,
            Key=self._key(target_key),
            CopySource={"Bucket": self.bucket, "Key": self._key(source_key)},
        )

    def get_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        for chunk in body.iter_chunks(CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as error:
            if is_not_found(error):
                return False
            raise
        return True

    def list_keys(self, prefix: str) -> list[str]:
        # A prefix names a folder, as it does locally: "raw" must not match "raw_archive/...".
        folder = self._key(prefix.rstrip("/") + "/" if prefix else "")
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            for obj in page.get("Contents", []):
                key = obj["Key"].removeprefix(self.prefix)
                if not key.endswith("/") and not key.rsplit("/", 1)[-1].startswith("."):
                    keys.append(key)
        return sorted(keys)

    def readable_path(self, key: str) -> str:
        return self.uri(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"
