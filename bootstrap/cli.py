"""The `s3logs` command line: a thin layer over functions that tests call directly.

Each command lives in the module that does its work; this file only assembles the group.
"""

from __future__ import annotations

import importlib

import click

from bootstrap import __version__

# (module, attribute) of each click command or group, in the order `--help` lists them.
_COMMANDS: list[tuple[str, str]] = [
    ("bootstrap.parse_cmd", "parse"),
    ("bootstrap.cloud.cli", "bootstrap"),
    ("bootstrap.loader", "load"),
    ("bootstrap.pipeline", "run"),
    ("bootstrap.demo_data", "demo_data"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="s3logs")
def main() -> None:
    """AWS S3 server access logs: parse, load and set up ingestion into a warehouse.

    Typical local use: `s3logs demo-data`, `s3logs load`, then `dbt build`.
    """


for _module, _attr in _COMMANDS:
    main.add_command(getattr(importlib.import_module(_module), _attr))


if __name__ == "__main__":
    main()
