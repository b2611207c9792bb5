"""The hot data HTTP API (`dataops serve`): read-only, over the hot store of the selected environment.

- `reader.py`    read-only access to the hot store, one adapter per backend
- `queries.py`   request parameters -> validated query -> parameterised SQL, and the paging cursor
- `schemas.py`   the response models (they are the OpenAPI document)
- `app.py`       the FastAPI application and its request log
"""
