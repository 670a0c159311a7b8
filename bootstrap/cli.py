"""The `s3logs` command line: a thin layer over functions that tests call directly.

Each command lives in the module that does its work; this file only assembles the group, and
imports a command's module only when that command runs (or `--help` lists them all), so that
`s3logs run` does not wait for the AWS SDK that `s3logs bootstrap` needs.
"""

from __future__ import annotations

import importlib

import click

from bootstrap import __version__

# name -> (module, attribute) of each click command or group, in the order `--help` lists them.
_COMMANDS: dict[str, tuple[str, str]] = {
    "parse": ("bootstrap.parse_cmd", "parse"),
    "bootstrap": ("bootstrap.cloud.cli", "bootstrap"),
    "load": ("bootstrap.loader", "load"),
    "run": ("bootstrap.pipeline", "run"),
    "demo-data": ("bootstrap.demo_data", "demo_data"),
    "compile-analysis": ("bootstrap.compile_analysis", "compile_analysis_cmd"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="s3logs")
def main() -> None:
    """AWS S3 server access logs: parse, load and set up ingestion into a warehouse.

    Typical local use: `s3logs demo-data`, `s3logs load`, then `dbt build`.
    """


if __name__ == "__main__":
    main()
