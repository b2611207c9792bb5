"""The real Dagster webserver loads the code location and shows the pillars and their checks.

`dagster-webserver -m dataops_assets.definitions` runs as a subprocess (its own process group, so the
gRPC code server it spawns goes down with it) on a free local port, with the testing environment,
data and DAGSTER_HOME in temporary directories. The test asks it over GraphQL what a user would see.

Self-contained: no conftest.py fixture is used, and the package is not imported at module level.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
CODE_LOCATION = "dataops_assets.definitions"
GROUPS = {"ingestion", "raw", "processing", "serving"}
ACCOUNTED_CHECK = "rows_accounted_for"
STARTUP_TIMEOUT = 90.0  # seconds until the server answers and the code location has loaded
REQUEST_TIMEOUT = 30.0

# Straight to 127.0.0.1: never through an HTTP proxy the environment may declare.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack cause { message } }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

ASSET_NODES_QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking } }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with _OPENER.open(url, timeout=REQUEST_TIMEOUT) as response:
        return response.status, response.read()


def _graphql(base_url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    with _OPENER.open(request, timeout=REQUEST_TIMEOUT) as response:
        assert response.status == 200, response.status
        body = json.loads(response.read())
    assert not body.get("errors"), f"GraphQL errors: {body['errors']}"
    return body["data"]


def _tail(path: Path, chars: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the webserver's whole process group (the webserver and its code server)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    # A child (the gRPC code server) may outlive its parent: make sure the group is gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _wait_until_loaded(proc: subprocess.Popen, base_url: str, log: Path) -> None:
    """Poll /server_info, then the workspace, until the code location is LOADED (bounded)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_problem = "no answer yet"
    answering = False
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if not answering:
                status, _ = _get(f"{base_url}/server_info")
                answering = status == 200
                last_problem = f"/server_info answered {status}"
            if answering:
                workspace = _graphql(base_url, WORKSPACE_QUERY)["workspaceOrError"]
                assert workspace["__typename"] == "Workspace", workspace
                entries = {e["name"]: e for e in workspace["locationEntries"]}
                assert entries, "the workspace has no code location"
                for entry in entries.values():
                    error = entry["locationOrLoadError"]
                    if error and error["__typename"] == "PythonError":
                        cause = (error.get("cause") or {}).get("message", "")
                        stack = "".join(error.get("stack") or [])
                        pytest.fail(
                            f"code location {entry['name']} failed to load:\n{error['message']}\n"
                            f"caused by: {cause}\n{stack}"
                        )
                if all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries.values()):
                    return
                last_problem = f"location status: {[(n, e['loadStatus']) for n, e in entries.items()]}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            last_problem = repr(error)
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver not ready after {STARTUP_TIMEOUT:.0f} s ({last_problem}):\n{_tail(log)}")


@pytest.fixture(scope="module")
def webserver(tmp_path_factory, request) -> str:
    """The base URL of a running dagster-webserver serving the code location; stopped afterwards."""
    executable = Path(sys.executable).parent / "dagster-webserver"
    if not executable.exists():
        pytest.fail(f"no dagster-webserver beside {sys.executable}")

    root = tmp_path_factory.mktemp("webserver")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO_DIR / "dagster.yaml", dagster_home / "dagster.yaml")
    data_dir = root / "data"
    data_dir.mkdir()
    log = root / "webserver.log"

    port = _free_port()
    env = os.environ | {
        "DATAOPS_ENV": "testing",
        "DATAOPS_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(dagster_home),
    }
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            [str(executable), "-h", "127.0.0.1", "-p", str(port), "-m", CODE_LOCATION],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so _stop() reaches the code server too
        )
    request.addfinalizer(lambda: _stop(proc))

    base_url = f"http://127.0.0.1:{port}"
    _wait_until_loaded(proc, base_url, log)
    return base_url


@pytest.mark.slow
def test_webserver_shows_the_pillar_groups_and_ingestion_checks(webserver):
    from dataops_assets.sources.catalog import load_sources

    nodes = _graphql(webserver, ASSET_NODES_QUERY)["assetNodes"]
    assert nodes, "the webserver lists no asset"

    by_group: dict[str, set[str]] = {}
    checks: dict[str, dict[str, bool]] = {}
    for node in nodes:
        key = "/".join(node["assetKey"]["path"])
        by_group.setdefault(node["groupName"], set()).add(key)
        result = node["assetChecksOrError"]
        assert result["__typename"] == "AssetChecks", f"{key}: {result}"
        checks[key] = {c["name"]: c["blocking"] for c in result["checks"]}

    assert set(by_group) == GROUPS | {"science"}, {g: sorted(keys) for g, keys in by_group.items()}

    # Every declared source shows its ingestion asset with the blocking rows_accounted_for check.
    expected_ingestion = {f"ingestion/{s.name}" for s in load_sources()}
    assert by_group["ingestion"] == expected_ingestion
    with_accounted = {key for key, named in checks.items() if ACCOUNTED_CHECK in named}
    assert with_accounted == expected_ingestion, sorted(with_accounted)
    not_blocking = sorted(key for key in with_accounted if not checks[key][ACCOUNTED_CHECK])
    assert not not_blocking, f"{ACCOUNTED_CHECK} shown as non-blocking on {not_blocking}"

    # dbt tests show up as checks on the marts the hot store serves.
    marts = {key for key in by_group["processing"] if key.startswith("marts/")}
    assert marts, sorted(by_group["processing"])
    assert all(checks[m] for m in marts), {m: sorted(checks[m]) for m in marts}
