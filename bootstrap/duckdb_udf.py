"""The parser as a DuckDB function, registered on every dbt connection of the `local` target.

`s3logs_parse(raw varchar)` returns one STRUCT with every column of `parser.OUTPUT_COLUMNS`:
the same code the CLI runs and the Snowflake UDTF embeds. It is vectorised through Arrow
(DuckDB hands over a batch of lines, we hand back a batch of structs), which costs far less per
line than a row-at-a-time Python UDF.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from bootstrap.parser import COLUMN_TYPES, OUTPUT_COLUMNS, parse_row

FUNCTION_NAME = "s3logs_parse"

_ARROW_TYPES = {
    "varchar": pa.string(),
    "timestamp": pa.timestamp("us"),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
}
_FIELDS = [pa.field(name, _ARROW_TYPES[COLUMN_TYPES[name]]) for name in OUTPUT_COLUMNS]
_STRUCT_SQL = "STRUCT({})".format(
    ", ".join(f'"{name}" {COLUMN_TYPES[name].upper()}' for name in OUTPUT_COLUMNS)
)


def parse_batch(lines: pa.Array | pa.ChunkedArray) -> pa.StructArray:
    """Parse an Arrow array of lines into an Arrow struct array (one struct per line)."""
    rows = [parse_row(line) for line in lines.to_pylist()]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_FIELDS)
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, _FIELDS, strict=True)]
    return pa.StructArray.from_arrays(arrays, fields=_FIELDS)


def register(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the function `s3logs_parse` on a DuckDB connection."""
    conn.create_function(
        FUNCTION_NAME,
        parse_batch,
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype(_STRUCT_SQL),
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


try:
    from dbt.adapters.duckdb.plugins import BasePlugin
except ImportError:  # dbt-duckdb absent: the function is still usable from plain DuckDB
    BasePlugin = object  # type: ignore[assignment,misc]


class Plugin(BasePlugin):  # type: ignore[misc,valid-type]
    """dbt-duckdb plugin (`plugins: [{module: bootstrap.duckdb_udf}]` in profiles.yml)."""

    def configure_connection(self, conn: Any) -> None:
        register(conn)
