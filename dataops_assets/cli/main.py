"""The `dataops` command line. Every command exits 0 on success, non-zero with a one-line reason.

Each command group lives in its own module; this one only assembles them.
"""

from __future__ import annotations

import click

from dataops_assets.cli.archive_cmd import archive
from dataops_assets.cli.env_cmd import env
from dataops_assets.cli.experiment_cmd import experiment
from dataops_assets.cli.pipeline_cmd import pipeline
from dataops_assets.cli.serve_cmd import serve
from dataops_assets.cli.snapshot_cmd import snapshot
from dataops_assets.cli.source_cmd import source
from dataops_assets.cli.verify_cmd import verify


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dataops: ingestion -> cold raw storage -> dbt processing -> hot serving, on Dagster.

    The environment comes from DATAOPS_ENV (sandbox, testing, development, staging, production;
    default sandbox) and its file in environments/.
    """


for command in (pipeline, source, env, verify):
    main.add_command(command)
main.add_command(snapshot)
main.add_command(experiment)

main.add_command(serve)
main.add_command(archive)


if __name__ == "__main__":
    main()
