"""The S3 part of an environment's desired state: its buckets, and a marker object per prefix (the
'folder' the S3 console shows, so an empty zone is visibly there)."""

from __future__ import annotations

from dataops_assets.environments.model import Environment, S3Storage
from dataops_assets.provisioning.changes import Part, settle
from dataops_assets.resources.s3 import endpoint_url, is_not_found, s3_client


def _exists(call) -> bool:
    try:
        call()
    except Exception as error:
        if is_not_found(error):
            return False
        raise
    return True


def inspect(env: Environment, applied: set[str]) -> Part | None:
    specs = [(section, getattr(env, section)) for section in ("landing", "cold_storage")]
    specs = [(section, spec) for section, spec in specs if isinstance(spec, S3Storage)]
    if not specs:
        return None
    changes = []
    clients: dict[str, object] = {}
    bucket_exists: dict[str, bool] = {}
    for section, spec in specs:
        if spec.bucket not in clients:
            client = clients[spec.bucket] = s3_client(spec.region)
            bucket_exists[spec.bucket] = _exists(lambda c=client, b=spec.bucket: c.head_bucket(Bucket=b))
            config = {}
            if spec.region != "us-east-1":  # us-east-1 refuses an explicit location constraint
                config = {"CreateBucketConfiguration": {"LocationConstraint": spec.region}}
            changes.append(
                settle(
                    f"s3 bucket {spec.bucket}",
                    bucket_exists[spec.bucket],
                    applied,
                    lambda c=client, b=spec.bucket, k=config: c.create_bucket(Bucket=b, **k),
                )
            )
        if spec.prefix:
            client = clients[spec.bucket]
            there = bucket_exists[spec.bucket] and _exists(
                lambda c=client, b=spec.bucket, p=spec.prefix: c.head_object(Bucket=b, Key=p)
            )
            changes.append(
                settle(
                    f"s3 prefix s3://{spec.bucket}/{spec.prefix} ({section})",
                    there,
                    applied,
                    lambda c=client, b=spec.bucket, p=spec.prefix: c.put_object(Bucket=b, Key=p, Body=b""),
                )
            )
    return Part(f"S3 {endpoint_url() or 'AWS'}", changes)
