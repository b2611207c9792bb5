"""The hot data HTTP API (`dataops serve`): read-only, over the hot store of the selected environment.

- `reader.py`    read-only access to the hot store, one adapter per backend
- `queries.py`   request parameters -> validated query -> parameterised SQL, and the paging cursor
- `schemas.py`   the response models (they are the OpenAPI document)
- `auth.py`      the declared consumers and their tokens (kept as digests, compared in constant time)
- `limits.py`    a token bucket per consumer (429) and the bound on concurrent reads (503)
- `metrics.py`   the Prometheus metrics behind GET /metrics
- `app.py`       the FastAPI application: authentication, scopes, its request log
"""
