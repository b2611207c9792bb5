"""Running the platform's jobs in the Dagster instance, outside the web UI: the daily pipeline for a
window of days and an experiment, each as one recorded run. The CLI and the tests call these; the
CLI only parses arguments and prints what they return."""
