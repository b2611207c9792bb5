"""The run-failure sensor reports a failed run to the destination the environment declares: a line in a
log file, or a POST to a webhook (a real local HTTP server here), without data or passwords."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from dataops_assets.automation.monitoring import run_failure_sensor
from dataops_assets.environments.loader import load_environment
from dataops_assets.environments.model import FailureAlerts

REASON = "warehouse unreachable at postgresql://loader:hunter2@db.internal/warehouse"


@pytest.fixture(scope="module")
def failed_run():
    """A real failed run in a real (temporary) instance, and the sensor context Dagster would give."""

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2013-01-01"))
    def flaky():
        raise dg.Failure(REASON, allow_retries=False)

    with dg.instance_for_test() as instance:
        result = dg.materialize([flaky], partition_key="2013-01-02", instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        [failure] = [
            e.dagster_event
            for e in instance.all_logs(result.run_id)
            if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
        ]
        yield dg.build_run_status_sensor_context(
            sensor_name="report_failed_runs",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
        ).for_run_failure()


def _env(alerts: FailureAlerts):
    env = load_environment("staging")
    return env.model_copy(
        update={"reliability": env.reliability.model_copy(update={"failure_alerts": alerts})}
    )


def _assert_report(report: dict, context) -> None:
    assert report["run_id"] == context.dagster_run.run_id
    assert report["days"] == "2013-01-02"
    assert report["failed_steps"] == {"flaky": REASON.replace("hunter2", "***")}
    assert "hunter2" not in json.dumps(report)


def test_a_failed_run_is_appended_to_the_declared_log_file(failed_run, tmp_path, monkeypatch):
    monkeypatch.setenv("DATAOPS_DATA_DIR", str(tmp_path))
    sensor = run_failure_sensor(_env(FailureAlerts(log_file="alerts/failed-runs.jsonl")))
    sensor(failed_run)
    sensor(failed_run)  # each report is one whole line
    lines = (tmp_path / "alerts" / "failed-runs.jsonl").read_text().splitlines()
    assert len(lines) == 2
    _assert_report(json.loads(lines[0]), failed_run)


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 204

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def receiver():
    _Receiver.received, _Receiver.status = [], 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_failed_run_is_posted_to_the_webhook_named_by_a_secret(failed_run, receiver, monkeypatch):
    monkeypatch.setenv("DATAOPS_TEST_ALERT_URL", f"{receiver}/hooks/t0ken")
    sensor = run_failure_sensor(_env(FailureAlerts(webhook_url={"env": "DATAOPS_TEST_ALERT_URL"})))
    sensor(failed_run)
    [(path, content_type, report)] = _Receiver.received
    assert (path, content_type) == ("/hooks/t0ken", "application/json")
    _assert_report(report, failed_run)


def test_a_webhook_that_refuses_fails_the_tick_without_showing_its_url(failed_run, receiver, monkeypatch):
    _Receiver.status = 500
    monkeypatch.setenv("DATAOPS_TEST_ALERT_URL", f"{receiver}/hooks/t0ken")
    sensor = run_failure_sensor(_env(FailureAlerts(webhook_url={"env": "DATAOPS_TEST_ALERT_URL"})))
    with pytest.raises(
        RuntimeError, match=r"\$DATAOPS_TEST_ALERT_URL\) did not take the report: 500"
    ) as error:
        sensor(failed_run)
    assert "t0ken" not in str(error.value)


def test_a_missing_webhook_secret_names_the_variable(failed_run, monkeypatch):
    monkeypatch.delenv("DATAOPS_TEST_ALERT_URL", raising=False)
    sensor = run_failure_sensor(_env(FailureAlerts(webhook_url={"env": "DATAOPS_TEST_ALERT_URL"})))
    with pytest.raises(RuntimeError, match="DATAOPS_TEST_ALERT_URL is not set"):
        sensor(failed_run)


def test_environments_declare_one_destination_and_local_ones_none():
    assert run_failure_sensor(load_environment("sandbox")) is None
    assert load_environment("staging").reliability.failure_alerts.log_file
    assert (
        load_environment("production").reliability.failure_alerts.webhook_url.env
        == "DATAOPS_ALERT_WEBHOOK_URL"
    )
    with pytest.raises(ValueError, match="exactly one"):
        FailureAlerts(log_file="a.jsonl", webhook_url={"env": "X"})
