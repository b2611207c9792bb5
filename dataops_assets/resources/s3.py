"""What every S3-backed resource shares: the endpoint override, a client, and Arrow's view of a URL.

`DATAOPS_S3_ENDPOINT_URL` points the same code at an S3-compatible server (a moto server on loopback in
the tests, MinIO on a laptop) instead of AWS; credentials are the standard AWS_* variables.
"""

from __future__ import annotations

import functools
import os
from urllib.parse import urlparse

ENDPOINT_VARIABLE = "DATAOPS_S3_ENDPOINT_URL"


def endpoint_url() -> str | None:
    return os.environ.get(ENDPOINT_VARIABLE) or None


def s3_client(region: str):
    """A boto3 S3 client made by dagster-aws's S3Resource, honouring the endpoint override; one per
    region and endpoint, shared (boto3 clients are thread-safe)."""
    return _client(region, endpoint_url())


@functools.cache
def _client(region: str, endpoint: str | None):
    # Imported here, not at module load: dagster-aws and boto3 cost about a second, which an
    # environment without S3 (sandbox, testing) and every code-location load should not pay.
    from dagster_aws.s3 import S3Resource

    return S3Resource(region_name=region, endpoint_url=endpoint).get_client()


def is_not_found(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


def arrow_filesystem(path: str):
    """The filesystem Arrow should open `path` with (None for a local path), and the path within it."""
    if not path.startswith("s3://"):
        return None, path
    import pyarrow.fs as pafs

    endpoint = endpoint_url()
    options: dict = {"region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    if endpoint:
        parsed = urlparse(endpoint)
        options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "https")
    return pafs.S3FileSystem(**options), path.removeprefix("s3://")
